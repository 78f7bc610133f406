{#- Daily counts at the finest segment grain: day x branch x survey x touchpoint x channel x
    product. Everything in the NPS analytics marts is summed from here (or from its roll-up). -#}

with

responses as (

    select * from {{ ref('fct_nps_responses') }}

),

aggregated as (

    select
        response_date,
        region,
        district,
        branch_id,
        branch_name,
        survey_id,
        coalesce(touchpoint, 'unknown') as touchpoint,
        coalesce(channel, 'unknown') as channel,
        coalesce(product, 'unknown') as product,
        count(*) as responses,
        count(case when is_promoter then 1 end) as promoters,
        count(case when is_passive then 1 end) as passives,
        count(case when is_detractor then 1 end) as detractors

    from responses
    group by 1, 2, 3, 4, 5, 6, 7, 8, 9

),

final as (

    select * from aggregated

)

select * from final
