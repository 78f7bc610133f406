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


{#- strip_accents_of(text): `text` without diacritics ("qualité" -> "qualite"); other characters
    unchanged. Engines without a Unicode decomposition map the letters of the supported languages. -#}
{% macro strip_accents_of(text) -%}
    {{ return(adapter.dispatch('strip_accents_of', 'nps_warehouse')(text)) }}
{%- endmacro %}

{% macro default__strip_accents_of(text) -%}
    strip_accents({{ text }})
{%- endmacro %}


{#- type_timestamp_tz(): the type of an absolute point in time (an instant, shown in the session's
    time zone, UTC in every profile of this project). -#}
{% macro type_timestamp_tz() -%}
    {{ return(adapter.dispatch('type_timestamp_tz', 'nps_warehouse')()) }}
{%- endmacro %}

{% macro default__type_timestamp_tz() -%}
    timestamptz
{%- endmacro %}


{#- catalog_columns(schema_name): a select of (table_schema, table_name, column_name), one row per
    column of every table and view in the schema, as the warehouse has them now. -#}
{% macro catalog_columns(schema_name) -%}
    {{ return(adapter.dispatch('catalog_columns', 'nps_warehouse')(schema_name)) }}
{%- endmacro %}

{% macro default__catalog_columns(schema_name) -%}
    select
        table_schema,
        table_name,
        column_name
    from information_schema.columns
    where table_schema = '{{ schema_name }}'
{%- endmacro %}


{#- not_materialized(): between a CTE's name and `as`, keeps a CTE that is read more than once
    inlined (each reader streams it from its source) instead of written out once and read back,
    which DuckDB and PostgreSQL do by default. For a wide CTE over a large table, writing it out
    costs more than reading its source again. Spark always inlines and has no such keyword. -#}
{% macro not_materialized() -%}
    {{ return(adapter.dispatch('not_materialized', 'nps_warehouse')()) }}
{%- endmacro %}

{% macro default__not_materialized() -%}
    as not materialized
{%- endmacro %}


{#- nps_null_safe_equal(left, right): true when both are equal or both null (never null itself),
    as grouping compares keys. -#}
{% macro nps_null_safe_equal(left, right) -%}
    ({{ left }} = {{ right }} or ({{ left }} is null and {{ right }} is null))
{%- endmacro %}


{#- nps_hash_bucket(expression, buckets): a number from 0 to buckets - 1 that only depends on the
    value of `expression` (a text), to split rows into groups by it. -#}
{% macro nps_hash_bucket(expression, buckets) -%}
    {{ return(adapter.dispatch('nps_hash_bucket', 'nps_warehouse')(expression, buckets)) }}
{%- endmacro %}

{% macro default__nps_hash_bucket(expression, buckets) -%}
    (hash({{ expression }}) % {{ buckets }})
{%- endmacro %}
