{#- The few generic tests dbt_utils would give us (the package hub is out of reach here). -#}

{% test expression_is_true(model, expression, where=none) %}
    select *
    from {{ model }}
    where not ({{ expression }})
    {%- if where %} and ({{ where }}){% endif %}
{% endtest %}

{% test unique_combination_of_columns(model, combination_of_columns) %}
    select
        {{ combination_of_columns | join(', ') }},
        count(*) as occurrences
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}
    having count(*) > 1
{% endtest %}

{% test accepted_range(model, column_name, min_value=none, max_value=none) %}
    select *
    from {{ model }}
    where
        {{ column_name }} is not null
        and (
            false
            {%- if min_value is not none %} or {{ column_name }} < {{ min_value }}{% endif %}
            {%- if max_value is not none %} or {{ column_name }} > {{ max_value }}{% endif %}
        )
{% endtest %}
