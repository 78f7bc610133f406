{#- Step 5 of macros/nps_incremental.sql: which rows a run of an incremental mart wrote, for its
    GX suite, which validates only the rows rebuilt since it last passed
    (orchestration/quality/rebuilt_rows.py). One row per run in `intermediate.nps_rebuilt_from`:
    the model rewrote its rows of first_day and after (first_day null: every row).

    Signatures (stable):
        nps_rebuilt_from_relation()       -> the log
        nps_create_rebuilt_from_log()     pre-hook
        nps_log_rebuilt_from(first_day)   pre-hook: logs first_day (a SQL date; none: a full build)
        nps_rolling_first_written_day()   -> SQL date nps_rolling writes rows from (none: all)
        nps_first_reprocessed_day(every_day=false)
                                          -> SQL date a model incremental by reprocessed day
                                             writes rows from (none: all)
-#}

{% macro nps_rebuilt_from_relation() -%}
    {{ return(api.Relation.create(
        database=this.database,
        schema='intermediate',
        identifier='nps_rebuilt_from',
    )) }}
{%- endmacro %}

{% macro nps_create_rebuilt_from_log() -%}
    {{ adapter.dispatch('nps_create_rebuilt_from_log', 'nps_warehouse')() }}
{%- endmacro %}

{#- Spark: not logged; the nps_rolling suite reads every row there (rebuilt_rows.py). -#}
{% macro spark__nps_create_rebuilt_from_log() -%}
{%- endmacro %}

{% macro default__nps_create_rebuilt_from_log() -%}
    create table if not exists {{ nps_warehouse.nps_rebuilt_from_relation() }} (
        model_name {{ dbt.type_string() }},
        first_day date,
        processed_at {{ nps_warehouse.type_timestamp_tz() }}
    )
{%- endmacro %}

{#- pre-hook, in the model's transaction (a failed run logs nothing), before the hooks that
    delete rows. -#}
{% macro nps_log_rebuilt_from(first_day) -%}
    {{ adapter.dispatch('nps_log_rebuilt_from', 'nps_warehouse')(first_day) }}
{%- endmacro %}

{% macro spark__nps_log_rebuilt_from(first_day) -%}
{%- endmacro %}

{% macro default__nps_log_rebuilt_from(first_day) -%}
    insert into {{ nps_warehouse.nps_rebuilt_from_relation() }} (model_name, first_day, processed_at)
    select
        '{{ this.identifier }}',
        {% if first_day %}cast({{ first_day }} as date){% else %}cast(null as date){% endif %},
        {{ nps_warehouse.nps_processed_at() }}
{%- endmacro %}

{#- nps_rolling: the first day whose rows a run writes. The first recomputed day, unless a segment
    is new in this run: the model then writes its zero rows for the kept days too, from the
    first day on. None (every row): a full build. -#}
{% macro nps_rolling_first_written_day() -%}
    {%- set first_day = nps_warehouse.nps_rolling_first_recomputed_day() -%}
    {%- if first_day is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set segment_days = ref('int_nps_segment_days_rolled_up') -%}
    {{ return(
        "least(" ~ first_day ~ ", case when exists (
            select 1
            from " ~ segment_days ~ " as days
            where " ~ nps_warehouse.nps_segment_key('days.') ~ " not in (
                select " ~ nps_warehouse.nps_segment_key('built.') ~ "
                from " ~ this ~ " as built
                where built.calendar_date = (select max(last_built.calendar_date) from " ~ this ~ " as last_built)
            )
        ) then (select min(first_days.response_date) from " ~ segment_days ~ " as first_days) end)"
    ) }}
{%- endmacro %}

{#- The models incremental by reprocessed day (fct_nps_responses, for its GX suite; the theme
    models, for their scoped dbt tests) rewrite the days they reprocess: the first of them. A run
    that reprocessed no day logs 9999-12-31 (it rewrote no row). None (every row): a full build,
    or `every_day` (the theme models when the tagging changed). -#}
{% macro nps_first_reprocessed_day(every_day=false) -%}
    {%- if not is_incremental() or every_day -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(
        "coalesce((select min(reprocessed.response_date) from ("
        ~ nps_warehouse.nps_reprocessed_days()
        ~ ") as reprocessed), cast('9999-12-31' as date))"
    ) }}
{%- endmacro %}
