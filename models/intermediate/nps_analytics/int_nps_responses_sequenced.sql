{#- Each response with its respondent's next answer, for "latest response per respondent".
    A respondent without respondent_id is one respondent per response (nothing ties them). Of
    several answers on one day only the last (by submitted_at, then response_id) is the day's
    latest; next_response_date is the respondent's next day with an answer.

    Incremental by respondent: a changed day (macros/nps_incremental.sql, the days
    int_nps_responses_aggregated reprocessed) can change the sequence of every respondent who
    answered on it, before or after the change, so those respondents' rows are recomputed from
    all their responses and replace their old rows (delete+insert on respondent_key). A
    post-hook removes the old rows left on a changed day by respondents with no response left. -#}

{% set respondent_key = "coalesce(respondent_id, 'response:' || response_id)" %}
{% set upstream_days = nps_upstream_days('int_nps_responses_aggregated') %}
{#- the row is its respondent's last of the day: the next one (by day and time) is another day's -#}
{% set day_latest = 'coalesce(following_response_date <> response_date, true)' %}

{{
    config(
        materialized='incremental',
        incremental_strategy=nps_incremental_strategy(),
        partition_by=nps_partition_by('response_date'),
        unique_key='respondent_key',
        on_schema_change='fail',
        pre_hook=[
            "{{ nps_create_incremental_state() }}",
            "{{ nps_create_reprocessed_days_log() }}",
        ],
        post_hook=[
            "{{ nps_delete_unreplaced_rows('response_date', 'int_nps_responses_aggregated') }}",
            "{{ nps_record_processed() }}",
        ],
    )
}}

-- depends_on: {{ ref('int_nps_responses_aggregated') }}

with

responses as (

    select * from {{ ref('fct_nps_responses') }}
    {%- if is_incremental() %}
    where {{ respondent_key }} in (
        select {{ respondent_key }}
        from {{ ref('fct_nps_responses') }}
        where response_date in ({{ upstream_days }})
        union
        select previous.respondent_key
        from {{ this }} as previous
        where previous.response_date in ({{ upstream_days }})
    )
    {%- endif %}

),

keyed as (

    -- in each respondent's responses by day and time, a day's latest response is its last row,
    -- and the row after it is their next day's first: one window gives both (no self-join)
    select
        response_id,
        {{ respondent_key }} as respondent_key,
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
        lead(response_date) over (
            partition by {{ respondent_key }}
            order by response_date, submitted_at, response_id
        ) as following_response_date

    from responses

),

sequenced as (

    select
        response_id,
        respondent_key,
        submitted_at,
        response_date,
        region,
        district,
        branch_id,
        branch_name,
        survey_id,
        touchpoint,
        channel,
        product,
        is_promoter,
        is_passive,
        is_detractor,
        {{ day_latest }} as is_day_latest,
        {{ nps_processed_at() }} as _processed_at,
        case when {{ day_latest }} then following_response_date end as next_response_date

    from keyed

),

final as (

    -- where whole days (partitions) are overwritten, other respondents' rows are written again
    {{ nps_with_kept_rows('sequenced', 'response_date', ['respondent_key'], upstream_days) }}

)

select * from final
