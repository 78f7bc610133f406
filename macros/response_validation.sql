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

{#- The receipt columns, in three steps over `relation` (it has quarantine_reason): only the rows of
    a response_id received more than once (or of none) go through the receipt window, narrow (the
    row's key and what the window orders by); every other row is its own first receipt. One window
    over every row sorted every column of the relation, comments and emails included: at 100M
    rows, tens of GB spilled (bench/README.md). `relation` is read three times: declare it, and
    the CTEs it reads, {{ not_materialized() }}, so that DuckDB streams each read (the wide one
    once) rather than writing the relation out. -#}

{#- 1. The response_ids of `relation` received more than once (repeated_response_id). -#}
{% macro response_repeated_ids(relation) -%}
    select response_id as repeated_response_id
    from {{ relation }}
    where response_id is not null
    group by response_id
    having count(*) > 1
{%- endmacro %}

{#- 2. The receipt columns of the rows of repeated (or missing) response_ids, by row key
    (_source_file, _source_row, _load_id). -#}
{% macro response_repeated_receipts(relation, repeated_ids) -%}
    select
        {{ relation }}._source_file,
        {{ relation }}._source_row,
        {{ relation }}._load_id,
        row_number() over ({{ nps_warehouse.response_receipt_window() }}) as receipt_rank,
        first_value({{ relation }}._source_file) over (
            {{ nps_warehouse.response_receipt_window() }}
        ) as first_received_source_file,
        first_value({{ relation }}._source_row) over (
            {{ nps_warehouse.response_receipt_window() }}
        ) as first_received_source_row

    from {{ relation }}
    left join {{ repeated_ids }}
        on {{ relation }}.response_id = {{ repeated_ids }}.repeated_response_id
    where
        {{ relation }}.response_id is null
        or {{ repeated_ids }}.repeated_response_id is not null
{%- endmacro %}

{#- 3. Every row of `relation` with its receipt columns (`receipts`: step 2). -#}
{% macro response_with_receipts(relation, receipts) -%}
    select
        {{ relation }}.*,
        coalesce({{ receipts }}.receipt_rank, 1) as receipt_rank,
        coalesce({{ receipts }}.first_received_source_file, {{ relation }}._source_file)
            as first_received_source_file,
        coalesce({{ receipts }}.first_received_source_row, {{ relation }}._source_row)
            as first_received_source_row

    from {{ relation }}
    left join {{ receipts }}
        on
            {{ relation }}._source_file = {{ receipts }}._source_file
            and {{ relation }}._source_row = {{ receipts }}._source_row
            -- a load id is never null in raw; rows given without one still match themselves
            and coalesce({{ relation }}._load_id, '') = coalesce({{ receipts }}._load_id, '')
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
