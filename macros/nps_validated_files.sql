{#- int_nps_responses_validated's per-file state (README "Incremental models"): which landing
    file versions it has processed, so that a run finds the changed files by comparing the
    landing manifest (one row per file) with this small table instead of scanning raw and its
    own rows, and then reads raw only for the files it has to (a literal list of files, which
    the planner pushes down into the raw table's scan).

    The table `intermediate.nps_validated_files` holds one row per processed file version:
    source_file, load_id, row_count (as the manifest counted it at load), is_batch_blocked (the
    raw-suite verdict it was processed with) and processed_at. The model's post-hooks replace
    the rows of the files it recomputed, in the model's transaction: a failed run moves nothing.

    Where partitions are overwritten (Spark: no delete) and in unit tests (no such table to
    mock), the model finds the changed files by scanning raw and its own rows instead
    (nps_validated_tracks_files() is false there).

    Signatures:
        nps_validated_files_relation()      -> the state table
        nps_validated_tracks_files()        -> true where the state table is used
        nps_create_validated_files()        pre-hook
        nps_validated_landed_files()        -> select of each file version in raw per the manifest
        nps_validated_changed_files()       -> select of source_file: files to recompute
        nps_validated_changed_file_list()   -> that select, run: a list of file names
        nps_files_condition(column, files)  -> SQL condition: column in the files (list or select)
        nps_replace_validated_files()       post-hook: forget the recomputed files' state
        nps_record_validated_files()        post-hook: record the recomputed files' state
-#}

{% macro nps_validated_files_relation() -%}
    {{ return(api.Relation.create(
        database=this.database,
        schema='intermediate',
        identifier='nps_validated_files',
    )) }}
{%- endmacro %}

{% macro nps_validated_tracks_files() -%}
    {{ return(
        not nps_warehouse.nps_overwrites_partitions()
        and model.resource_type != 'unit_test'
    ) }}
{%- endmacro %}

{% macro nps_create_validated_files() -%}
    {%- if nps_warehouse.nps_validated_tracks_files() -%}
    create table if not exists {{ nps_warehouse.nps_validated_files_relation() }} (
        source_file {{ dbt.type_string() }},
        load_id {{ dbt.type_string() }},
        row_count bigint,
        is_batch_blocked boolean,
        processed_at {{ nps_warehouse.type_timestamp_tz() }}
    )
    {%- endif -%}
{%- endmacro %}

{#- Each file version of the nps feed in raw: the manifest's (a failed new version keeps the
    previous load's rows and load_id; a file never loaded has no load_id), with the raw-suite
    verdict of that load. -#}
{% macro nps_validated_landed_files() -%}
    select
        manifest.source_file,
        manifest.load_id,
        manifest.manifest_row_count as row_count,
        coalesce(blocked.is_blocked, false) as is_batch_blocked
    from {{ ref('stg_survey__landing_manifest') }} as manifest
    left join (
        select
            source_file,
            load_id,
            max(case when is_blocked then 1 else 0 end) = 1 as is_blocked
        from {{ ref('stg_survey__batch_validations') }}
        where feed = 'nps'
        group by source_file, load_id
    ) as blocked
        on
            manifest.source_file = blocked.source_file
            and manifest.load_id = blocked.load_id
    where manifest.feed = 'nps' and manifest.load_id is not null
{%- endmacro %}

{#- The files whose rows changed since they were processed: a new file, a new load of a file, a
    file that left raw, a raw-suite verdict that changed, or rows erased (nps-warehouse forget)
    since the file was processed. -#}
{% macro nps_validated_changed_files() -%}
    select coalesce(landed.source_file, processed.source_file) as source_file
    from ({{ nps_warehouse.nps_validated_landed_files() }}) as landed
    full outer join {{ nps_warehouse.nps_validated_files_relation() }} as processed
        on landed.source_file = processed.source_file
    where
        landed.source_file is null
        or processed.source_file is null
        or landed.load_id <> processed.load_id
        or coalesce(landed.row_count, -1) <> coalesce(processed.row_count, -1)
        or landed.is_batch_blocked <> processed.is_batch_blocked
    union
    select processed.source_file
    from {{ nps_warehouse.nps_validated_files_relation() }} as processed
    inner join {{ ref('stg_privacy__erasures') }} as erasures
        on processed.source_file = erasures.source_file
    where erasures.feed = 'nps' and erasures.erased_at > processed.processed_at
{%- endmacro %}

{#- Run while the model compiles, after its upstream models and before its own statements: the
    state table may not exist yet (the first incremental run after it was introduced), then
    every file counts as changed. -#}
{% macro nps_validated_changed_file_list() -%}
    {%- set state = adapter.get_relation(
        database=this.database, schema='intermediate', identifier='nps_validated_files'
    ) -%}
    {%- if state is none -%}
        {%- set found = run_query(
            'select landed.source_file from (' ~ nps_warehouse.nps_validated_landed_files() ~ ') as landed'
        ) -%}
    {%- else -%}
        {%- set found = run_query(nps_warehouse.nps_validated_changed_files()) -%}
    {%- endif -%}
    {{ return(found.columns[0].values() | reject('none') | list | sort) }}
{%- endmacro %}

{#- `column` is one of `files`: a list of names (written as literals, so that the filter is
    pushed down into the scan of the table under a view), or a select of one column. -#}
{% macro nps_files_condition(column, files) -%}
    {%- if files is string -%}
        {{ column }} in ({{ files }})
    {%- elif files | length == 0 -%}
        1 = 0
    {%- else -%}
        {{ column }} in (
            {%- for file in files %}
            '{{ file | replace("'", "''") }}'{{ ',' if not loop.last }}
            {%- endfor %}
        )
    {%- endif -%}
{%- endmacro %}

{#- post-hook: the state of the files this run recomputed goes (every file on a full build);
    nps_record_validated_files then writes it again from the manifest. -#}
{% macro nps_replace_validated_files() -%}
    {%- if nps_warehouse.nps_validated_tracks_files() -%}
    delete from {{ nps_warehouse.nps_validated_files_relation() }}
    {%- if is_incremental() %}
    where source_file in ({{ nps_warehouse.nps_validated_changed_files() }})
    {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- post-hook, after nps_replace_validated_files: every landed file without a state row is one
    this run recomputed. -#}
{% macro nps_record_validated_files() -%}
    {%- if nps_warehouse.nps_validated_tracks_files() -%}
    insert into {{ nps_warehouse.nps_validated_files_relation() }}
        (source_file, load_id, row_count, is_batch_blocked, processed_at)
    select
        landed.source_file,
        landed.load_id,
        landed.row_count,
        landed.is_batch_blocked,
        {{ nps_warehouse.nps_processed_at() }}
    from ({{ nps_warehouse.nps_validated_landed_files() }}) as landed
    where landed.source_file not in (
        select processed.source_file from {{ nps_warehouse.nps_validated_files_relation() }} as processed
    )
    {%- endif -%}
{%- endmacro %}

{#- The response_ids whose rows a run recomputes: those of the changed files' rows in raw
    (`responses`) and as last processed (`previous`), and those of the previous rows on the
    forced days (`forced_days`, a select of response_date): a changed row can change the outcome
    of every row with its response_id. `changed_files` as in nps_files_condition. -#}
{% macro nps_validated_affected_ids(responses, previous, changed_files, forced_days) -%}
    select changed_rows.response_id
    from {{ responses }} as changed_rows
    where {{ nps_warehouse.nps_files_condition('changed_rows._source_file', changed_files) }}

    union

    select previous_rows.response_id
    from {{ previous }} as previous_rows
    where {{ nps_warehouse.nps_files_condition('previous_rows._source_file', changed_files) }}

    union

    select previous_rows.response_id
    from {{ previous }} as previous_rows
    where previous_rows.response_date in ({{ forced_days }})
{%- endmacro %}

{#- Run while the model compiles: the unchanged files holding a previous row whose response_id
    the run recomputes (first received wins is decided per response_id). Only these files and
    the changed ones are read from raw. -#}
{% macro nps_validated_shared_id_file_list(changed_files) -%}
    {%- set found = run_query(
        'select distinct shared._source_file from ' ~ this ~ ' as shared'
        ~ " where shared.outcome <> 'removed'"
        ~ ' and not ' ~ nps_warehouse.nps_files_condition('shared._source_file', changed_files)
        ~ ' and shared.response_id in ('
        ~ nps_warehouse.nps_validated_affected_ids(
            ref('stg_survey__nps_responses'),
            this,
            changed_files,
            nps_warehouse.nps_forced_days(
                '(select max(newest.response_date) from ' ~ this ~ " as newest where newest.outcome = 'accepted')"
            ),
        )
        ~ ')'
    ) -%}
    {{ return(found.columns[0].values() | reject('none') | list | sort) }}
{%- endmacro %}
