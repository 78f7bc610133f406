{#- The NPS vocabulary, in one place. Categories are 9-10 / 7-8 / 0-6 whatever the survey's
    scale (a 1-10 survey has no 0, but a 9 is still a promoter). -#}
{% macro nps_category(score) -%}
    case
        when {{ score }} >= 9 then 'promoter'
        when {{ score }} >= 7 then 'passive'
        when {{ score }} is not null then 'detractor'
    end
{%- endmacro %}

{#- NPS = % promoters - % detractors, in -100..100; null (not an error) when there are no responses. -#}
{% macro nps(promoters, detractors, responses) -%}
    case
        when {{ responses }} > 0
            then 100.0 * {{ nps_warehouse.nps_double(promoters ~ ' - ' ~ detractors) }} / {{ responses }}
    end
{%- endmacro %}
