with

responses as (

    select * from {{ ref('fct_nps_responses') }}

),

daily as (

    select
        response_date,
        survey_id,
        branch_id,
        {{ any_value_of('branch_name') }} as branch_name,
        {{ any_value_of('district') }} as district,
        {{ any_value_of('region') }} as region,
        {{ any_value_of('country') }} as country,
        count(*) as responses,
        count(case when is_promoter then 1 end) as promoters,
        count(case when is_passive then 1 end) as passives,
        count(case when is_detractor then 1 end) as detractors

    from responses
    group by response_date, survey_id, branch_id

),

final as (

    select
        *,
        {{ nps('promoters', 'detractors', 'responses') }} as nps

    from daily

)

select * from final
