{#- eNPS per survey wave and group, for HR and managers. A suppressed group (fewer than k
    responses, or hidden so that no hidden group can be derived by subtraction) shows only its
    keys, its headcount and `suppressed`. -#}

with

wave_groups as (

    select * from {{ ref('int_enps_wave_groups') }}

),

headcount as (

    select * from {{ ref('department_headcount') }}

),

snapshots as (

    -- the headcount in force at the end of each wave: the latest as_of on or before it, else the
    -- earliest one
    select
        wave_groups.survey_wave,
        coalesce(
            max(case when headcount.as_of <= wave_groups.wave_ended_on then headcount.as_of end),
            min(headcount.as_of)
        ) as as_of

    from wave_groups
    cross join headcount
    where wave_groups.grouping = 'all'
    group by wave_groups.survey_wave

),

headcount_in_force as (

    select
        snapshots.survey_wave,
        headcount.department,
        headcount.team,
        headcount.location,
        headcount.headcount

    from snapshots
    inner join headcount
        on snapshots.as_of = headcount.as_of

),

group_headcount as (

    {{ enps_group_headcount('headcount_in_force', ['survey_wave']) }}

),

published as (

    -- what a reader may see: the counts of visible groups only
    select
        wave_groups.survey_wave,
        wave_groups.wave_started_at,
        wave_groups.grouping,
        wave_groups.department,
        wave_groups.team,
        wave_groups.location,
        wave_groups.tenure_band,
        wave_groups.cell_id,
        wave_groups.is_suppressed as suppressed,
        case when not wave_groups.is_suppressed then wave_groups.responses end as responses,
        cast(case when not wave_groups.is_suppressed then wave_groups.promoters end as bigint) as promoters,
        cast(case when not wave_groups.is_suppressed then wave_groups.passives end as bigint) as passives,
        cast(case when not wave_groups.is_suppressed then wave_groups.detractors end as bigint) as detractors,
        cast(group_headcount.headcount as bigint) as headcount

    from wave_groups
    left join group_headcount
        on
            wave_groups.survey_wave = group_headcount.survey_wave
            and wave_groups.grouping = group_headcount.grouping
            and coalesce(wave_groups.department, '') = coalesce(group_headcount.department, '')
            and coalesce(wave_groups.team, '') = coalesce(group_headcount.team, '')
            and coalesce(wave_groups.location, '') = coalesce(group_headcount.location, '')

),

with_previous as (

    -- every group has a row in every wave, so the previous row is the previous wave
    select
        *,
        lag(survey_wave) over (
            partition by cell_id order by wave_started_at, survey_wave
        ) as previous_survey_wave,
        lag(promoters) over (
            partition by cell_id order by wave_started_at, survey_wave
        ) as previous_promoters,
        lag(passives) over (
            partition by cell_id order by wave_started_at, survey_wave
        ) as previous_passives,
        lag(detractors) over (
            partition by cell_id order by wave_started_at, survey_wave
        ) as previous_detractors

    from published

),

final as (

    select
        survey_wave,
        grouping,
        department,
        team,
        location,
        tenure_band,
        suppressed,
        responses,
        promoters,
        passives,
        detractors,
        {{ nps_score('detractors', 'passives', 'promoters') }} as enps,
        {{ nps_standard_error('detractors', 'passives', 'promoters') }} as enps_standard_error,
        {{ nps_wald_lower('detractors', 'passives', 'promoters') }} as enps_ci_lower,
        {{ nps_wald_upper('detractors', 'passives', 'promoters') }} as enps_ci_upper,
        headcount,
        case
            when headcount > 0 then {{ nps_double('responses') }} / headcount
        end as participation_rate,
        previous_survey_wave,
        case
            when not suppressed
                then {{ nps_score('previous_detractors', 'previous_passives', 'previous_promoters') }}
        end as previous_enps,
        {{ nps_score('detractors', 'passives', 'promoters') }}
        - {{ nps_score('previous_detractors', 'previous_passives', 'previous_promoters') }}
            as enps_change,
        {{ nps_change_z(
            'previous_detractors', 'previous_passives', 'previous_promoters',
            'detractors', 'passives', 'promoters'
        ) }} as enps_change_z,
        {{ nps_significant_change(nps_change_z(
            'previous_detractors', 'previous_passives', 'previous_promoters',
            'detractors', 'passives', 'promoters'
        )) }} as significant_change,
        {{ enps_min_group_size() }} as min_group_size

    from with_previous

)

select * from final
