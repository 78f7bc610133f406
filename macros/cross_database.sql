{#- Cross-database helpers the project needs beyond dbt's own (dbt.dateadd, dbt.concat, ...).
    Each is a generic macro that dispatches, with its default__ (DuckDB) version here; other
    engines' versions live in macros/adapters/<engine>.sql. -#}


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
