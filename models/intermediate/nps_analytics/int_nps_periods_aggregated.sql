{#- Counts per period (var nps_period_types: day, ISO week, month, quarter, year) and segment,
    summed from the daily segment counts. Incremental by period (macros/nps_periods.sql): a run
    recomputes the periods holding a day int_nps_responses_aggregated reprocessed, from the
    daily counts of those periods only. -#}

{% set period_types = var('nps_period_types') %}
{% set recomputed = nps_recomputed_periods_condition('period_start', period_types) %}

{{
    config(
        materialized='incremental',
        incremental_strategy=nps_incremental_strategy(),
        partition_by=nps_partition_by('period_start'),
        on_schema_change='fail',
        pre_hook=[
            "{{ nps_create_incremental_state() }}",
            "{{ nps_create_reprocessed_days_log() }}",
            "{{ nps_delete_recomputed_periods(var('nps_period_types')) }}",
        ],
        post_hook="{{ nps_record_processed() }}",
    )
}}

-- depends_on: {{ ref('int_nps_responses_aggregated') }}

with

segment_days as (

    select * from {{ ref('int_nps_segment_days_rolled_up') }}
    {%- if not nps_recomputes_all_periods(period_types) %}
    -- no recomputed period starts before the first recomputed start
    where response_date >= (
        select min(starts.period_start) from ({{ nps_recomputed_period_starts(period_types) }}) as starts
    )
    {%- endif %}

),

period_types as (

    {{ nps_values_relation('period_type', period_types) }}

),

day_periods as (

    select
        period_types.period_type,
        {{ nps_period_start_of(period_types, 'period_types.period_type', 'segment_days.response_date') }}
            as period_start,
        segment_days.*

    from segment_days
    cross join period_types

),

recomputed_day_periods as (

    select * from day_periods
    where {{ recomputed }}

),

periods as (

    select
        period_type,
        period_start,
        hierarchy_level,
        region,
        district,
        branch_id,
        branch_name,
        segment_type,
        segment_value,
        cast(sum(responses) as {{ dbt.type_bigint() }}) as responses,
        cast(sum(promoters) as {{ dbt.type_bigint() }}) as promoters,
        cast(sum(passives) as {{ dbt.type_bigint() }}) as passives,
        cast(sum(detractors) as {{ dbt.type_bigint() }}) as detractors

    from recomputed_day_periods
    group by 1, 2, 3, 4, 5, 6, 7, 8, 9

),

final as (

    select * from periods

)

select * from final
