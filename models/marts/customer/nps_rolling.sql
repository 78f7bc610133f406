{#- Trailing-window NPS for every calendar day and every segment, in two variants:
    all_responses          every response in the window;
    latest_per_respondent  only each respondent's latest response in the window.
    Both are running sums of daily changes over a dense day x segment grid: a response enters the
    all_responses window of W days on its day and leaves it W days later; the latest-per-
    respondent changes come from int_nps_latest_changes_rolled_up. The previous (adjacent)
    window's counts on day D are the counts on D - W, i.e. the same changes shifted by W days.
    So the cost grows with days x segments x windows; no response is joined to the days of its
    window. The heavy part runs on an integer segment_id; the key columns are joined back last.

    Incremental: a change on day d moves the counts of days >= d only, so a run recomputes the
    days from the first recomputed day F (macros/nps_incremental.sql) on, starting the running
    sums from the counts kept on F - 1 (the previous window's too: they are the counts of
    F - 1 - W); it needs the changes dated F - W on (daily counts from F - 2W on). A segment new
    in this run gets its zero rows for the kept days. Each run logs the first day it writes
    (nps_log_rebuilt_from), so its GX suite validates only those rows. -#}

{% set keys = nps_segment_key_columns() %}
{% set max_window = var('nps_rolling_windows') | max %}
{% set first_recomputed_day = nps_rolling_first_recomputed_day() %}

{{
    config(
        materialized='incremental',
        incremental_strategy=nps_incremental_strategy(),
        partition_by=nps_partition_by('calendar_date'),
        on_schema_change='fail',
        pre_hook=[
            "{{ nps_create_incremental_state() }}",
            "{{ nps_create_reprocessed_days_log() }}",
            "{{ nps_create_rebuilt_from_log() }}",
            "{{ nps_log_rebuilt_from(nps_rolling_first_written_day()) }}",
            "{{ nps_rolling_delete_recomputed_days() }}",
        ],
        post_hook="{{ nps_record_processed() }}",
    )
}}

with

segment_days as (

    select * from {{ ref('int_nps_segment_days_rolled_up') }}

),

latest_changes as (

    select * from {{ ref('int_nps_latest_changes_rolled_up') }}
    {%- if first_recomputed_day %}
    -- a window's changes dated F - window_days or before reach no recomputed day (change_rows)
    where change_date > cast({{ dbt.dateadd('day', '-window_days', first_recomputed_day) }} as date)
    {%- endif %}

),

windows as (

    {{ nps_values_relation('window_days', var('nps_rolling_windows')) }}

),

variants as (

    {{ nps_values_relation('variant_id', [0, 1]) }}

),

bounds as (

    select
        min(response_date) as first_date,
        max(response_date) as last_date,
        greatest(min(response_date), {{ first_recomputed_day or 'min(response_date)' }}) as first_recomputed_date

    from segment_days

),

calendar as (

    {{ nps_day_spine(
        '(select first_recomputed_date from bounds)',
        '(select last_date from bounds)',
    ) }}

),

distinct_segments as (

    select distinct
        {{ keys | join(',\n        ') }},
        {{ nps_segment_key() }} as segment_key

    from segment_days

),

segments as (

    select
        *,
        row_number() over (order by segment_key) as segment_id

    from distinct_segments

),

segment_day_counts as (

    select
        segments.segment_id,
        segment_days.response_date,
        segment_days.promoters,
        segment_days.passives,
        segment_days.detractors

    from segment_days
    inner join segments
        on {{ nps_segment_key('segment_days.') }} = segments.segment_key
    {%- if first_recomputed_day %}
    where
        segment_days.response_date >= cast({{ dbt.dateadd(
            'day', -2 * max_window, first_recomputed_day
        ) }} as date)
    {%- endif %}

),

changes as (

    -- all_responses (variant 0): a response enters the window on its day ...
    select
        segment_day_counts.segment_id,
        segment_day_counts.response_date as calendar_date,
        windows.window_days,
        0 as variant_id,
        segment_day_counts.promoters as promoters_change,
        segment_day_counts.passives as passives_change,
        segment_day_counts.detractors as detractors_change

    from segment_day_counts
    cross join windows
    {%- if first_recomputed_day %}
    -- (as for the latest changes: an entry on F - window_days or before reaches no recomputed day)
    where
        segment_day_counts.response_date
        > cast({{ dbt.dateadd('day', '-windows.window_days', first_recomputed_day) }} as date)
    {%- endif %}

    union all

    -- ... and leaves it window_days later
    select
        segment_day_counts.segment_id,
        cast({{ dbt.dateadd('day', 'windows.window_days', 'segment_day_counts.response_date') }} as date)
            as calendar_date,
        windows.window_days,
        0 as variant_id,
        -segment_day_counts.promoters as promoters_change,
        -segment_day_counts.passives as passives_change,
        -segment_day_counts.detractors as detractors_change

    from segment_day_counts
    cross join windows
    {%- if first_recomputed_day %}
    where
        segment_day_counts.response_date
        > cast({{ dbt.dateadd('day', '-2 * windows.window_days', first_recomputed_day) }} as date)
    {%- endif %}

    union all

    -- latest_per_respondent (variant 1)
    select
        segments.segment_id,
        latest_changes.change_date as calendar_date,
        latest_changes.window_days,
        1 as variant_id,
        latest_changes.promoters_change,
        latest_changes.passives_change,
        latest_changes.detractors_change

    from latest_changes
    inner join segments
        on {{ nps_segment_key('latest_changes.') }} = segments.segment_key

),

{%- if first_recomputed_day %}

kept_counts as (

    -- the counts on the day before the recomputed days, where the running sums start from
    select
        segments.segment_id,
        kept.window_days,
        case kept.variant when 'all_responses' then 0 else 1 end as variant_id,
        kept.promoters,
        kept.passives,
        kept.detractors

    from {{ this }} as kept
    inner join segments
        on {{ nps_segment_key('kept.') }} = segments.segment_key
    where kept.calendar_date = cast({{ dbt.dateadd('day', -1, first_recomputed_day) }} as date)

),

new_segments as (

    select segments.segment_id
    from segments
    where not exists (
        select 1
        from kept_counts
        where kept_counts.segment_id = segments.segment_id
    )

),

kept_calendar as (

    {{ nps_day_spine(
        '(select first_date from bounds)',
        'cast(' ~ dbt.dateadd('day', -1, '(select first_recomputed_date from bounds)') ~ ' as date)',
    ) }}

),
{%- endif %}

change_rows as (

    select
        segment_id,
        calendar_date,
        window_days,
        variant_id,
        promoters_change,
        passives_change,
        detractors_change,
        0 as previous_promoters_change,
        0 as previous_passives_change,
        0 as previous_detractors_change

    from changes
    {%- if first_recomputed_day %}
    where calendar_date >= (select bounds.first_recomputed_date from bounds)
    {%- endif %}

    union all

    -- the previous window's counts on day D are this window's counts on D - window_days: the
    -- changes shifted by window_days; those landing on the first recomputed day F or before
    -- are in its starting count (below)
    select
        segment_id,
        cast({{ dbt.dateadd('day', 'window_days', 'calendar_date') }} as date) as calendar_date,
        window_days,
        variant_id,
        0 as promoters_change,
        0 as passives_change,
        0 as detractors_change,
        promoters_change as previous_promoters_change,
        passives_change as previous_passives_change,
        detractors_change as previous_detractors_change

    from changes
    {%- if first_recomputed_day %}
    where
        cast({{ dbt.dateadd('day', 'window_days', 'calendar_date') }} as date)
        > (select bounds.first_recomputed_date from bounds)

    union all

    -- starting counts on F: the counts kept on F - 1; the previous window's are those minus
    -- the changes of the last window_days - 1 days before F
    select
        segment_id,
        (select bounds.first_recomputed_date from bounds) as calendar_date,
        window_days,
        variant_id,
        promoters as promoters_change,
        passives as passives_change,
        detractors as detractors_change,
        promoters as previous_promoters_change,
        passives as previous_passives_change,
        detractors as previous_detractors_change

    from kept_counts

    union all

    select
        segment_id,
        (select bounds.first_recomputed_date from bounds) as calendar_date,
        window_days,
        variant_id,
        0 as promoters_change,
        0 as passives_change,
        0 as detractors_change,
        -promoters_change as previous_promoters_change,
        -passives_change as previous_passives_change,
        -detractors_change as previous_detractors_change

    from changes
    where
        calendar_date < (select bounds.first_recomputed_date from bounds)
        and cast({{ dbt.dateadd('day', 'window_days', 'calendar_date') }} as date)
        > (select bounds.first_recomputed_date from bounds)
    {%- endif %}

),

daily_changes as (

    select
        segment_id,
        calendar_date,
        window_days,
        variant_id,
        -- integer: the window below buffers every row, and a sum of bigints is 16 bytes wide
        cast(sum(promoters_change) as integer) as promoters_change,
        cast(sum(passives_change) as integer) as passives_change,
        cast(sum(detractors_change) as integer) as detractors_change,
        cast(sum(previous_promoters_change) as integer) as previous_promoters_change,
        cast(sum(previous_passives_change) as integer) as previous_passives_change,
        cast(sum(previous_detractors_change) as integer) as previous_detractors_change

    from change_rows
    where calendar_date <= (select bounds.last_date from bounds)
    group by 1, 2, 3, 4

),

dense_changes as (

    -- every day, window, variant and segment, so days without responses exist: the grid is
    -- left-joined to the days with changes, so only the changes are grouped above
    select
        segments.segment_id,
        calendar.calendar_date,
        windows.window_days,
        variants.variant_id,
        coalesce(daily_changes.promoters_change, 0) as promoters_change,
        coalesce(daily_changes.passives_change, 0) as passives_change,
        coalesce(daily_changes.detractors_change, 0) as detractors_change,
        coalesce(daily_changes.previous_promoters_change, 0) as previous_promoters_change,
        coalesce(daily_changes.previous_passives_change, 0) as previous_passives_change,
        coalesce(daily_changes.previous_detractors_change, 0) as previous_detractors_change

    from segments
    cross join calendar
    cross join windows
    cross join variants
    left join daily_changes
        on
            segments.segment_id = daily_changes.segment_id
            and calendar.calendar_date = daily_changes.calendar_date
            and windows.window_days = daily_changes.window_days
            and variants.variant_id = daily_changes.variant_id

),

running_sums as (

    select
        segment_id,
        calendar_date,
        window_days,
        variant_id,
        cast(sum(promoters_change) over running_sum as {{ dbt.type_bigint() }}) as promoters,
        cast(sum(passives_change) over running_sum as {{ dbt.type_bigint() }}) as passives,
        cast(sum(detractors_change) over running_sum as {{ dbt.type_bigint() }}) as detractors,
        cast(sum(previous_promoters_change) over running_sum as {{ dbt.type_bigint() }}) as previous_promoters,
        cast(sum(previous_passives_change) over running_sum as {{ dbt.type_bigint() }}) as previous_passives,
        cast(sum(previous_detractors_change) over running_sum as {{ dbt.type_bigint() }}) as previous_detractors

    from dense_changes
    window running_sum as (
        partition by segment_id, window_days, variant_id
        order by calendar_date
        rows between unbounded preceding and current row
    )

),

windowed as (

    select * from running_sums
    {%- if first_recomputed_day %}

    union all

    -- a segment new in this run: zero rows for the kept days
    select
        new_segments.segment_id,
        kept_calendar.calendar_date,
        windows.window_days,
        variants.variant_id,
        0 as promoters,
        0 as passives,
        0 as detractors,
        0 as previous_promoters,
        0 as previous_passives,
        0 as previous_detractors

    from new_segments
    cross join kept_calendar
    cross join windows
    cross join variants
    {%- endif %}

),

measured as (

    select
        windowed.calendar_date,
        windowed.window_days,
        cast({{ dbt.dateadd('day', '1 - windowed.window_days', 'windowed.calendar_date') }} as date)
            as window_start_date,
        case windowed.variant_id when 0 then 'all_responses' else 'latest_per_respondent' end as variant,
        {{ 'segments.' ~ keys | join(',\n        segments.') }},
        {{ nps_statistics_measures(
            'windowed.detractors',
            'windowed.passives',
            'windowed.promoters',
            'windowed.previous_detractors',
            'windowed.previous_passives',
            'windowed.previous_promoters',
        ) }}

    from windowed
    inner join segments
        on windowed.segment_id = segments.segment_id

),

final as (

    select
        calendar_date,
        window_days,
        window_start_date,
        variant,
        {{ keys | join(',\n        ') }},
        {{ nps_statistics_from_measures(with_previous=true) }}

    from measured

)

select * from final
