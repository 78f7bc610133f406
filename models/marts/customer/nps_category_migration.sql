{#- How respondents move between categories from one period to the next (var
    nps_migration_period_types: month and quarter), per segment: for each respondent and segment,
    the category of their latest response in the period, compared with the same respondent's in
    the immediately preceding period of that segment.

    Shaped for cost (bench/README.md): only responses in a period next to another period of the
    same respondent are ranked and enter the segment fan-out, each once per pair of periods it
    is a side of; the latest response of a side is the smallest of integer keys (min, rolled up from branch
    grain up the hierarchy by nps_hierarchy_rollup_ctes), not a window over every response x
    segment, and both sides of a pair come out of the same aggregation. A pair with one response
    on each side (most pairs) skips the per-respondent aggregation: it counts in every segment
    both responses are in.

    Incremental by period (macros/nps_periods.sql): a changed period changes the pairs it is the
    later side of (its own rows) and the earlier side of (the next period's rows), so a run
    recomputes both from the responses of those periods and the periods before them. Within a
    respondent's responses of a period type, the recency keys keep their order, which is all
    min() needs.

    Built in batches of pairs of periods when it recomputes every period of a large history
    (macros/nps_category_migration.sql: the query, nps_migration_batches; macros/nps_batches.sql):
    this query is the first batch and appends the others, which its pre-hook computed one at a
    time. -#}

{% set batches = nps_migration_batches(var('nps_migration_period_types')) %}
{#- the batches are staged before the recomputed periods are deleted: the pre-hook then plans
    them from the table as this query found it -#}

{{
    config(
        materialized='incremental',
        incremental_strategy=nps_incremental_strategy(),
        partition_by=nps_partition_by('period_start'),
        on_schema_change='fail',
        pre_hook=[
            "{{ nps_create_incremental_state() }}",
            "{{ nps_create_reprocessed_days_log() }}",
            "{{ nps_stage_batches(
                nps_migration_batches(var('nps_migration_period_types')),
                nps_category_migration_ctes,
                'migrations',
            ) }}",
            "{{ nps_delete_recomputed_periods(var('nps_migration_period_types'), with_next=true) }}",
        ],
        post_hook=[
            "drop table if exists {{ nps_staged_batches_relation() }}",
            "{{ nps_record_processed() }}",
        ],
    )
}}

-- depends_on: {{ ref('int_nps_responses_aggregated') }}
-- depends_on: {{ ref('fct_nps_responses') }}

{% set keys = nps_segment_key_columns() %}

with

{{ nps_category_migration_ctes(batches[0]) }},

batch_migrations as (

    select * from migrations
    {%- if batches | length > 1 %}
    union all
    select * from {{ nps_staged_batches_relation() }}
    {%- endif %}

),

summed as (

    -- a pair split into respondent buckets is counted once per bucket
    select
        period_type,
        previous_period_start,
        period_start,
        {{ keys | join(',\n        ') }},
        from_category,
        to_category,
        cast(sum(respondents) as {{ dbt.type_bigint() }}) as respondents

    from batch_migrations
    group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12

),

final as (

    select
        *,
        cast(sum(respondents) over (
            partition by period_type, period_start, {{ keys | join(', ') }}, from_category
        ) as {{ dbt.type_bigint() }}) as from_category_respondents

    from summed

)

select * from final
