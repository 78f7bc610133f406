{#- One row per respondent (responses without respondent_id cannot be tied to anyone and are left
    out): first and last response, how many, and where they stand now.

    Incremental by respondent (macros/nps_incremental_marts.sql): a run recomputes the
    respondents the reprocessed days can have changed, from all their facts, and replaces their
    rows; a post-hook removes those left without any fact. Built in full on Spark. -#}

{{
    config(
        materialized=nps_incremental_or_table(),
        incremental_strategy=nps_incremental_strategy(),
        unique_key='respondent_id',
        on_schema_change='fail',
        pre_hook="{{ nps_create_incremental_state() }}",
        post_hook=[
            "{{ nps_delete_respondents_without_facts(ref('fct_nps_responses')) }}",
            "{{ nps_record_processed() }}",
        ],
    )
}}

-- depends_on: {{ ref('int_nps_responses_validated') }}

with

responses {{ not_materialized() }} (

    select * from {{ ref('fct_nps_responses') }}
    where
        respondent_id is not null
    {%- if is_incremental() %}
        and respondent_id in ({{ nps_recomputed_respondents(ref('fct_nps_responses')) }})
    {%- endif %}

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
