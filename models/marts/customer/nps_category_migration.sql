{#- How respondents move between categories from one period to the next (var
    nps_migration_period_types: month and quarter), per segment: for each respondent and segment,
    the category of their latest response in the period, compared with the same respondent's in
    the immediately preceding period of that segment.

    Shaped for cost (bench/README.md): only responses in a period next to another period of the
    same respondent are ranked and enter the segment fan-out, each once per pair of periods it
    is a side of; the latest response of a side is the smallest of integer keys (min, rolled up from branch
    grain to the hierarchy as nps_segment_rollup does), not a window over every response x
    segment, and both sides of a pair come out of the same aggregation.

    Incremental by period (macros/nps_periods.sql): a changed period changes the pairs it is the
    later side of (its own rows) and the earlier side of (the next period's rows), so a run
    recomputes both from the responses of those periods and the periods before them. Within a
    respondent's responses of a period type, the recency keys keep their order, which is all
    min() needs. -#}

{% set keys = nps_segment_key_columns() %}
{% set period_types = var('nps_migration_period_types') %}
{% set branch_columns = ['region', 'district', 'branch_id', 'branch_name'] %}
{% set side_columns = branch_columns + ['survey_id', 'touchpoint', 'channel', 'product'] %}
{# (side, the pair's later period, whether the response is that side of a pair) #}
{% set migration_sides = [
    ('later', 'period_start', 'follows_previous'),
    ('earlier', 'next_period_start', 'precedes_next'),
] %}
{# each hierarchy level with the branch columns it fills #}
{% set level_branch_columns = [
    ('all', []),
    ('region', ['region']),
    ('district', ['region', 'district']),
    ('branch', branch_columns),
] %}
{% set null_key = 'cast(null as ' ~ dbt.type_bigint() ~ ')' %}
{% set null_text = 'cast(null as ' ~ dbt.type_string() ~ ')' %}

{{
    config(
        materialized='incremental',
        incremental_strategy=nps_incremental_strategy(),
        partition_by=nps_partition_by('period_start'),
        on_schema_change='fail',
        pre_hook=[
            "{{ nps_create_incremental_state() }}",
            "{{ nps_create_reprocessed_days_log() }}",
            "{{ nps_delete_recomputed_periods(var('nps_migration_period_types'), with_next=true) }}",
        ],
        post_hook="{{ nps_record_processed() }}",
    )
}}

-- depends_on: {{ ref('int_nps_responses_aggregated') }}

with

responses as (

    select * from {{ ref('fct_nps_responses') }}
    where respondent_id is not null

),

period_types as (

    {{ nps_values_relation('period_type', period_types) }}

),

segment_types as (

    {{ nps_values_relation('segment_type', nps_segment_types()) }}

),

levels as (

    {{ nps_values_relation('hierarchy_level', nps_hierarchy_levels()) }}

),

read_responses as (

    select
        respondent_id,
        response_id,
        submitted_at,
        response_date,
        region,
        district,
        branch_id,
        branch_name,
        survey_id,
        coalesce(touchpoint, 'unknown') as touchpoint,
        coalesce(channel, 'unknown') as channel,
        coalesce(product, 'unknown') as product,
        case category
            when 'promoter' then 0
            when 'passive' then 1
            when 'detractor' then 2
        end as category_code

    from responses
    {%- if not nps_recomputes_all_periods(period_types) %}
    -- no period read starts before the first one
    where response_date >= (
        select min(starts.period_start)
        from ({{ nps_recomputed_period_starts(period_types, with_next=true, with_previous=true) }}) as starts
    )
    {%- endif %}

),

response_periods as (

    select
        read_responses.*,
        period_types.period_type,
        {{ nps_period_start_of(period_types, 'period_types.period_type', 'read_responses.response_date') }}
            as period_start

    from read_responses
    cross join period_types

),

read_response_periods as (

    -- the recomputed periods and the ones before them
    select * from response_periods
    where {{ nps_recomputed_periods_condition('period_start', period_types, with_next=true, with_previous=true) }}

),

respondent_periods as (

    select distinct
        respondent_id,
        period_type,
        period_start

    from read_response_periods

),

respondent_period_neighbours as (

    select
        respondent_id,
        period_type,
        period_start,
        {{ nps_shifted_period_start(period_types, 'period_type', -1, 'period_start') }} as previous_period_start,
        {{ nps_shifted_period_start(period_types, 'period_type', 1, 'period_start') }} as next_period_start,
        lag(period_start) over (
            partition by respondent_id, period_type
            order by period_start
        ) as earlier_period_start,
        lead(period_start) over (
            partition by respondent_id, period_type
            order by period_start
        ) as later_period_start

    from respondent_periods

),

migration_periods as (

    -- the respondent's periods that follow or precede another of theirs: a migration's two sides
    select
        respondent_id,
        period_type,
        period_start,
        next_period_start,
        coalesce(earlier_period_start = previous_period_start, false) as follows_previous,
        coalesce(later_period_start = next_period_start, false) as precedes_next

    from respondent_period_neighbours
    where
        earlier_period_start = previous_period_start
        or later_period_start = next_period_start

),

migration_responses as (

    -- only the responses on a side of a migration are ranked. Rank 1 = the respondent's latest;
    -- times 3 plus the category (decoded in migrations): within any set of one respondent's
    -- responses of a period type the smallest key is the latest response's and carries its
    -- category, so the fan-out only takes min() of integers
    select
        read_response_periods.respondent_id,
        read_response_periods.period_type,
        read_response_periods.period_start,
        read_response_periods.region,
        read_response_periods.district,
        read_response_periods.branch_id,
        read_response_periods.branch_name,
        read_response_periods.survey_id,
        read_response_periods.touchpoint,
        read_response_periods.channel,
        read_response_periods.product,
        migration_periods.next_period_start,
        migration_periods.follows_previous,
        migration_periods.precedes_next,
        row_number() over (
            partition by read_response_periods.respondent_id, read_response_periods.period_type
            order by read_response_periods.submitted_at desc, read_response_periods.response_id desc
        ) * 3
        + read_response_periods.category_code as recency_key

    from read_response_periods
    inner join migration_periods
        on
            read_response_periods.respondent_id = migration_periods.respondent_id
            and read_response_periods.period_type = migration_periods.period_type
            and read_response_periods.period_start = migration_periods.period_start

),

migration_sides as (

    -- a response is the later side of the pair ending in its period and the earlier side of the
    -- pair ending in the next one (where the respondent answered in those periods); period_start
    -- is the pair's later period
    {% for side, pair_start, is_side in migration_sides %}
        select
            respondent_id,
            period_type,
            {{ pair_start }} as period_start,
            {{ side_columns | join(',\n            ') }},
            {{ 'recency_key' if side == 'earlier' else null_key }} as earlier_recency_key,
            {{ 'recency_key' if side == 'later' else null_key }} as later_recency_key

        from migration_responses
        where
            {{ is_side }}
            -- the pairs of the recomputed periods only (the periods before are read as sides)
            and {{ nps_recomputed_periods_condition(pair_start, period_types, with_next=true) }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

latest_by_branch_segment as (

    -- each side's latest per respondent, pair of periods, branch and segment (x5 segment types)
    select
        migration_sides.respondent_id,
        migration_sides.period_type,
        migration_sides.period_start,
        migration_sides.region,
        migration_sides.district,
        migration_sides.branch_id,
        migration_sides.branch_name,
        segment_types.segment_type,
        case segment_types.segment_type
            when 'survey' then migration_sides.survey_id
            when 'touchpoint' then migration_sides.touchpoint
            when 'channel' then migration_sides.channel
            when 'product' then migration_sides.product
            else 'all'
        end as segment_value,
        min(migration_sides.earlier_recency_key) as earlier_recency_key,
        min(migration_sides.later_recency_key) as later_recency_key

    from migration_sides
    cross join segment_types
    group by 1, 2, 3, 4, 5, 6, 7, 8, 9

),

latest_by_district_segment as (

    -- up the hierarchy one level at a time (the latest of a node is the latest of its
    -- children's): fewer and narrower groups at each step than one x4 fan-out of the branch rows
    select
        respondent_id,
        period_type,
        period_start,
        region,
        district,
        segment_type,
        segment_value,
        min(earlier_recency_key) as earlier_recency_key,
        min(later_recency_key) as later_recency_key

    from latest_by_branch_segment
    group by 1, 2, 3, 4, 5, 6, 7

),

latest_by_region_segment as (

    select
        respondent_id,
        period_type,
        period_start,
        region,
        segment_type,
        segment_value,
        min(earlier_recency_key) as earlier_recency_key,
        min(later_recency_key) as later_recency_key

    from latest_by_district_segment
    group by 1, 2, 3, 4, 5, 6

),

latest_by_all_segment as (

    select
        respondent_id,
        period_type,
        period_start,
        segment_type,
        segment_value,
        min(earlier_recency_key) as earlier_recency_key,
        min(later_recency_key) as later_recency_key

    from latest_by_region_segment
    group by 1, 2, 3, 4, 5

),

latest_by_segment as (

    -- every level's rows, the branch columns below the level null
    {% for level, filled in level_branch_columns %}
        select
            respondent_id,
            period_type,
            period_start,
            '{{ level }}' as hierarchy_level,
            {% for column in branch_columns %}
                {{ column if column in filled else null_text }} as {{ column }},
            {% endfor %}
            segment_type,
            segment_value,
            earlier_recency_key,
            later_recency_key

        from latest_by_{{ level }}_segment
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

migrations as (

    -- respondents who answered in the segment on both sides of the pair
    select
        period_type,
        {{ nps_shifted_period_start(period_types, 'period_type', -1, 'period_start') }} as previous_period_start,
        period_start,
        {{ keys | join(',\n        ') }},
        case earlier_recency_key % 3
            when 0 then 'promoter'
            when 1 then 'passive'
            when 2 then 'detractor'
        end as from_category,
        case later_recency_key % 3
            when 0 then 'promoter'
            when 1 then 'passive'
            when 2 then 'detractor'
        end as to_category,
        count(*) as respondents

    from latest_by_segment
    where
        earlier_recency_key is not null
        and later_recency_key is not null
        and hierarchy_level in (select levels.hierarchy_level from levels)
    group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12

),

final as (

    select
        *,
        cast(sum(respondents) over (
            partition by period_type, period_start, {{ keys | join(', ') }}, from_category
        ) as bigint) as from_category_respondents

    from migrations

)

select * from final
