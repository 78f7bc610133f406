{#- Period marts (int_nps_periods_aggregated, nps_by_period, nps_category_migration), incremental
    by period (README "Incremental models"). A run recomputes the rows whose period_start is the
    start of a period (of any of the model's period types) holding a day that
    int_nps_responses_aggregated reprocessed since the model's own watermark (plus the partition
    range: nps_upstream_days in macros/nps_incremental.sql), and, for a model comparing a period
    with the previous one (with_next), the start of the period after each of those. Rows are
    chosen by period_start alone, whatever their period_type: a day, a month, a quarter and a
    year may start on the same date, and on Spark (nps_overwrites_partitions()) the models are
    partitioned by period_start, so a recomputed partition must be written again whole. Where
    rows are deleted the few extra rows recomputed cost little.

    A model whose table holds other period types than its var (the var changed) recomputes every
    period: no --full-refresh needed.

    Signatures (stable):
        nps_period_start_of(period_types, type_column, date)  -> SQL date: start of the period of
                                                  type `type_column` (one of period_types) holding date
        nps_shifted_period_start(period_types, type_column, periods, period_start)
                                               -> SQL date: period_start moved by `periods` periods
        nps_period_types_changed(period_types) -> true when the built table holds other period
                                                  types than period_types (incremental runs only)
        nps_recomputes_all_periods(period_types)  -> true: not incremental, or the types changed
        nps_recomputed_period_starts(period_types, with_next=false, with_previous=false)
                                               -> select of period_start this run recomputes
                                                  (with_previous: also the starts of the periods
                                                  before them, which a comparison reads)
        nps_recomputed_periods_condition(column, period_types, with_next=false, with_previous=false)
                                               -> SQL condition on `column`: true for every row
                                                  when nps_recomputes_all_periods
        nps_delete_recomputed_periods(period_types, with_next=false)  pre-hook
-#}

{% macro nps_period_start_of(period_types, type_column, date) -%}
    case
        {%- for period_type in period_types %}
        when {{ type_column }} = '{{ period_type }}' then cast({{ dbt.date_trunc(period_type, date) }} as date)
        {%- endfor %}
    end
{%- endmacro %}

{% macro nps_shifted_period_start(period_types, type_column, periods, period_start) -%}
    case
        {%- for period_type in period_types %}
        when {{ type_column }} = '{{ period_type }}' then {{ nps_warehouse.add_periods(period_type, periods, period_start) }}
        {%- endfor %}
    end
{%- endmacro %}

{#- Asked of the table once per run, while executing (a unit test has no table). -#}
{% macro nps_period_types_changed(period_types) -%}
    {%- if model.resource_type == 'unit_test' or not (execute and is_incremental()) -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set built = run_query(
        'select distinct period_type from ' ~ this
    ).columns[0].values() | map('string') | list -%}
    {{ return((built | length > 0) and (built | sort) != (period_types | map('string') | sort)) }}
{%- endmacro %}

{#- A unit test builds from its given rows alone (its `this` is none: is_incremental() would fail). -#}
{% macro nps_recomputes_all_periods(period_types) -%}
    {{ return(
        model.resource_type == 'unit_test'
        or not is_incremental()
        or nps_warehouse.nps_period_types_changed(period_types)
    ) }}
{%- endmacro %}

{% macro nps_recomputed_period_starts(period_types, with_next=false, with_previous=false) -%}
    {%- set shifts = [0] + ([1] if with_next else []) -%}
    {%- set all_types -%}
        {{ nps_warehouse.nps_values_relation('period_type', period_types) }}
    {%- endset -%}
    select distinct recomputed.period_start
    from (
        {%- for shift in shifts %}
        select
            {%- if shift == 0 %}
            changed.period_start
            {%- else %}
            {{ nps_warehouse.nps_shifted_period_start(period_types, 'changed.period_type', shift, 'changed.period_start') }}
                as period_start
            {%- endif %}
        from (
            select
                period_types.period_type,
                {{ nps_warehouse.nps_period_start_of(period_types, 'period_types.period_type', 'days.response_date') }}
                    as period_start
            from ({{ nps_warehouse.nps_upstream_days('int_nps_responses_aggregated') }}) as days
            cross join ({{ all_types }}) as period_types
        ) as changed
        {{- ' union all' if not loop.last }}
        {%- endfor %}
    ) as recomputed
    {%- if with_previous %}
    union
    select
        {{ nps_warehouse.nps_shifted_period_start(period_types, 'period_types.period_type', -1, 'recomputed.period_start') }}
            as period_start
    from (
        {{ nps_warehouse.nps_recomputed_period_starts(period_types, with_next) }}
    ) as recomputed
    cross join ({{ all_types }}) as period_types
    {%- endif %}
{%- endmacro %}

{% macro nps_recomputed_periods_condition(column, period_types, with_next=false, with_previous=false) -%}
    {%- if nps_warehouse.nps_recomputes_all_periods(period_types) -%}
        1 = 1
    {%- else -%}
        {{ column }} in ({{ nps_warehouse.nps_recomputed_period_starts(period_types, with_next, with_previous) }})
    {%- endif -%}
{%- endmacro %}

{#- pre-hook: the recomputed periods go first, so a period that lost every row is emptied too. -#}
{% macro nps_delete_recomputed_periods(period_types, with_next=false) -%}
    {{ nps_warehouse.nps_delete_rows_where(
        'period_start',
        nps_warehouse.nps_recomputed_periods_condition('period_start', period_types, with_next),
    ) }}
{%- endmacro %}
