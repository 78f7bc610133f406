{#- NPS per period (day, ISO week, month, quarter, year) and segment, with its statistics and the
    change from the immediately preceding period of the same segment. Incremental by period
    (macros/nps_periods.sql): a changed period changes its own row and the next period's
    previous values, so a run recomputes both, reading the periods before them too. -#}

{% set keys = nps_segment_key_columns() %}
{% set period_types = var('nps_period_types') %}

{{
    config(
        materialized='incremental',
        incremental_strategy=nps_incremental_strategy(),
        partition_by=nps_partition_by('period_start'),
        on_schema_change='fail',
        pre_hook=[
            "{{ nps_create_incremental_state() }}",
            "{{ nps_create_reprocessed_days_log() }}",
            "{{ nps_delete_recomputed_periods(var('nps_period_types'), with_next=true) }}",
        ],
        post_hook="{{ nps_record_processed() }}",
    )
}}

-- depends_on: {{ ref('int_nps_responses_aggregated') }}

with

periods as (

    select * from {{ ref('int_nps_periods_aggregated') }}
    where {{ nps_recomputed_periods_condition('period_start', period_types, with_next=true, with_previous=true) }}

),

with_previous as (

    select
        *,
        lag(period_start) over by_segment as lagged_period_start,
        lag(promoters) over by_segment as lagged_promoters,
        lag(passives) over by_segment as lagged_passives,
        lag(detractors) over by_segment as lagged_detractors

    from periods
    window by_segment as (
        partition by period_type, {{ keys | join(', ') }}
        order by period_start
    )

),

bounded as (

    select
        *,
        {{ nps_shifted_period_start(period_types, 'period_type', 1, 'period_start') }} as next_period_start,
        {{ nps_shifted_period_start(period_types, 'period_type', -1, 'period_start') }} as previous_period_start

    from with_previous

),

previous_matched as (

    -- a segment without responses in the preceding period has no previous values
    select
        *,
        case when lagged_period_start = previous_period_start then lagged_promoters end as previous_promoters,
        case when lagged_period_start = previous_period_start then lagged_passives end as previous_passives,
        case when lagged_period_start = previous_period_start then lagged_detractors end as previous_detractors

    from bounded

),

measured as (

    select
        period_type,
        period_start,
        cast({{ dbt.dateadd('day', -1, 'next_period_start') }} as date) as period_end,
        {{ keys | join(',\n        ') }},
        {{ nps_statistics_measures(
            previous_detractors='previous_detractors',
            previous_passives='previous_passives',
            previous_promoters='previous_promoters',
        ) }}

    from previous_matched

),

final as (

    select
        period_type,
        period_start,
        period_end,
        {{ keys | join(',\n        ') }},
        {{ nps_statistics_from_measures(with_previous=true) }}

    from measured
    -- the periods read only as the previous ones of the recomputed periods
    where {{ nps_recomputed_periods_condition('period_start', period_types, with_next=true) }}

)

select * from final
