{#- The CTEs of int_nps_latest_changes_rolled_up (see the model for what it computes) for one
    batch of change dates (nps_latest_changes_batches), the last one `changes`. A batch's changes
    come from the responses of its days and, for the -1s, of the longest window before them. -#}
{% macro nps_latest_changes_ctes(batch) %}

{% set window_end = 'cast(' ~ dbt.dateadd('day', 'windows.window_days', 'day_latest.response_date') ~ ' as date)' %}
{% set first_recomputed_day = nps_latest_changes_first_day() or 'cast(null as date)' %}
{% set longest_window_before = nps_latest_changes_longest_window_before %}
{% set batch_read_from = longest_window_before("cast('" ~ batch.first ~ "' as date)") if batch and batch.first %}

sequenced as (

    select * from {{ ref('int_nps_responses_sequenced') }}
    where
        {{ nps_all_of(nps_batch_range_conditions(batch, 'response_date', first=batch_read_from)) }}
    {%- if is_incremental() %}
        and response_date >= {{ longest_window_before(first_recomputed_day) }}
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
        and {{ nps_all_of(nps_batch_range_conditions(batch, 'change_date')) }}
    {%- if is_incremental() %}
        and change_date >= {{ first_recomputed_day }}
    {%- endif %}
    group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10

),

{{ nps_segment_rollup_ctes(
    'rolled_up',
    'edges_aggregated',
    ['change_date', 'window_days'],
    ['promoters_change', 'passives_change', 'detractors_change'],
) }},

changes as (

    select * from rolled_up
    -- +1 and -1 on the same day and segment cancel out: nothing to carry
    where promoters_change <> 0 or passives_change <> 0 or detractors_change <> 0

)

{% endmacro %}


{#- The first day of the longest rolling window that ends on `day` (a SQL date expression): the
    earliest response whose -1 can fall on that day. -#}
{% macro nps_latest_changes_longest_window_before(day) -%}
    cast({{ dbt.dateadd('day', -(var('nps_rolling_windows') | max), day) }} as date)
{%- endmacro %}


{#- The batches int_nps_latest_changes_rolled_up is built in: [none] (one query for everything)
    unless the run recomputes the changes of more than var nps_latest_changes_batch_responses
    day-latest responses. Then each batch is a run of consecutive change dates (first, end: its
    first day and the next batch's, none at either end) whose days have that many responses at
    most (a batch has one day at least). Days are independent of each other, so the rows are the
    same; what a batch's aggregations hold is bounded by the batch, not the history: at 100M
    responses one query ran out of DuckDB's 2 GB (bench/README.md). On DuckDB and PostgreSQL;
    Spark builds it in one query. -#}
{% macro nps_latest_changes_batches() %}
    {%- if not execute or model.resource_type == 'unit_test' or target.type not in ('duckdb', 'postgres') -%}
        {{ return([none]) }}
    {%- endif -%}
    {%- set sequenced = ref('int_nps_responses_sequenced') -%}
    {%- if adapter.get_relation(sequenced.database, sequenced.schema, sequenced.identifier) is none -%}
        {{ return([none]) }}  {#- compiled before the responses were ever sequenced #}
    {%- endif -%}
    {%- set first_day = nps_warehouse.nps_latest_changes_first_day() -%}
    {%- if is_incremental() and first_day is none -%}
        {{ return([none]) }}  {#- nothing to recompute #}
    {%- endif -%}
    {%- set counted -%}
        select response_date, count(*) as responses
        from {{ sequenced }}
        where is_day_latest{{ ' and response_date >= ' ~ first_day if first_day }}
        group by 1
        order by 1
    {%- endset -%}
    {%- set days = run_query(counted).rows -%}
    {%- set limit = var('nps_latest_changes_batch_responses') | int -%}
    {%- if (days | sum(attribute='responses')) <= limit -%}
        {{ return([none]) }}
    {%- endif -%}
    {{ return(nps_warehouse.nps_runs_of_rows(days, 'response_date', 'responses', limit)) }}
{% endmacro %}
