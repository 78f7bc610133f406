{#- Counts per period (var nps_period_types: day, ISO week, month, quarter, year) and segment,
    summed from the daily segment counts. -#}

with

segment_days as (

    select * from {{ ref('int_nps_segment_days_rolled_up') }}

),

period_types as (

    {{ nps_values_relation('period_type', var('nps_period_types')) }}

),

periods as (

    select
        period_types.period_type,
        case
            {% for period_type in var('nps_period_types') %}
                when period_types.period_type = '{{ period_type }}'
                    then cast({{ dbt.date_trunc(period_type, 'segment_days.response_date') }} as date)
            {% endfor %}
        end as period_start,
        segment_days.hierarchy_level,
        segment_days.region,
        segment_days.district,
        segment_days.branch_id,
        segment_days.branch_name,
        segment_days.segment_type,
        segment_days.segment_value,
        cast(sum(segment_days.responses) as {{ dbt.type_bigint() }}) as responses,
        cast(sum(segment_days.promoters) as {{ dbt.type_bigint() }}) as promoters,
        cast(sum(segment_days.passives) as {{ dbt.type_bigint() }}) as passives,
        cast(sum(segment_days.detractors) as {{ dbt.type_bigint() }}) as detractors

    from segment_days
    cross join period_types
    group by 1, 2, 3, 4, 5, 6, 7, 8, 9

),

final as (

    select * from periods

)

select * from final
