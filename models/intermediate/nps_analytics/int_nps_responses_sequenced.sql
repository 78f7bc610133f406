{#- Each response with its respondent's next answer, for "latest response per respondent".
    A respondent without respondent_id is one respondent per response (nothing ties them). Of
    several answers on one day only the last (by submitted_at, then response_id) is the day's
    latest; next_response_date is the respondent's next day with an answer. -#}

with

responses as (

    select * from {{ ref('fct_nps_responses') }}

),

keyed as (

    select
        response_id,
        coalesce(respondent_id, 'response:' || response_id) as respondent_key,
        submitted_at,
        response_date,
        region,
        district,
        branch_id,
        branch_name,
        survey_id,
        coalesce(touchpoint, 'unknown') as touchpoint,
        coalesce(channel, 'unknown') as channel,
        coalesce(product, 'unknown') as product,
        is_promoter,
        is_passive,
        is_detractor,
        row_number() over (
            partition by coalesce(respondent_id, 'response:' || response_id), response_date
            order by submitted_at desc, response_id desc
        ) = 1 as is_day_latest

    from responses

),

day_latest as (

    select
        response_id,
        lead(response_date) over (
            partition by respondent_key
            order by response_date
        ) as next_response_date

    from keyed
    where is_day_latest

),

final as (

    select
        keyed.*,
        day_latest.next_response_date

    from keyed
    left join day_latest
        on keyed.response_id = day_latest.response_id

)

select * from final
