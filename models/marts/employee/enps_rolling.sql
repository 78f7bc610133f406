{#- Trailing 90- and 365-day eNPS per group, made of whole waves (see int_enps_rolling_groups),
    for programs that survey continuously. Suppressed groups show only their keys and
    `suppressed`. -#}

with

rolling_groups as (

    select * from {{ ref('int_enps_rolling_groups') }}

),

published as (

    select
        window_days,
        window_end,
        grouping,
        department,
        team,
        location,
        tenure_band,
        is_suppressed as suppressed,
        case when not is_suppressed then responses end as responses,
        cast(case when not is_suppressed then promoters end as bigint) as promoters,
        cast(case when not is_suppressed then passives end as bigint) as passives,
        cast(case when not is_suppressed then detractors end as bigint) as detractors

    from rolling_groups

),

final as (

    select
        *,
        {{ nps_score('detractors', 'passives', 'promoters') }} as enps,
        {{ nps_standard_error('detractors', 'passives', 'promoters') }} as enps_standard_error,
        {{ nps_wald_lower('detractors', 'passives', 'promoters') }} as enps_ci_lower,
        {{ nps_wald_upper('detractors', 'passives', 'promoters') }} as enps_ci_upper,
        {{ enps_min_group_size() }} as min_group_size

    from published

)

select * from final
