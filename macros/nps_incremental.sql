{#- Incremental processing of the customer response models, in one place (README "Incremental
    models"). A run reprocesses DAYS (response_date, in var nps_timezone):

    1. int_nps_responses_validated finds the landing files whose raw rows changed since it last
       ran (a new file, a new load of a changed file, rows erased, a raw-suite verdict changed) by
       comparing the landing manifest with its per-file state (macros/nps_validated_files.sql;
       on Spark: raw with its own rows), and recomputes those files' rows plus every row that
       shares a response_id with them (first received wins is decided per response_id). The
       rows of a file version that left raw stay as tombstones (outcome 'removed') so that their
       days are reprocessed downstream. Every row it writes carries `_processed_at`.
    2. A day-level model (fct_nps_responses, nps_daily) reprocesses the days of the validated
       rows written after its own last successful run (its watermark, kept in the table
       `intermediate.nps_incremental_state`, written by a post-hook in the same transaction),
       plus the days of vars nps_partition_start..nps_partition_end (or the environment's
       NPS_PARTITION_START..NPS_PARTITION_END, see nps_partition_range) and the lookback (the newest
       day and the nps_lookback_days before it). A failed run does not move a watermark, so the
       next run redoes its days.
    3. A reprocessed day replaces its rows: strategy delete+insert keyed on the day, and a
       pre-hook that first deletes the days (a day that lost all its rows has nothing to insert).
       Spark's Parquet tables have no delete: there (nps_overwrites_partitions(), the one
       switch) each incremental model is partitioned by its day (int_nps_responses_validated
       by `_source_file`), the strategy is insert_overwrite (dynamic: only the partitions the
       batch holds are replaced), the delete hooks drop the partitions instead, and a model
       replacing rows by another key (validated, sequenced) writes the rows it keeps in the
       partitions its batch touches again (nps_with_kept_rows). The watermark table is
       partitioned by model there, each model overwriting its own partition.
    4. int_nps_responses_aggregated, the first model of the NPS analytics chain, logs the days it
       reprocesses (its step-2 days plus the days whose totals no longer match
       fct_nps_responses) in `intermediate.nps_reprocessed_days`. The models after it in the
       chain (int_nps_segment_days_rolled_up, int_nps_responses_sequenced,
       int_nps_latest_changes_rolled_up, nps_rolling) reprocess what that log holds since their
       own watermark, plus the partition range: one place decides what changed.
    5. nps_rolling logs, per run, the first day from which it wrote rows (null: a full build) in
       `intermediate.nps_rebuilt_from`, in the same transaction as its rows
       (macros/nps_rebuilt_from.sql). Its GX suite validates only the rows on the days rebuilt
       since the suite last passed (orchestration/quality/rebuilt_rows.py).

    Signatures (stable):
        nps_incremental_strategy()        -> 'delete+insert' (spark: 'insert_overwrite')
        nps_overwrites_partitions()       -> true where partitions are overwritten (spark)
        nps_partition_by(column)          -> partition_by config: [column] or none
        nps_partition_range()             -> none or [start, end] ('YYYY-MM-DD', validated)
        nps_lookback_days()               -> int >= 0
        nps_processed_at()                -> SQL timestamp of this run (dbt's run_started_at)
        nps_incremental_state_relation()  -> the watermark table
        nps_forced_days(newest_date)      -> select of response_date: range + lookback days
        nps_reprocessed_days(recount_from=none)  -> select of response_date for the current model
        nps_create_incremental_state()    pre-hook, before the next one (one statement per hook:
                                          Spark runs a hook as a single statement)
        nps_delete_reprocessed_days(day_column, recount_from=none)  pre-hook
        nps_record_processed()            post-hook
        nps_reprocessed_days_relation()   -> the log of step 4
        nps_create_reprocessed_days_log() pre-hook
        nps_log_reprocessed_days(recount_from=none)  pre-hook: logs nps_reprocessed_days()
        nps_logged_days()                 -> select of response_date this run logged for this model
        nps_delete_logged_days(day_column)  pre-hook
        nps_upstream_days(upstream)       -> select of response_date: days `upstream` logged after
                                             this model's watermark, plus the partition range
        nps_delete_upstream_days(day_column, upstream)  pre-hook
        nps_delete_unreplaced_rows(day_column, upstream)  post-hook (model with `_processed_at`)
        nps_first_upstream_day(upstream)  -> SQL date: the earliest of nps_upstream_days (null: none)
        nps_queried_date_literal(query)   -> none or a SQL date literal: the query's value, run now
        nps_latest_changes_first_day()    -> none or a SQL date literal (int_nps_latest_changes_rolled_up)
        nps_latest_changes_delete_recomputed_days()  its pre-hook
        nps_delete_rows_where(day_column, condition)  hook statement: delete, or drop partitions
        nps_with_kept_rows(batch, partition_column, key_columns, reprocessed_days=none)
                                          -> select of the model's rows (batch + kept rows)
-#}

{% macro nps_incremental_strategy() -%}
    {{ return(adapter.dispatch('nps_incremental_strategy', 'nps_warehouse')()) }}
{%- endmacro %}

{% macro default__nps_incremental_strategy() -%}
    {{ return('delete+insert') }}
{%- endmacro %}

{#- Spark has no delete+insert: overwrite the partitions (days) a batch holds. -#}
{% macro spark__nps_incremental_strategy() -%}
    {{ return('insert_overwrite') }}
{%- endmacro %}

{#- The one switch between the two ways of replacing rows: delete (then insert) rows, or
    overwrite whole partitions and drop the emptied ones (Spark's Parquet tables have no
    delete). Every hook below branches on it; only the strategy is dispatched. -#}
{% macro nps_overwrites_partitions() -%}
    {{ return(nps_warehouse.nps_incremental_strategy() == 'insert_overwrite') }}
{%- endmacro %}

{#- config partition_by of an incremental model: its day (or file) column where whole
    partitions are overwritten, none where rows are deleted. An incremental run into a table
    built unpartitioned (before Spark ran incremental runs) would overwrite all of it with the
    batch: it fails instead. -#}
{% macro nps_partition_by(column) -%}
    {%- if not nps_warehouse.nps_overwrites_partitions() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if execute and is_incremental() and model.resource_type != 'unit_test' -%}
        {%- set described = run_query('describe table ' ~ this).columns[0].values() | map('trim') | list -%}
        {%- set partitioned = '# Partition Information' in described -%}
        {%- if not (partitioned and column in described[described.index('# Partition Information'):]) -%}
            {{ exceptions.raise_compiler_error(
                this ~ ' is not partitioned by ' ~ column ~ ': run `dbt build --full-refresh` once'
            ) }}
        {%- endif -%}
    {%- endif -%}
    {{ return([column]) }}
{%- endmacro %}


{#- The vars, else (the orchestrator's form) NPS_PARTITION_START / NPS_PARTITION_END, read only
    while executing: a var or an environment variable read at parse time is an input of the parse,
    and a different range on every run would make dbt re-parse on every run. -#}
{% macro nps_partition_range() -%}
    {%- set start = var('nps_partition_start', none) -%}
    {%- set end = var('nps_partition_end', none) -%}
    {%- if start is none and end is none and execute -%}
        {%- set start = env_var('NPS_PARTITION_START', '') or none -%}
        {%- set end = env_var('NPS_PARTITION_END', '') or none -%}
    {%- endif -%}
    {%- if start is none and end is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if start is none or end is none -%}
        {{ exceptions.raise_compiler_error(
            'nps_partition_start and nps_partition_end go together (got start=' ~ start ~ ', end=' ~ end ~ ')'
        ) }}
    {%- endif -%}
    {%- for value in [start, end] -%}
        {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', value | string) -%}
            {{ exceptions.raise_compiler_error('nps_partition_start/end must be YYYY-MM-DD, got ' ~ value) }}
        {%- endif -%}
    {%- endfor -%}
    {%- if (start | string) > (end | string) -%}
        {{ exceptions.raise_compiler_error('nps_partition_start ' ~ start ~ ' is after nps_partition_end ' ~ end) }}
    {%- endif -%}
    {{ return([start | string, end | string]) }}
{%- endmacro %}

{% macro nps_lookback_days() -%}
    {%- set days = var('nps_lookback_days', 3) | int -%}
    {%- if days < 0 -%}
        {{ exceptions.raise_compiler_error('nps_lookback_days must be >= 0, got ' ~ days) }}
    {%- endif -%}
    {{ return(days) }}
{%- endmacro %}

{% macro nps_processed_at() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}+00:00' as {{ nps_warehouse.type_timestamp_tz() }})
{%- endmacro %}

{% macro nps_incremental_state_relation() -%}
    {#- this.database: none on Spark, which has no databases above schemas -#}
    {{ return(api.Relation.create(
        database=this.database,
        schema='intermediate',
        identifier='nps_incremental_state',
    )) }}
{%- endmacro %}

{#- The days a run reprocesses whatever changed: the partition range, and the lookback (the
    newest day, a SQL date expression, and the nps_lookback_days before it). -#}
{% macro nps_forced_days(newest_date) -%}
    {%- set range = nps_warehouse.nps_partition_range() -%}
    {%- set lookback = nps_warehouse.nps_lookback_days() -%}
    select calendar_date as response_date
    from (
        {{ nps_warehouse.nps_day_spine(
            'cast(' ~ dbt.dateadd('day', -lookback, newest_date) ~ ' as date)',
            newest_date,
        ) }}
    ) as lookback_days
    {%- if range %}
    union
    select calendar_date as response_date
    from (
        {{ nps_warehouse.nps_day_spine(
            "cast('" ~ range[0] ~ "' as date)",
            "cast('" ~ range[1] ~ "' as date)",
        ) }}
    ) as partition_days
    {%- endif %}
{%- endmacro %}

{#- The days the current (day-level, incremental) model reprocesses: days of validated rows
    written after its watermark, plus the forced days. recount_from (an aggregate's input, one
    row per response with response_date): also the days whose `responses` total in this model
    differs from the input's row count, e.g. after `nps-warehouse forget` deleted responses from
    the input but could not correct the aggregate. -#}
{% macro nps_reprocessed_days(recount_from=none) -%}
    {%- set validated = ref('int_nps_responses_validated') -%}
    select changed.response_date
    from {{ validated }} as changed
    where
        changed.response_date is not null
        and changed._processed_at > coalesce(
            (
                select max(state.processed_at)
                from {{ nps_warehouse.nps_incremental_state_relation() }} as state
                where state.model_name = '{{ this.identifier }}'
            ),
            cast('1900-01-01 00:00:00+00:00' as {{ nps_warehouse.type_timestamp_tz() }})
        )
    union
    {{ nps_warehouse.nps_forced_days(
        '(select max(newest.response_date) from ' ~ validated ~ " as newest where newest.outcome = 'accepted')"
    ) }}
    {%- if recount_from is not none %}
    union
    select coalesce(kept.response_date, expected.response_date) as response_date
    from (
        select response_date, sum(responses) as counted
        from {{ this }}
        group by response_date
    ) as kept
    full outer join (
        select response_date, count(*) as counted
        from {{ recount_from }}
        group by response_date
    ) as expected
        on kept.response_date = expected.response_date
    where coalesce(kept.counted, -1) <> coalesce(expected.counted, -1)
    {%- endif %}
{%- endmacro %}

{#- Where partitions are overwritten, partitioned by model_name: each model overwrites its own
    partition (nps_record_processed). -#}
{% macro nps_create_incremental_state() -%}
    create table if not exists {{ nps_warehouse.nps_incremental_state_relation() }} (
        model_name {{ dbt.type_string() }},
        processed_at {{ nps_warehouse.type_timestamp_tz() }}
    )
    {%- if nps_warehouse.nps_overwrites_partitions() %}
    using parquet
    partitioned by (model_name)
    {%- endif %}
{%- endmacro %}

{#- The statement of a hook that removes this model's rows where `condition` holds (SQL over
    the model's columns, unqualified): a delete; or, where partitions are overwritten (the
    condition then depends on the partition column `day_column` alone), dropping every
    partition holding such a row, listed by a query when the hook runs (Spark drops partitions
    by value only). Nothing when the model is built in full or nothing matches. -#}
{% macro nps_delete_rows_where(day_column, condition) -%}
    {%- if not is_incremental() -%}
    {%- elif not nps_warehouse.nps_overwrites_partitions() -%}
        delete from {{ this }}
        where {{ condition }}
    {%- else -%}
        {%- set partitions = run_query(
            'select distinct cast(' ~ day_column ~ ' as ' ~ dbt.type_string() ~ ') from '
            ~ this ~ ' where ' ~ condition
        ).columns[0].values() -%}
        {%- if partitions -%}
        alter table {{ this }} drop if exists
            {%- for partition in partitions %}
            partition ({{ day_column }} = '{{ partition }}'){{ ',' if not loop.last }}
            {%- endfor %}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- The model's rows: `batch` (a CTE of its query), and where partitions are overwritten, also
    the rows it keeps in the partitions of `partition_column` that the batch touches (insert
    overwrite replaces whole partitions): rows not replaced by key (key_columns) nor on the days
    of `reprocessed_days` (a select of response_date: their old rows all go). Listed in the
    table's column order, which on Spark puts the partition column last. The batch is read
    once, its rows and the kept ones told apart by windows: Spark inlines a CTE at every
    reference, and int_nps_responses_validated reading its batch three times took 6 minutes
    on the test fixtures (17 s for its full build). -#}
{% macro nps_with_kept_rows(batch, partition_column, key_columns, reprocessed_days=none) -%}
    {%- if execute and is_incremental() and nps_warehouse.nps_overwrites_partitions() -%}
        {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | join(', ') -%}
    select {{ columns }}
    from (
        select
            {{ columns }},
            is_kept,
            max(1 - is_kept) over (partition by {{ partition_column }}) as is_touched,
            max(1 - is_kept) over (partition by {{ key_columns | join(', ') }}) as is_replaced
        from (
            select {{ columns }}, 0 as is_kept
            from {{ batch }}
            union all
            select {{ columns }}, 1 as is_kept
            from {{ this }}
            {%- if reprocessed_days is not none %}
            where {{ partition_column }} not in ({{ reprocessed_days }})
            {%- endif %}
        ) as batch_and_kept
    ) as marked
    where is_kept = 0 or (is_touched = 1 and is_replaced = 0)
    {%- else -%}
    select * from {{ batch }}
    {%- endif -%}
{%- endmacro %}

{#- pre-hook: delete the reprocessed days first, so a day that lost every row is emptied too. -#}
{% macro nps_delete_reprocessed_days(day_column, recount_from=none) -%}
    {{ nps_warehouse.nps_delete_rows_where(
        day_column,
        day_column ~ ' in (' ~ nps_warehouse.nps_reprocessed_days(recount_from) ~ ')',
    ) }}
{%- endmacro %}

{#- post-hook, inside the model's transaction: this run's validated rows are now processed.
    Appended, never updated (readers take the newest processed_at per model): every engine can
    append, not every engine can delete. Where partitions are overwritten, the model overwrites
    its own partition instead: two dbt threads appending to one Spark table at once collide on
    its staging files, while a dynamic partition overwrite stages in a folder of its own (the
    incremental materialization sets spark.sql.sources.partitionOverwriteMode to dynamic for a
    partitioned model; in static mode this statement would empty every partition). -#}
{% macro nps_record_processed() -%}
    {%- if nps_warehouse.nps_overwrites_partitions() -%}
    insert overwrite table {{ nps_warehouse.nps_incremental_state_relation() }} partition (model_name)
    select
        {{ nps_warehouse.nps_processed_at() }} as processed_at,
        '{{ this.identifier }}' as model_name
    {%- else -%}
    insert into {{ nps_warehouse.nps_incremental_state_relation() }} (model_name, processed_at)
    values ('{{ this.identifier }}', {{ nps_warehouse.nps_processed_at() }})
    {%- endif -%}
{%- endmacro %}


{% macro nps_reprocessed_days_relation() -%}
    {{ return(api.Relation.create(
        database=this.database,
        schema='intermediate',
        identifier='nps_reprocessed_days',
    )) }}
{%- endmacro %}

{#- Appended to by one model only (int_nps_responses_aggregated), and read by the models after
    it: no two writers at once, on any engine. -#}
{% macro nps_create_reprocessed_days_log() -%}
    create table if not exists {{ nps_warehouse.nps_reprocessed_days_relation() }} (
        model_name {{ dbt.type_string() }},
        response_date date,
        processed_at {{ nps_warehouse.type_timestamp_tz() }}
    )
    {%- if nps_warehouse.nps_overwrites_partitions() %}
    using parquet
    {%- endif %}
{%- endmacro %}

{#- pre-hook, before the model's query: the days this run reprocesses, computed once and logged
    for the model and the models after it (a failed run rolls its log back with its rows). -#}
{% macro nps_log_reprocessed_days(recount_from=none) -%}
    {%- if is_incremental() -%}
        insert into {{ nps_warehouse.nps_reprocessed_days_relation() }} (model_name, response_date, processed_at)
        select distinct
            '{{ this.identifier }}',
            reprocessed.response_date,
            {{ nps_warehouse.nps_processed_at() }}
        from ({{ nps_warehouse.nps_reprocessed_days(recount_from) }}) as reprocessed
        where reprocessed.response_date is not null
    {%- endif -%}
{%- endmacro %}

{% macro nps_logged_days() -%}
    select logged.response_date
    from {{ nps_warehouse.nps_reprocessed_days_relation() }} as logged
    where
        logged.model_name = '{{ this.identifier }}'
        and logged.processed_at = {{ nps_warehouse.nps_processed_at() }}
{%- endmacro %}

{% macro nps_delete_logged_days(day_column) -%}
    {{ nps_warehouse.nps_delete_rows_where(
        day_column, day_column ~ ' in (' ~ nps_warehouse.nps_logged_days() ~ ')'
    ) }}
{%- endmacro %}

{#- The days a model after `upstream` (a model that logs its days) reprocesses: every day
    upstream logged after this model's own watermark (several runs' worth if this model failed
    or was skipped since), plus the partition range. -#}
{% macro nps_upstream_days(upstream) -%}
    {%- set range = nps_warehouse.nps_partition_range() -%}
    select logged.response_date
    from {{ nps_warehouse.nps_reprocessed_days_relation() }} as logged
    where
        logged.model_name = '{{ upstream }}'
        and logged.processed_at > coalesce(
            (
                select max(state.processed_at)
                from {{ nps_warehouse.nps_incremental_state_relation() }} as state
                where state.model_name = '{{ this.identifier }}'
            ),
            cast('1900-01-01 00:00:00+00:00' as {{ nps_warehouse.type_timestamp_tz() }})
        )
    {%- if range %}
    union
    select calendar_date as response_date
    from (
        {{ nps_warehouse.nps_day_spine(
            "cast('" ~ range[0] ~ "' as date)",
            "cast('" ~ range[1] ~ "' as date)",
        ) }}
    ) as partition_days
    {%- endif %}
{%- endmacro %}

{% macro nps_delete_upstream_days(day_column, upstream) -%}
    {{ nps_warehouse.nps_delete_rows_where(
        day_column, day_column ~ ' in (' ~ nps_warehouse.nps_upstream_days(upstream) ~ ')'
    ) }}
{%- endmacro %}

{% macro nps_first_upstream_day(upstream) -%}
    (select min(upstream_days.response_date) from ({{ nps_warehouse.nps_upstream_days(upstream) }}) as upstream_days)
{%- endmacro %}

{#- post-hook of a model replacing rows by another key than the day: rows on the upstream days
    that this run did not rewrite (their key had nothing left to insert) are gone upstream.
    Where partitions are overwritten this drops whole upstream days: a day the batch touched
    holds this run's rows only (nps_with_kept_rows keeps no old row on them), so a day
    holding an older row is one the batch left alone, all of whose rows are gone. -#}
{% macro nps_delete_unreplaced_rows(day_column, upstream) -%}
    {{ nps_warehouse.nps_delete_rows_where(
        day_column,
        day_column ~ ' in (' ~ nps_warehouse.nps_upstream_days(upstream) ~ ')'
        ~ ' and _processed_at <> ' ~ nps_warehouse.nps_processed_at(),
    ) }}
{%- endmacro %}

{#- The value of `query` (one row, one date column cast to a string), run now, as a SQL date
    literal: computed once, before the hooks change the tables it reads; none when null. -#}
{% macro nps_queried_date_literal(query) -%}
    {%- set value = run_query(query).columns[0].values()[0] -%}
    {%- if value is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return("cast('" ~ value ~ "' as date)") }}
{%- endmacro %}

{#- int_nps_latest_changes_rolled_up (incremental): the first change_date a run recomputes, as a
    SQL date literal (computed by query, once in the model's SQL and once in its delete hook,
    both before that hook runs; none when not incremental or nothing changed upstream). The
    model keeps the changes dated up to the newest response day only, as no later day has a
    window count: so besides the changes from the first day int_nps_responses_aggregated
    reprocessed on, a run computes the ones after the last day the table holds (the exits of
    older responses falling on the days added since). A day of changes that all cancelled out
    leaves no row: the run then recomputes from there, which is only more work. -#}
{% macro nps_latest_changes_first_day() -%}
    {%- if not (execute and is_incremental()) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set first_upstream_day = nps_warehouse.nps_first_upstream_day('int_nps_responses_aggregated') -%}
    {{ return(nps_warehouse.nps_queried_date_literal(
        "select cast(case when " ~ first_upstream_day ~ " is not null then least(
            " ~ first_upstream_day ~ ",
            coalesce(
                cast(" ~ dbt.dateadd('day', 1, '(select max(kept.change_date) from ' ~ this ~ ' as kept)') ~ " as date),
                " ~ first_upstream_day ~ "
            )
        ) end as " ~ dbt.type_string() ~ ")"
    )) }}
{%- endmacro %}

{#- int_nps_latest_changes_rolled_up pre-hook: the changes it recomputes go first. -#}
{% macro nps_latest_changes_delete_recomputed_days() -%}
    {%- if is_incremental() -%}
        {%- set first_day = nps_warehouse.nps_latest_changes_first_day() -%}
        {%- if first_day -%}
            {{ nps_warehouse.nps_delete_rows_where('change_date', 'change_date >= ' ~ first_day) }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- nps_rolling (incremental): the first calendar day a run recomputes, as a SQL date expression
    (a literal, computed once by query before the model's pre-hooks change anything; none when
    not incremental). A change on day d moves window counts from d on only, so: the first day
    int_nps_responses_aggregated reprocessed, or the day after the last one built (days added at
    the end, with any gap), or the first day altogether when the table is empty or a segment
    lost every response (its rows must go). -#}
{% macro nps_rolling_first_recomputed_day() -%}
    {%- if not (execute and is_incremental()) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set segment_days = ref('int_nps_segment_days_rolled_up') -%}
    {{ return(nps_warehouse.nps_queried_date_literal(
        "select cast(least(
            " ~ nps_warehouse.nps_first_upstream_day('int_nps_responses_aggregated') ~ ",
            coalesce(
                cast(" ~ dbt.dateadd('day', 1, '(select max(built.calendar_date) from ' ~ this ~ ' as built)') ~ " as date),
                (select min(days.response_date) from " ~ segment_days ~ " as days)
            ),
            case when exists (
                select 1
                from " ~ this ~ " as built
                where
                    built.calendar_date = (select max(last_built.calendar_date) from " ~ this ~ " as last_built)
                    and " ~ nps_warehouse.nps_segment_key('built.') ~ " not in (
                        select " ~ nps_warehouse.nps_segment_key('days.') ~ " from " ~ segment_days ~ " as days
                    )
            ) then (select min(days.response_date) from " ~ segment_days ~ " as days) end
        ) as " ~ dbt.type_string() ~ ")"
    )) }}
{%- endmacro %}

{#- nps_rolling pre-hook: the recomputed days go, and the days before the first response. -#}
{% macro nps_rolling_delete_recomputed_days() -%}
    {%- if is_incremental() -%}
        {%- set first_day = nps_warehouse.nps_rolling_first_recomputed_day() -%}
        {%- set segment_days = ref('int_nps_segment_days_rolled_up') -%}
        {{ nps_warehouse.nps_delete_rows_where(
            'calendar_date',
            ('calendar_date >= ' ~ first_day ~ ' or ' if first_day else '')
            ~ 'calendar_date < (select min(days.response_date) from ' ~ segment_days ~ ' as days)'
            ~ ' or not exists (select 1 from ' ~ segment_days ~ ')',
        ) }}
    {%- endif -%}
{%- endmacro %}
