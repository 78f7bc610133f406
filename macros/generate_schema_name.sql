{#- Use the folder's schema name as is (staging, intermediate, marts, reference), without the
    target schema prefix, so BI tools are pointed at a stable `marts` schema. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
