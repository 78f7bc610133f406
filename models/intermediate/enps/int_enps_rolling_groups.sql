{#- Every group (see enps_group_frame) for every trailing window (var enps_rolling_windows, 90 and
    365 days) ending on the last day of each month in which a wave ended, with its TRUE counts and
    the suppression decision of that window. people_restricted; enps_rolling publishes it.

    Windows are made of whole waves: a wave is in a window when its last response day is. So a
    window's counts are sums of wave counts, and a group hidden in any of its waves is hidden in
    the window too (before complementary suppression within the window): a 365-day total minus
    visible waves can then never give a hidden wave's count, and a window never cuts a wave into
    smaller slices than the waves publish. Programs that survey continuously name their waves by
    period (e.g. 2025-07), which makes the windows trailing months. -#}

{{ config(post_hook="{{ drop_suppression_rounds() }}") }}

{#- the CTEs up to the cells and edges are also handed to the suppression macro: on Spark it
    runs its rounds as separate statements over them -#}
{%- set suppression_inputs %}
with

responses as (

    select * from {{ ref('int_enps_responses_categorised') }}

),

headcount as (

    select * from {{ ref('department_headcount') }}

),

wave_groups as (

    select * from {{ ref('int_enps_wave_groups') }}

),

waves as (

    select distinct
        survey_wave,
        wave_ended_on

    from wave_groups

),

window_lengths as (

    {{ enps_window_lengths() }}

),

window_ends as (

    select distinct
        cast({{ dbt.last_day('wave_ended_on', 'month') }} as date) as window_end

    from waves

),

windows as (

    select
        window_lengths.window_days,
        window_ends.window_end,
        cast({{ dbt.dateadd('day', '-window_lengths.window_days', 'window_ends.window_end') }} as date)
            as window_start_exclusive

    from window_lengths
    cross join window_ends

),

windows_waves as (

    select
        windows.window_days,
        windows.window_end,
        waves.survey_wave

    from windows
    inner join waves
        on
            windows.window_start_exclusive < waves.wave_ended_on
            and windows.window_end >= waves.wave_ended_on

),

windowed_responses as (

    select
        windows_waves.window_days,
        windows_waves.window_end,
        responses.*

    from windows_waves
    inner join responses
        on windows_waves.survey_wave = responses.survey_wave

),

hidden_in_a_wave as (

    select distinct
        windows_waves.window_days,
        windows_waves.window_end,
        wave_groups.cell_id

    from windows_waves
    inner join wave_groups
        on windows_waves.survey_wave = wave_groups.survey_wave
    where wave_groups.is_suppressed

),

frame as (

    {{ enps_group_frame('responses', 'headcount') }}

),

counts as (

    {{ enps_group_counts('windowed_responses', ['window_days', 'window_end']) }}

),

cells as (

    select
        windows.window_days,
        windows.window_end,
        frame.grouping,
        frame.department,
        frame.team,
        frame.location,
        frame.tenure_band,
        {{ enps_cell_id('frame.') }} as cell_id,
        coalesce(counts.responses, 0) as responses,
        coalesce(counts.promoters, 0) as promoters,
        coalesce(counts.passives, 0) as passives,
        coalesce(counts.detractors, 0) as detractors,
        hidden_in_a_wave.cell_id is not null as is_hidden_in_a_wave

    from windows
    cross join frame
    left join counts
        on
            windows.window_days = counts.window_days
            and windows.window_end = counts.window_end
            and frame.grouping = counts.grouping
            and coalesce(frame.department, '') = coalesce(counts.department, '')
            and coalesce(frame.team, '') = coalesce(counts.team, '')
            and coalesce(frame.location, '') = coalesce(counts.location, '')
            and coalesce(frame.tenure_band, '') = coalesce(counts.tenure_band, '')
    left join hidden_in_a_wave
        on
            windows.window_days = hidden_in_a_wave.window_days
            and windows.window_end = hidden_in_a_wave.window_end
            and {{ enps_cell_id('frame.') }} = hidden_in_a_wave.cell_id

),

edges as (

    {{ enps_group_edges('frame') }}

)
{%- endset %}

{{ suppression_inputs }},

{{ complementary_suppression_ctes(
    'cells', 'edges', ['window_days', 'window_end'], enps_min_group_size(),
    forced_column='is_hidden_in_a_wave',
    inputs=suppression_inputs,
) }},

final as (

    select
        cells.*,
        suppression_final.is_primary_suppressed,
        suppression_final.is_suppressed,
        suppression_final.suppression_resolved

    from cells
    inner join suppression_final
        on
            cells.window_days = suppression_final.window_days
            and cells.window_end = suppression_final.window_end
            and cells.cell_id = suppression_final.cell_id

)

select * from final
