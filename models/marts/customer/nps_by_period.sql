{#- NPS per period (day, ISO week, month, quarter, year) and segment, with its statistics and the
    change from the immediately preceding period of the same segment. -#}

{% set keys = nps_segment_key_columns() %}

with

periods as (

    select * from {{ ref('int_nps_periods_aggregated') }}

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
        case
            {% for period_type in var('nps_period_types') %}
                when period_type = '{{ period_type }}'
                    then {{ add_periods(period_type, 1, 'period_start') }}
            {% endfor %}
        end as next_period_start,
        case
            {% for period_type in var('nps_period_types') %}
                when period_type = '{{ period_type }}'
                    then {{ add_periods(period_type, -1, 'period_start') }}
            {% endfor %}
        end as previous_period_start

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

)

select * from final
