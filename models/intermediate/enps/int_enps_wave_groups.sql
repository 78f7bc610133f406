{#- Every group of every wave (see enps_group_frame: groups with no responses included) with its
    TRUE counts and the suppression decision. Holds the counts of suppressed groups, so it stays
    in people_restricted; enps_by_wave publishes it with the suppressed values removed. -#}

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

waves as (

    select
        survey_wave,
        min(submitted_at) as wave_started_at,
        max(response_date) as wave_ended_on

    from responses
    group by survey_wave

),

frame as (

    {{ enps_group_frame('responses', 'headcount') }}

),

counts as (

    {{ enps_group_counts('responses', ['survey_wave']) }}

),

cells as (

    select
        waves.survey_wave,
        waves.wave_started_at,
        waves.wave_ended_on,
        frame.grouping,
        frame.department,
        frame.team,
        frame.location,
        frame.tenure_band,
        {{ enps_cell_id('frame.') }} as cell_id,
        coalesce(counts.responses, 0) as responses,
        coalesce(counts.promoters, 0) as promoters,
        coalesce(counts.passives, 0) as passives,
        coalesce(counts.detractors, 0) as detractors

    from waves
    cross join frame
    left join counts
        on
            waves.survey_wave = counts.survey_wave
            and frame.grouping = counts.grouping
            and coalesce(frame.department, '') = coalesce(counts.department, '')
            and coalesce(frame.team, '') = coalesce(counts.team, '')
            and coalesce(frame.location, '') = coalesce(counts.location, '')
            and coalesce(frame.tenure_band, '') = coalesce(counts.tenure_band, '')

),

edges as (

    {{ enps_group_edges('frame') }}

)
{%- endset %}

{{ suppression_inputs }},

{{ complementary_suppression_ctes(
    'cells', 'edges', ['survey_wave'], enps_min_group_size(), inputs=suppression_inputs,
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
            cells.survey_wave = suppression_final.survey_wave
            and cells.cell_id = suppression_final.cell_id

)

select * from final
