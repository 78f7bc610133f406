{#- PostgreSQL implementations of the project's dispatched macros (generic and DuckDB versions:
    macros/cross_database.sql, or next to the macro where it was dispatched first). -#}

{#- DuckDB's try_cast(... as timestamptz) returns null for what it cannot read; PostgreSQL's cast
    raises. So the text is checked first (a case evaluates in order): the ISO 8601 shapes DuckDB
    reads (no space before the offset, no offset without a time), a real calendar day, then an
    explicit offset, else UTC (whatever the server's TimeZone). -#}
{% macro postgres__parse_timestamp_utc(text) -%}
    case
        when {{ text }} ~ '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])([T ](([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?|24:00(:00(\.0+)?)?)(Z|[+-][0-9]{2}(:?[0-9]{2})?)?)?$'
            and left({{ text }}, 4) <> '0000'
            then case
                when cast(substr({{ text }}, 9, 2) as integer) <= extract(day from make_date(
                    cast(left({{ text }}, 4) as integer), cast(substr({{ text }}, 6, 2) as integer), 1
                ) + interval '1 month' - interval '1 day')
                    then case
                        when {{ text }} ~ '[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)$'
                            then cast({{ text }} as timestamptz)
                        else cast({{ text }} as timestamp) at time zone 'UTC'
                    end
            end
    end
{%- endmacro %}

{#- PostgreSQL 15 has no any_value (16 has): every value of the group is the same, so min. -#}
{% macro postgres__any_value_of(expression) -%}
    min({{ expression }})
{%- endmacro %}


{% macro postgres__nps_hash_bucket(expression, buckets) -%}
    mod(abs(hashtext({{ expression }})::bigint), {{ buckets }})
{%- endmacro %}
