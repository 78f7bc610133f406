{#- Every landed row with its outcome: accepted, quarantined (first failing reason) or duplicate.
    Incremental (macros/nps_incremental.sql, macros/nps_validated_files.sql): a run recomputes the
    rows of the landing files that changed since the last run, and every row sharing a response_id with them, so first received
    wins and quarantine are decided exactly as a full refresh decides them. Rows of a file
    version that left raw are kept as tombstones (outcome 'removed', key columns and day only). -#}

{{
    config(
        materialized='incremental',
        incremental_strategy=nps_incremental_strategy(),
        partition_by=nps_partition_by('_source_file'),
        unique_key=['_source_file', '_source_row', '_load_id'],
        on_schema_change='fail',
        pre_hook=["{{ nps_create_validated_files() }}"],
        post_hook=[
            "{{ nps_replace_validated_files() }}",
            "{{ nps_record_validated_files() }}",
        ],
    )
}}

{%- do nps_partition_range() %}  {#- fail early on malformed partition vars #}
{%- if execute and is_incremental() and this is not string %}
    {%- set built_columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list %}
    {%- if built_columns and '_processed_at' not in built_columns %}
        {{ exceptions.raise_compiler_error(
            this ~ ' was built before incremental processing: run `dbt build --full-refresh` once'
        ) }}
    {%- endif %}
{%- endif %}

-- depends_on: {{ ref('stg_privacy__erasures') }}
-- depends_on: {{ ref('stg_survey__landing_manifest') }}

{#- changed_files: the files to recompute. With the per-file state (macros/nps_validated_files.sql)
    a list found before the model runs, and raw is read only for these files and the unchanged
    files sharing a response_id with them (read_files, a literal filter pushed into raw's scan);
    else the CTE changed_files below, found by scanning raw and this table. -#}
{%- set tracks_files = is_incremental() and nps_validated_tracks_files() %}
{%- set changed_files = 'select changed_files.source_file from changed_files' %}
{%- set read_files = none %}
{%- if tracks_files %}
    {%- set changed_files = nps_validated_changed_file_list() if execute else [] %}
    {%- set read_files = changed_files + (nps_validated_shared_id_file_list(changed_files) if execute else []) %}
{%- endif %}

{%- set key_columns = ['_source_file', '_source_row', '_load_id'] %}
{%- set other_columns = [
    'response_id', 'survey_id', 'respondent_id', 'respondent_email', 'submitted_at_text',
    'submitted_at', 'score_text', 'score_is_integer', 'score_value', 'comment', 'language',
    'channel', 'touchpoint', 'branch_id', 'product', 'consent_contact', 'consent_testimonial',
    'extra_columns', '_file_received_at', '_loaded_at', 'is_registered_survey', 'scale_min',
    'scale_max', 'is_batch_blocked', 'quarantine_reason', 'receipt_rank',
    'first_received_source_file', 'first_received_source_row',
] %}

with

responses {{ not_materialized() }} (

    select * from {{ ref('stg_survey__nps_responses') }}
    {%- if read_files is not none %}
    where {{ nps_files_condition('_source_file', read_files) }}
    {%- endif %}

),

surveys as (

    select * from {{ ref('surveys') }}

),

batch_validations as (

    select * from {{ ref('stg_survey__batch_validations') }}

),

-- files held back by their raw suite: none of their rows flow downstream
blocked_batches as (

    select distinct
        source_file,
        load_id

    from batch_validations
    where feed = 'nps' and is_blocked

),

{% if is_incremental() %}

previous as (

    select * from {{ this }}

),

{%- if not tracks_files %}

erasures as (

    select * from {{ ref('stg_privacy__erasures') }}
    where feed = 'nps'

),

landed_files as (

    -- each file version in raw now, with its row count and raw-suite verdict
    select
        landed._source_file,
        landed._load_id,
        landed.row_count,
        blocked_batches.source_file is not null as is_batch_blocked

    from (
        select
            _source_file,
            _load_id,
            count(*) as row_count
        from responses
        group by _source_file, _load_id
    ) as landed
    left join blocked_batches
        on
            landed._source_file = blocked_batches.source_file
            and landed._load_id = blocked_batches.load_id

),

processed_files as (

    -- each file version as this model last processed it
    select
        _source_file,
        _load_id,
        count(*) as row_count,
        max(case when is_batch_blocked then 1 else 0 end) = 1 as is_batch_blocked,
        max(_processed_at) as processed_at

    from previous
    where outcome <> 'removed'
    group by _source_file, _load_id

),

changed_files as (

    select coalesce(landed_files._source_file, processed_files._source_file) as source_file
    from landed_files
    full outer join processed_files
        on
            landed_files._source_file = processed_files._source_file
            and landed_files._load_id = processed_files._load_id
    where
        landed_files._source_file is null
        or processed_files._source_file is null
        or landed_files.row_count <> processed_files.row_count
        or landed_files.is_batch_blocked <> processed_files.is_batch_blocked

    union

    -- rows erased (nps-warehouse forget) since the file was processed
    select processed_files._source_file as source_file
    from processed_files
    inner join erasures
        on processed_files._source_file = erasures.source_file
    where erasures.erased_at > processed_files.processed_at

),

{%- endif %}

forced_days as (

    {{ nps_forced_days(
        "(select max(newest.response_date) from previous as newest where newest.outcome = 'accepted')"
    ) }}

),

affected_ids as (

    -- a changed row can change the outcome of every row with its response_id
    {{ nps_validated_affected_ids(
        'responses', 'previous', changed_files, 'select forced_days.response_date from forced_days'
    ) }}

),

{% endif %}

batch {{ not_materialized() }} (

    select responses.*
    from responses
    {%- if is_incremental() %}
    where
        {{ nps_files_condition('responses._source_file', changed_files) }}
        or responses.response_id in (
            select affected_ids.response_id from affected_ids
            where affected_ids.response_id is not null
        )
    {%- endif %}

),

with_scale {{ not_materialized() }} (

    select
        batch.*,
        surveys.survey_id is not null as is_registered_survey,
        -- an unregistered survey is not a reason to drop data: it is read on the 0-10 scale
        coalesce(surveys.scale_min, 0) as scale_min,
        coalesce(surveys.scale_max, 10) as scale_max,
        blocked_batches.source_file is not null as is_batch_blocked

    from batch
    left join surveys
        on batch.survey_id = surveys.survey_id
    left join blocked_batches
        on
            batch._source_file = blocked_batches.source_file
            and batch._load_id = blocked_batches.load_id

),

-- read three times by the receipt steps (macros/response_validation.sql), as are the CTEs
-- it reads: each read streams from raw rather than the wide rows being written out once
checked {{ not_materialized() }} (

    select
        *,
        -- a row's own defect is the more specific reason; the rest of a blocked file follows it
        coalesce(
            {{ response_quarantine_reason('survey_id', 'missing_survey_id') }},
            case when is_batch_blocked then 'batch_failed_validation' end
        ) as quarantine_reason

    from with_scale

),

repeated_response_ids as (

    {{ response_repeated_ids('checked') }}

),

repeated_receipts as (

    -- the first received valid row of a response_id wins; later ones are duplicates
    {{ response_repeated_receipts('checked', 'repeated_response_ids') }}

),

ranked as (

    {{ response_with_receipts('checked', 'repeated_receipts') }}

),

recomputed as (

    select
        {{ (key_columns + other_columns) | join(',\n        ') }},
        {{ response_outcome() }} as outcome,
        {{ local_date('submitted_at') }} as response_date,
        {{ nps_processed_at() }} as _processed_at

    from ranked

),

{% if is_incremental() %}

removed as (

    -- rows of a file version no longer in raw: a tombstone keeps their day for the day-level
    -- models (and nothing else: no identifiers)
    select
        {{ key_columns | join(',\n        ') }},
        {%- for column in other_columns %}
        null as {{ column }},
        {%- endfor %}
        'removed' as outcome,
        previous.response_date,
        {{ nps_processed_at() }} as _processed_at

    from previous
    where
        previous.outcome <> 'removed'
        and {{ nps_files_condition('previous._source_file', changed_files) }}
        and not exists (
            select 1
            from recomputed
            where
                recomputed._source_file = previous._source_file
                and recomputed._source_row = previous._source_row
                and recomputed._load_id = previous._load_id
        )

),

{% endif %}

replacing as (

    select * from recomputed
    {%- if is_incremental() %}
    union all
    select * from removed
    {%- endif %}

),

final as (

    -- where whole files (partitions) are overwritten, their untouched rows are written again
    {{ nps_with_kept_rows('replacing', '_source_file', key_columns) }}

)

select * from final
