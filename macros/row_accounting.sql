{#- Shared by the customer and employee row-accounting marts (nps_* and enps_* operations marts). -#}

{#- Rows of `relation` counted per landing file, as (source_file, <count_alias>). -#}
{% macro rows_per_source_file(relation, count_alias, file_column='source_file') -%}
    select
        {{ file_column }} as source_file,
        count(*) as {{ count_alias }}
    from {{ relation }}
    group by {{ file_column }}
{%- endmacro %}

{#- Valid rows whose response_id had already been received (first received wins), with the
    accepted row they repeat. `validated` is an int_*_responses_validated model. -#}
{% macro duplicate_response_rows(validated) -%}
    select
        _source_file as source_file,
        _source_row as source_row,
        response_id,
        first_received_source_file as duplicate_of_source_file,
        first_received_source_row as duplicate_of_source_row,
        _loaded_at as loaded_at
    from {{ validated }}
    where outcome = 'duplicate'
{%- endmacro %}
