{#- The themes of each tagged response as one text, for marts that show a comment with its themes.
    Incremental by day as int_comment_themes_tagged (macros/nps_incremental_marts.sql): a run
    lists the days it reprocesses, or every day when the tagging changed. -#}

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

-- depends_on: {{ ref('int_nps_responses_validated') }}

with

tagged as (

    select * from {{ ref('int_comment_themes_tagged') }}
    {{ nps_retagged_days_filter('response_date') }}

),

listed as (

    select
        response_id,
        count(*) as theme_count,
        {{ dbt.listagg('theme', "', '", 'order by theme') }} as themes,
        response_date

    from tagged
    group by response_id, response_date

)

select * from listed
