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

{% set batches = nps_latest_changes_batches() %}

{{
    config(
        materialized='incremental',
        incremental_strategy=nps_incremental_strategy(),
        partition_by=nps_partition_by('change_date'),
        on_schema_change='fail',
        pre_hook=[
            "{{ nps_create_incremental_state() }}",
            "{{ nps_create_reprocessed_days_log() }}",
            "{{ nps_stage_batches(nps_latest_changes_batches(), nps_latest_changes_ctes, 'changes') }}",
            "{{ nps_latest_changes_delete_recomputed_days() }}",
        ],
        post_hook=[
            "drop table if exists {{ nps_staged_batches_relation() }}",
            "{{ nps_record_processed() }}",
        ],
    )
}}

-- depends_on: {{ ref('int_nps_responses_sequenced') }}

with

{{ nps_latest_changes_ctes(batches[0]) }},

final as (

    select * from changes
    {%- if batches | length > 1 %}
    union all
    select * from {{ nps_staged_batches_relation() }}
    {%- endif %}

)

select * from final
