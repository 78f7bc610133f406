{#- Typing landed text. Each engine-specific piece goes through adapter.dispatch. -#}

{% macro clean_text(column) -%}
    nullif(trim({{ column }}), '')
{%- endmacro %}

{% macro regex_full_match(expression, pattern) -%}
    {{ return(adapter.dispatch('regex_full_match', 'nps_warehouse')(expression, pattern)) }}
{%- endmacro %}

{% macro default__regex_full_match(expression, pattern) -%}
    regexp_full_match({{ expression }}, '{{ pattern }}')
{%- endmacro %}

{% macro postgres__regex_full_match(expression, pattern) -%}
    ({{ expression }} ~ '^(?:{{ pattern }})$')
{%- endmacro %}

{#- An integer score as text: "7", " 7 ", "+7" and "7.0" are integers; "7.5" and "seven" are not
    (a cast would round 7.5 to 8, so integer-ness is decided on the text). -#}
{% macro is_integer_text(text) -%}
    {{ nps_warehouse.regex_full_match(text, '[+-]?[0-9]+(\\.0+)?') }}
{%- endmacro %}

{% macro integer_text_value(text) -%}
    case when {{ nps_warehouse.is_integer_text(text) }} then {{ nps_warehouse.nps_double(text) }} end
{%- endmacro %}

{#- ISO 8601 date or date-time, optionally with an offset; a value without offset is UTC. -#}
{% macro parse_timestamp_utc(text) -%}
    {{ return(adapter.dispatch('parse_timestamp_utc', 'nps_warehouse')(text)) }}
{%- endmacro %}

{% macro default__parse_timestamp_utc(text) -%}
    case
        when {{ nps_warehouse.regex_full_match(
            text,
            '[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]+)?)?)? ?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?'
        ) }}
            then try_cast({{ text }} as {{ nps_warehouse.type_timestamp_tz() }})
    end
{%- endmacro %}

{% macro parse_boolean(text) -%}
    case
        when lower({{ text }}) in ('true', 'yes', 'y', '1', 't') then true
        when lower({{ text }}) in ('false', 'no', 'n', '0', 'f') then false
    end
{%- endmacro %}

{#- "EN", "nl-BE", "pl_PL" -> "en", "nl", "pl". -#}
{% macro language_code(text) -%}
    lower(split_part(replace({{ text }}, '_', '-'), '-', 1))
{%- endmacro %}

{#- The calendar day of a timestamp in the configured time zone (var nps_timezone). -#}
{% macro local_date(timestamp) -%}
    {{ return(adapter.dispatch('local_date', 'nps_warehouse')(timestamp)) }}
{%- endmacro %}

{% macro default__local_date(timestamp) -%}
    cast(timezone('{{ var("nps_timezone") }}', {{ timestamp }}) as date)
{%- endmacro %}
