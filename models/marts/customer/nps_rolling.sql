{#- Trailing-window NPS for every calendar day and every segment, in two variants:
    all_responses          every response in the window;
    latest_per_respondent  only each respondent's latest response in the window.
    Both are running sums of daily changes over a dense day x segment grid: a response enters the
    all_responses window of W days on its day and leaves it W days later; the latest-per-
    respondent changes come from int_nps_latest_changes_rolled_up. The previous (adjacent)
    window's counts on day D are the counts on D - W, i.e. the same changes shifted by W days.
    So the cost grows with days x segments x windows; no response is joined to the days of its
    window. The heavy part runs on an integer segment_id; the key columns are joined back last. -#}

{% set keys = nps_segment_key_columns() %}

with

segment_days as (

    select * from {{ ref('int_nps_segment_days_rolled_up') }}

),

latest_changes as (

    select * from {{ ref('int_nps_latest_changes_rolled_up') }}

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
        max(response_date) as last_date

    from segment_days

),

calendar as (

    {{ nps_day_spine('(select first_date from bounds)', '(select last_date from bounds)') }}

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

grid_rows as (

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

    union all

    -- the previous window's counts on day D are this window's counts on D - window_days
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

    union all

    -- a zero row for every day, window, variant and segment, so days without responses exist
    select
        segments.segment_id,
        calendar.calendar_date,
        windows.window_days,
        variants.variant_id,
        0 as promoters_change,
        0 as passives_change,
        0 as detractors_change,
        0 as previous_promoters_change,
        0 as previous_passives_change,
        0 as previous_detractors_change

    from segments
    cross join calendar
    cross join windows
    cross join variants

),

daily_changes as (

    select
        segment_id,
        calendar_date,
        window_days,
        variant_id,
        sum(promoters_change) as promoters_change,
        sum(passives_change) as passives_change,
        sum(detractors_change) as detractors_change,
        sum(previous_promoters_change) as previous_promoters_change,
        sum(previous_passives_change) as previous_passives_change,
        sum(previous_detractors_change) as previous_detractors_change

    from grid_rows
    where calendar_date <= (select bounds.last_date from bounds)
    group by 1, 2, 3, 4

),

windowed as (

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

    from daily_changes
    window running_sum as (
        partition by segment_id, window_days, variant_id
        order by calendar_date
        rows between unbounded preceding and current row
    )

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
