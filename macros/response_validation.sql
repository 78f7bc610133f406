{#- Row outcomes shared by every response feed (customer NPS, employee eNPS): the first failing
    quarantine reason, first-received-wins duplicates, and the outcome. See docs/contracts.md.

    The relation they run over carries the staging columns response_id, submitted_at_text,
    submitted_at, score_text, score_is_integer, score_value, _loaded_at, _file_received_at,
    _source_file, _source_row, plus the feed's survey key and its scale. -#}

{#- The first failing check, in contract order; null when the row is valid. `survey_key` is the
    column naming the survey (survey_id, survey_wave) and `missing_survey_key_reason` its reason. -#}
{% macro response_quarantine_reason(
    survey_key='survey_id',
    missing_survey_key_reason='missing_survey_id',
    scale_min='scale_min',
    scale_max='scale_max'
) -%}
    case
        when response_id is null then 'missing_response_id'
        when {{ survey_key }} is null then '{{ missing_survey_key_reason }}'
        when submitted_at_text is null then 'missing_submitted_at'
        when submitted_at is null then 'unparseable_submitted_at'
        when submitted_at > _loaded_at then 'future_submitted_at'
        when score_text is null then 'missing_score'
        when not score_is_integer then 'score_not_integer'
        when score_value < {{ scale_min }} or score_value > {{ scale_max }} then 'score_out_of_scale'
    end
{%- endmacro %}

{#- The receipt window: valid rows of one response_id, first received first (file first received,
    then file path, then row). Invalid rows rank among themselves and never make a duplicate. -#}
{% macro response_receipt_window() -%}
    partition by response_id, quarantine_reason is null
    order by _file_received_at, _source_file, _source_row
{%- endmacro %}

{#- The receipt columns over a relation that has `quarantine_reason`: receipt_rank and where the
    first received row of the same response_id came from. -#}
{% macro response_receipt_columns() -%}
    row_number() over ({{ nps_warehouse.response_receipt_window() }}) as receipt_rank,
    first_value(_source_file) over (
        {{ nps_warehouse.response_receipt_window() }}
    ) as first_received_source_file,
    first_value(_source_row) over (
        {{ nps_warehouse.response_receipt_window() }}
    ) as first_received_source_row
{%- endmacro %}

{#- accepted, quarantined or duplicate, over a relation with quarantine_reason and receipt_rank. -#}
{% macro response_outcome() -%}
    case
        when quarantine_reason is not null then 'quarantined'
        when receipt_rank > 1 then 'duplicate'
        else 'accepted'
    end
{%- endmacro %}

{#- The files (per load) of a feed that their raw Great Expectations suite held back
    (raw.batch_validations, see orchestration/quality/verdicts.py): source_file, load_id. -#}
{% macro response_blocked_batches(feed) -%}
    select distinct
        source_file,
        load_id

    from {{ ref('stg_survey__batch_validations') }}
    where feed = '{{ feed }}' and is_blocked
{%- endmacro %}
