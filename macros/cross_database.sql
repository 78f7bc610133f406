{#- Cross-database helpers the project needs beyond dbt's own (dbt.dateadd, dbt.datediff, ...).
    Each dispatches: the generic macro and its default__ (DuckDB) version live here, the other
    engines' versions in macros/adapters/<engine>.sql. -#}

{#- Any one value of `expression` in the group: for columns that depend on the grouping key (a
    branch's name per branch_id), where every value is the same. -#}
{% macro any_value_of(expression) -%}
    {{ return(adapter.dispatch('any_value_of', 'nps_warehouse')(expression)) }}
{%- endmacro %}

{% macro default__any_value_of(expression) -%}
    any_value({{ expression }})
{%- endmacro %}

{#- `date` moved by `periods` whole periods of `period_type` (day, week, month, quarter, year),
    as a date. dbt.dateadd on PostgreSQL builds `interval '1 quarter'`, which PostgreSQL does not
    accept, so quarters are taken as three months everywhere (the same dates on every engine). -#}
{% macro add_periods(period_type, periods, date) -%}
    {%- if period_type == 'quarter' -%}
        cast({{ dbt.dateadd('month', '(' ~ periods ~ ') * 3', date) }} as date)
    {%- else -%}
        cast({{ dbt.dateadd(period_type, periods, date) }} as date)
    {%- endif -%}
{%- endmacro %}
