{#- Daily counts of every segment (hierarchy level x segment type, see macros/nps_segments.sql);
    only days on which the segment had responses. Incremental by day: the days
    int_nps_responses_aggregated reprocessed (macros/nps_incremental.sql). -#}

{{
    config(
        materialized='incremental',
        incremental_strategy=nps_incremental_strategy(),
        partition_by=nps_partition_by('response_date'),
        unique_key='response_date',
        on_schema_change='fail',
        pre_hook=[
            "{{ nps_create_incremental_state() }}",
            "{{ nps_create_reprocessed_days_log() }}",
            "{{ nps_delete_upstream_days('response_date', 'int_nps_responses_aggregated') }}",
        ],
        post_hook="{{ nps_record_processed() }}",
    )
}}

with

aggregated as (

    select * from {{ ref('int_nps_responses_aggregated') }}
    {%- if is_incremental() %}
    where response_date in ({{ nps_upstream_days('int_nps_responses_aggregated') }})
    {%- endif %}

),

{{ nps_segment_rollup_ctes(
    'rolled_up',
    'aggregated',
    ['response_date'],
    ['responses', 'promoters', 'passives', 'detractors'],
) }},

final as (

    select * from rolled_up

)

select * from final
