{#- One row per accepted response x theme its comment mentions (see macros/themes.sql).
    Incremental by day (macros/nps_incremental.sql): a run tags the days it reprocesses, or
    every day when the tagging changed (theme_tagging_changed). -#}

{{
    config(
        materialized='incremental',
        incremental_strategy=nps_incremental_strategy(),
        partition_by=nps_partition_by('response_date'),
        unique_key='response_date',
        on_schema_change='sync_all_columns',
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

{%- do nps_partition_range() %}  {#- fail early on malformed partition vars #}

-- depends_on: {{ ref('int_nps_responses_validated') }}

with

responses as (

    select * from {{ ref('int_nps_responses_categorised') }}
    {%- if is_incremental() and not theme_tagging_changed() %}
    where response_date in ({{ nps_reprocessed_days() }})
    {%- endif %}

),

tagged as (

    {{ theme_matches('responses', theme_keyword_rows(ref('themes')), carried=['response_date']) }}

),

final as (

    select
        response_id,
        theme,
        response_date

    from tagged

)

select * from final
