{#- One row per respondent (responses without respondent_id cannot be tied to anyone and are left
    out): first and last response, how many, and where they stand now. -#}

with

responses as (

    select * from {{ ref('fct_nps_responses') }}
    where respondent_id is not null

),

ranked as (

    select
        *,
        row_number() over (
            partition by respondent_id
            order by submitted_at desc, response_id desc
        ) as recency_rank

    from responses

),

summarised as (

    select
        respondent_id,
        min(submitted_at) as first_response_at,
        max(submitted_at) as last_response_at,
        min(response_date) as first_response_date,
        max(response_date) as last_response_date,
        count(*) as response_count,
        count(distinct survey_id) as survey_count,
        count(distinct branch_id) as branch_count

    from responses
    group by 1

),

latest as (

    select * from ranked
    where recency_rank = 1

),

final as (

    select
        summarised.respondent_id,
        summarised.first_response_at,
        summarised.last_response_at,
        summarised.first_response_date,
        summarised.last_response_date,
        summarised.response_count,
        summarised.survey_count,
        summarised.branch_count,
        latest.response_id as latest_response_id,
        latest.score as latest_score,
        latest.category as latest_category,
        latest.survey_id as latest_survey_id,
        latest.branch_id as latest_branch_id,
        latest.region as latest_region

    from summarised
    inner join latest
        on summarised.respondent_id = latest.respondent_id

)

select * from final
