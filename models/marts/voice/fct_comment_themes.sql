{#- Incremental by day as int_comment_themes_tagged (macros/nps_incremental_marts.sql): a run
    replaces the days it reprocesses, or every day when the tagging changed. -#}

{{
    config(
        materialized='incremental',
        incremental_strategy=nps_incremental_strategy(),
        partition_by=nps_partition_by('response_date'),
        unique_key='response_date',
        on_schema_change='fail',
        pre_hook=[
            "{{ nps_create_incremental_state() }}",
            "{{ create_theme_tagging_state() }}",
            "{{ nps_create_rebuilt_from_log() }}",
            "{{ nps_log_rebuilt_from(nps_first_reprocessed_day(theme_tagging_changed())) }}",
            "{{ delete_retagged_days() }}",
        ],
        post_hook=[
            "{{ nps_record_processed() }}",
            "{{ record_theme_tagging_version() }}",
        ],
    )
}}

-- depends_on: {{ ref('int_nps_responses_validated') }}

with

responses as (

    select * from {{ ref('fct_nps_responses') }}
    {{ nps_retagged_days_filter('response_date') }}

),

tagged as (

    select * from {{ ref('int_comment_themes_tagged') }}
    {{ nps_retagged_days_filter('response_date') }}

),

final as (

    select
        tagged.response_id,
        tagged.theme,
        responses.survey_id,
        responses.program,
        responses.submitted_at,
        responses.response_date,
        responses.score,
        responses.category,
        responses.is_promoter,
        responses.is_passive,
        responses.is_detractor,
        responses.branch_id,
        responses.branch_name,
        responses.district,
        responses.region,
        responses.country,
        responses.channel,
        responses.touchpoint,
        responses.product,
        responses.language,
        {{ comment_text('responses.comment') }} as comment

    from tagged
    inner join responses
        on tagged.response_id = responses.response_id

)

select * from final
