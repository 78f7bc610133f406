{#- Helpers of the closed-loop follow-up marts (detractor_followup_queue, followup_sla). -#}

{#- The follow-up SLA in hours of a survey: its row in seeds/survey_followup_sla.csv, else the
    dbt var followup_sla_hours (default 48). -#}
{% macro followup_sla_hours(survey_sla_hours) -%}
    coalesce({{ survey_sla_hours }}, {{ var('followup_sla_hours', 48) }})
{%- endmacro %}

{#- Median of a numeric expression (an aggregate). -#}
{% macro median(expression) -%}
    {{ return(adapter.dispatch('median', 'nps_warehouse')(expression)) }}
{%- endmacro %}

{% macro default__median(expression) -%}
    median({{ expression }})
{%- endmacro %}

{% macro postgres__median(expression) -%}
    percentile_cont(0.5) within group (order by {{ expression }})
{%- endmacro %}
