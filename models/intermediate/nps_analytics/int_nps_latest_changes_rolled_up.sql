{#- "Latest response per respondent" windows as daily changes, so nps_rolling gets them with a
    running sum over days instead of joining each day to every response in its window.

    A respondent's day-latest response r counts in the trailing window of W days ending on day D
    exactly when r.response_date <= D < least(r.response_date + W, r.next_response_date): it is
    then in the window and no later answer of the respondent is. So r adds +1 (to its category)
    on its response_date and -1 on that end date; per segment, window and day these changes are
    summed here, and the running sum of the changes up to D is the window's count on D.

    Only the changes dated up to the newest response day are kept: no later day has a window
    count (nps_rolling ends there), and the exits of a year of responses, up to a year ahead,
    would otherwise be recomputed by every run that adds a day.

    Incremental: a response changed on day d (or a respondent's answer added or removed there)
    only moves changes dated d or later: its own, and the -1 of the respondent's previous
    answer, which ended at d at the earliest. So a run recomputes the changes dated from the
    first day int_nps_responses_aggregated reprocessed (macros/nps_incremental.sql) on, or from
    the day after the last one it holds if that is earlier (the days added since), from the
    responses of the longest window before that day on. -#}

{% set window_end = 'cast(' ~ dbt.dateadd('day', 'windows.window_days', 'day_latest.response_date') ~ ' as date)' %}
{% set first_recomputed_day = nps_latest_changes_first_day() or 'cast(null as date)' %}

{{
    config(
        materialized='incremental',
        incremental_strategy=nps_incremental_strategy(),
        partition_by=nps_partition_by('change_date'),
        on_schema_change='fail',
        pre_hook=[
            "{{ nps_create_incremental_state() }}",
            "{{ nps_create_reprocessed_days_log() }}",
            "{{ nps_latest_changes_delete_recomputed_days() }}",
        ],
        post_hook="{{ nps_record_processed() }}",
    )
}}

with

sequenced as (

    select * from {{ ref('int_nps_responses_sequenced') }}
    {%- if is_incremental() %}
    where response_date >= cast({{ dbt.dateadd(
        'day', -(var('nps_rolling_windows') | max), first_recomputed_day
    ) }} as date)
    {%- endif %}

),

newest_day as (

    select max(response_date) as response_date
    from {{ ref('int_nps_responses_sequenced') }}

),

windows as (

    {{ nps_values_relation('window_days', var('nps_rolling_windows')) }}

),

day_latest as (

    select
        *,
        case when is_promoter then 1 else 0 end as promoter,
        case when is_passive then 1 else 0 end as passive,
        case when is_detractor then 1 else 0 end as detractor

    from sequenced
    where is_day_latest

),

edges as (

    select
        day_latest.response_date as change_date,
        windows.window_days,
        day_latest.region,
        day_latest.district,
        day_latest.branch_id,
        day_latest.branch_name,
        day_latest.survey_id,
        day_latest.touchpoint,
        day_latest.channel,
        day_latest.product,
        day_latest.promoter as promoters_change,
        day_latest.passive as passives_change,
        day_latest.detractor as detractors_change

    from day_latest
    cross join windows

    union all

    select
        case
            when day_latest.next_response_date < {{ window_end }} then day_latest.next_response_date
            else {{ window_end }}
        end as change_date,
        windows.window_days,
        day_latest.region,
        day_latest.district,
        day_latest.branch_id,
        day_latest.branch_name,
        day_latest.survey_id,
        day_latest.touchpoint,
        day_latest.channel,
        day_latest.product,
        -day_latest.promoter as promoters_change,
        -day_latest.passive as passives_change,
        -day_latest.detractor as detractors_change

    from day_latest
    cross join windows

),

edges_aggregated as (

    select
        change_date,
        window_days,
        region,
        district,
        branch_id,
        branch_name,
        survey_id,
        touchpoint,
        channel,
        product,
        sum(promoters_change) as promoters_change,
        sum(passives_change) as passives_change,
        sum(detractors_change) as detractors_change

    from edges
    where
        change_date <= (select newest_day.response_date from newest_day)
    {%- if is_incremental() %}
        and change_date >= {{ first_recomputed_day }}
    {%- endif %}
    group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10

),

rolled_up as (

    {{ nps_segment_rollup(
        'edges_aggregated',
        ['change_date', 'window_days'],
        ['promoters_change', 'passives_change', 'detractors_change'],
    ) }}

),

final as (

    select * from rolled_up
    -- +1 and -1 on the same day and segment cancel out: nothing to carry
    where promoters_change <> 0 or passives_change <> 0 or detractors_change <> 0

)

select * from final
