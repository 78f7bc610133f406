{#- The CTEs of nps_category_migration (see the model for what it computes and how it is shaped
    for cost) for one batch (nps_migration_batches), the last one `migrations`: respondents per
    pair of periods, segment, from_category and to_category among the batch's respondents. -#}
{% macro nps_category_migration_ctes(batch) %}

{% set keys = nps_segment_key_columns() %}
{% set period_types = var('nps_migration_period_types') %}
{% set branch_columns = ['region', 'district', 'branch_id', 'branch_name'] %}
{#- once per render: on an incremental run it queries the built table's period types -#}
{% set recomputes_all_periods = nps_recomputes_all_periods(period_types) %}
{#- a respondent's responses of a period type, latest first -#}
{% set respondent_recency -%}
    partition by read_response_periods.respondent_id, read_response_periods.period_type
    order by read_response_periods.submitted_at desc, read_response_periods.response_id desc
{%- endset %}

responses as (

    select * from {{ ref('fct_nps_responses') }}
    where respondent_id is not null

),

period_types as (

    {{ nps_values_relation('period_type', [batch.period_type] if batch else period_types) }}

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
    where
        {{ nps_migration_batch_read_condition(batch, period_types) }}
        {%- if not recomputes_all_periods %}
        -- no period read starts before the first one
        and response_date >= (
            select min(starts.period_start)
            from ({{ nps_recomputed_period_starts(period_types, with_next=true, with_previous=true) }}) as starts
        )
        {%- endif %}

),

response_periods {{ not_materialized() }} (

    select
        read_responses.*,
        period_types.period_type,
        {{ nps_period_start_of(period_types, 'period_types.period_type', 'read_responses.response_date') }}
            as period_start

    from read_responses
    cross join period_types

),

read_response_periods {{ not_materialized() }} (

    -- the recomputed periods and the ones before them (read twice: streamed from the facts each
    -- time rather than every response written out per period type)
    select * from response_periods
    where {{ nps_recomputed_periods_condition('period_start', period_types, with_next=true, with_previous=true) }}

),

{%- if not recomputes_all_periods %}

recomputed_respondents as (

    -- only a respondent who answered in a recomputed pair's later period can be on a side of
    -- it: the others' responses in the periods before are read, not ranked (a 10m new day:
    -- 2.4M respondent periods enter the neighbours' window instead of 5.7M, 6.4 s -> 5.4 s)
    select distinct
        respondent_id,
        period_type

    from read_response_periods
    where {{ nps_recomputed_periods_condition('period_start', period_types, with_next=true) }}

),
{%- endif %}

respondent_periods as (

    select
        respondent_id,
        period_type,
        period_start,
        count(*) as responses

    from read_response_periods
    {%- if not recomputes_all_periods %}
    where exists (
        select 1 from recomputed_respondents
        where
            recomputed_respondents.respondent_id = read_response_periods.respondent_id
            and recomputed_respondents.period_type = read_response_periods.period_type
    )
    {%- endif %}
    group by 1, 2, 3

),

respondent_period_neighbours as (

    select
        respondent_id,
        period_type,
        period_start,
        responses,
        {{ nps_shifted_period_start(period_types, 'period_type', -1, 'period_start') }} as previous_period_start,
        {{ nps_shifted_period_start(period_types, 'period_type', 1, 'period_start') }} as next_period_start,
        lag(period_start) over (
            partition by respondent_id, period_type
            order by period_start
        ) as earlier_period_start,
        lead(period_start) over (
            partition by respondent_id, period_type
            order by period_start
        ) as later_period_start,
        lag(responses) over (
            partition by respondent_id, period_type
            order by period_start
        ) as earlier_period_responses,
        lead(responses) over (
            partition by respondent_id, period_type
            order by period_start
        ) as later_period_responses

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
        coalesce(later_period_start = next_period_start, false) as precedes_next,
        -- a pair with one response on each side: its migration is that response pair's
        coalesce(
            earlier_period_start = previous_period_start
            and responses = 1
            and earlier_period_responses = 1,
            false
        ) as ends_single_pair,
        coalesce(
            later_period_start = next_period_start
            and responses = 1
            and later_period_responses = 1,
            false
        ) as starts_single_pair

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
        migration_periods.ends_single_pair,
        migration_periods.starts_single_pair,
        read_response_periods.category_code,
        row_number() over ({{ respondent_recency }}) * 3
        + read_response_periods.category_code as recency_key,
        -- the respondent's response before this one: in a single pair, the earlier side's
        lead(read_response_periods.region) over ({{ respondent_recency }}) as earlier_region,
        lead(read_response_periods.district) over ({{ respondent_recency }}) as earlier_district,
        lead(read_response_periods.branch_id) over ({{ respondent_recency }}) as earlier_branch_id,
        lead(read_response_periods.branch_name) over ({{ respondent_recency }}) as earlier_branch_name,
        lead(read_response_periods.survey_id) over ({{ respondent_recency }}) as earlier_survey_id,
        lead(read_response_periods.touchpoint) over ({{ respondent_recency }}) as earlier_touchpoint,
        lead(read_response_periods.channel) over ({{ respondent_recency }}) as earlier_channel,
        lead(read_response_periods.product) over ({{ respondent_recency }}) as earlier_product,
        lead(read_response_periods.category_code) over ({{ respondent_recency }})
            as earlier_category_code

    from read_response_periods
    inner join migration_periods
        on
            read_response_periods.respondent_id = migration_periods.respondent_id
            and read_response_periods.period_type = migration_periods.period_type
            and read_response_periods.period_start = migration_periods.period_start

),

sides as (

    {{ nps_values_relation('side', ['later', 'earlier']) }}

),

response_sides as (

    -- a response is the later side of the pair ending in its period and the earlier side of the
    -- pair ending in the next one (where the respondent answered in those periods); period_start
    -- is the pair's later period. One pass over migration_responses with the sides crossed in,
    -- not one select per side: DuckDB would write every ranked response out to read it twice
    select
        migration_responses.respondent_id,
        migration_responses.period_type,
        case sides.side
            when 'later' then migration_responses.period_start
            else migration_responses.next_period_start
        end as period_start,
        migration_responses.region,
        migration_responses.district,
        migration_responses.branch_id,
        migration_responses.branch_name,
        migration_responses.survey_id,
        migration_responses.touchpoint,
        migration_responses.channel,
        migration_responses.product,
        case when sides.side = 'earlier' then migration_responses.recency_key end
            as earlier_recency_key,
        case when sides.side = 'later' then migration_responses.recency_key end
            as later_recency_key

    from migration_responses
    inner join sides
        on
            (
                sides.side = 'later'
                and migration_responses.follows_previous
                and not migration_responses.ends_single_pair
            )
            or (
                sides.side = 'earlier'
                and migration_responses.precedes_next
                and not migration_responses.starts_single_pair
            )

),

migration_sides as (

    -- the pairs of the recomputed periods only (the periods before are read as sides)
    select * from response_sides
    where
        {{ nps_recomputed_periods_condition('period_start', period_types, with_next=true) }}
        and {{ nps_migration_batch_pair_condition(batch, 'period_start') }}

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
        {{ nps_segment_value_of('segment_types.segment_type', 'migration_sides.') }} as segment_value,
        min(migration_sides.earlier_recency_key) as earlier_recency_key,
        min(migration_sides.later_recency_key) as later_recency_key

    from migration_sides
    cross join segment_types
    group by 1, 2, 3, 4, 5, 6, 7, 8, 9

),

{#- up the hierarchy one level at a time: the latest of a node is the latest of its children's #}
{{ nps_hierarchy_rollup_ctes(
    'latest_by_segment',
    'latest_by_branch_segment',
    ['respondent_id', 'period_type', 'period_start'],
    ['earlier_recency_key', 'later_recency_key'],
    'min',
) }},

complex_pairs as (

    -- respondents who answered in the segment on both sides of the pair
    select
        period_type,
        period_start,
        {{ keys | join(',\n        ') }},
        earlier_recency_key % 3 as from_category_code,
        later_recency_key % 3 as to_category_code

    from latest_by_segment
    where
        earlier_recency_key is not null
        and later_recency_key is not null
        and hierarchy_level in (select levels.hierarchy_level from levels)

),

single_pairs as (

    -- a pair with one response on each side (most pairs) needs no ranking: it counts in every
    -- hierarchy node and segment that both responses are in
    select
        migration_responses.period_type,
        migration_responses.period_start,
        levels.hierarchy_level,
        {% for column in branch_columns %}
            {{ nps_level_column_of('levels.hierarchy_level', column, 'migration_responses.') }}
                as {{ column }},
        {% endfor %}
        segment_types.segment_type,
        {{ nps_segment_value_of('segment_types.segment_type', 'migration_responses.') }} as segment_value,
        migration_responses.earlier_category_code as from_category_code,
        migration_responses.category_code as to_category_code

    from migration_responses
    cross join levels
    cross join segment_types
    where
        migration_responses.ends_single_pair
        and {{ nps_recomputed_periods_condition('migration_responses.period_start', period_types, with_next=true) }}
        and {{ nps_migration_batch_pair_condition(batch, 'migration_responses.period_start') }}
        {% for column in branch_columns %}
            and {{ nps_null_safe_equal(
                nps_level_column_of('levels.hierarchy_level', column, 'migration_responses.'),
                nps_level_column_of('levels.hierarchy_level', column, 'migration_responses.earlier_'),
            ) }}
        {% endfor %}
        and {{ nps_null_safe_equal(
            nps_segment_value_of('segment_types.segment_type', 'migration_responses.'),
            nps_segment_value_of('segment_types.segment_type', 'migration_responses.earlier_'),
        ) }}

),

pair_migrations as (

    select * from complex_pairs
    union all
    select * from single_pairs

),

migrations as (

    select
        period_type,
        {{ nps_shifted_period_start(period_types, 'period_type', -1, 'period_start') }} as previous_period_start,
        period_start,
        {{ keys | join(',\n        ') }},
        case from_category_code
            when 0 then 'promoter'
            when 1 then 'passive'
            when 2 then 'detractor'
        end as from_category,
        case to_category_code
            when 0 then 'promoter'
            when 1 then 'passive'
            when 2 then 'detractor'
        end as to_category,
        count(*) as respondents

    from pair_migrations
    group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12

)

{% endmacro %}


{#- The batches nps_category_migration is built in: [none] (one query for everything) unless the
    model recomputes every period of more than var nps_migration_batch_responses responses x
    period types. Then each batch is one period type's run of consecutive pairs of periods
    (period_type; first, end: the later period of its first pair and of the next batch's, none at
    either end) whose responses, with the period before the first, stay within that number (a
    batch has one pair at least). Pairs are independent of each other, so their rows are the
    same; what a batch holds (ranked responses, the per-respondent fan-out, DuckDB's spill) is
    bounded by the batch, not by the history: at 100M responses one query for everything spilled
    more than the disk had (bench/README.md). On DuckDB and PostgreSQL; Spark builds it in one
    query. The model's query and its pre-hook each ask, before the model writes anything, so
    they agree. -#}
{% macro nps_migration_batches(period_types) %}
    {%- set limit = var('nps_migration_batch_responses') | int -%}
    {%- if not execute or model.resource_type == 'unit_test' or target.type not in ('duckdb', 'postgres')
        or not nps_warehouse.nps_recomputes_all_periods(period_types) -%}
        {{ return([none]) }}
    {%- endif -%}
    {%- set facts = ref('fct_nps_responses') -%}
    {%- if adapter.get_relation(facts.database, facts.schema, facts.identifier) is none -%}
        {{ return([none]) }}  {#- compiled before the facts were ever built #}
    {%- endif -%}
    {%- set counted -%}
        select
            period_types.period_type,
            {{ nps_warehouse.nps_period_start_of(period_types, 'period_types.period_type', 'responses.response_date') }}
                as period_start,
            count(*) as responses
        from {{ facts }} as responses
        cross join ({{ nps_warehouse.nps_values_relation('period_type', period_types) }}) as period_types
        where responses.respondent_id is not null
        group by 1, 2
        order by 1, 2
    {%- endset -%}
    {%- set periods = run_query(counted).rows -%}
    {%- if (periods | sum(attribute='responses')) <= limit -%}
        {{ return([none]) }}
    {%- endif -%}
    {%- set batches = [] -%}
    {%- for period_type in period_types -%}
        {%- set runs = nps_warehouse.nps_runs_of_rows(
            periods | selectattr('period_type', 'equalto', period_type) | list,
            'period_start', 'responses', limit, with_previous=true,
        ) -%}
        {%- for run in runs -%}
            {%- do batches.append({
                'period_type': period_type, 'first': run.first, 'end': run.end, 'responses': run.weight,
            }) -%}
        {%- endfor -%}
    {%- endfor -%}
    {#- a batch of one pair still above the limit (a quarter pair of a large history) is split by
        respondent: each bucket's respondents' migrations are counted apart and summed -#}
    {%- set split = [] -%}
    {%- for batch in batches -%}
        {%- set buckets = ((batch.responses + limit - 1) // limit) if batch.responses > limit else 1 -%}
        {%- for bucket in range(buckets) -%}
            {%- do split.append(dict(batch, bucket=bucket, buckets=buckets)) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(split or [none]) }}
{% endmacro %}


{#- The responses a batch reads: those of its pairs' periods and of the period before its first
    pair (the earlier side), of its bucket's respondents. -#}
{% macro nps_migration_batch_read_condition(batch, period_types) -%}
    {%- set conditions = nps_warehouse.nps_batch_range_conditions(
        batch, 'response_date',
        first=nps_warehouse.nps_shifted_period_start(
            period_types, "'" ~ batch.period_type ~ "'", -1, "cast('" ~ batch.first ~ "' as date)"
        ) if batch and batch.first,
    ) -%}
    {%- if batch and batch.buckets > 1 -%}
        {%- do conditions.append(
            nps_warehouse.nps_hash_bucket('respondent_id', batch.buckets) ~ ' = ' ~ batch.bucket
        ) -%}
    {%- endif -%}
    {{ nps_warehouse.nps_all_of(conditions) }}
{%- endmacro %}


{#- The pairs a batch computes: `column` is the pair's later period. -#}
{% macro nps_migration_batch_pair_condition(batch, column) -%}
    {{ nps_warehouse.nps_all_of(nps_warehouse.nps_batch_range_conditions(batch, column)) }}
{%- endmacro %}
