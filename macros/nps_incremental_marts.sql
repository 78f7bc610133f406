{#- Incremental processing of the marts after the facts (README "Incremental models"), beside
    macros/nps_incremental.sql, whose days and hooks they reuse:

    1. The comment-theme models after int_comment_themes_tagged (int_comment_themes_listed,
       fct_comment_themes) replace the days they reprocess (their own watermark, as
       fct_nps_responses), or every day when the tagging changed (theme_tagging_changed(): the
       version they record also holds int_comment_themes_tagged's source, so they follow its
       full retags). Their hooks are the tagged model's (delete_retagged_days, ...).
    2. dim_respondents (one row per respondent) recomputes the respondents whose rows the
       reprocessed days can have changed, from all their facts, and replaces their rows
       (delete+insert on respondent_id). Spark has no partition that fits a respondent: it is
       built in full there.
    3. nps_rolling's dbt data tests read the rows its run rewrote: their `where` config holds
       the placeholder __nps_rebuilt_rows__, which the test's get_where_subquery replaces, when
       the test runs, with the condition on the rows of the first day logged by the model in
       this invocation (macros/nps_rebuilt_from.sql); every row when the model logged a full
       build, was not built in this invocation (`dbt test` alone), or logs nothing (Spark).
    4. nps_theme_drivers recomputes by month, as the period marts (macros/nps_periods.sql): the
       months holding a day int_nps_responses_aggregated reprocessed since its watermark, and
       the months after them (they compare with the month before), reading those months and the
       months before them; every month when the tagging changed, as the theme models above.

    Signatures (stable):
        nps_retagged_days_filter(day_column)  -> `where` clause of a theme model's input, or ''
        nps_theme_driver_months_condition(column, with_previous=false)
                                              -> SQL condition on a month-start column: the
                                                 months recomputed (with_previous: and read)
        nps_incremental_or_table()            -> materialized config: 'incremental' ('table' on Spark)
        nps_recomputed_respondents(facts)     -> select of respondent_id dim_respondents recomputes
        nps_delete_respondents_without_facts(facts)  post-hook
        nps_rebuilt_rows_condition(relation, day_column)  -> SQL condition of the rebuilt rows
        nps_rebuilt_rows_in(where, placeholder, relation, day_column)  -> `where`, placeholder
                                                 replaced by that condition
        default__get_where_subquery(relation)  dbt's, with the placeholders
                                                 __nps_rebuilt_rows__ (calendar_date) and
                                                 __nps_rebuilt_response_days__ (response_date)
-#}

{#- The input rows of a theme model: the reprocessed days, or every day when the tagging changed
    (delete_retagged_days emptied the table). -#}
{% macro nps_retagged_days_filter(day_column) -%}
    {%- if is_incremental() and not nps_warehouse.theme_tagging_changed() -%}
    where {{ day_column }} in ({{ nps_warehouse.nps_reprocessed_days() }})
    {%- endif -%}
{%- endmacro %}

{#- A unit test builds from its given rows alone: every month. -#}
{% macro nps_theme_driver_months_condition(column, with_previous=false) -%}
    {%- if model.resource_type == 'unit_test' or not is_incremental() or nps_warehouse.theme_tagging_changed() -%}
        1 = 1
    {%- else -%}
        {{ column }} in ({{ nps_warehouse.nps_recomputed_period_starts(
            ['month'], with_next=true, with_previous=with_previous
        ) }})
    {%- endif -%}
{%- endmacro %}

{#- A model keyed on something that is not a day: incremental where rows are deleted, a table
    where whole partitions are overwritten (Spark). -#}
{% macro nps_incremental_or_table() -%}
    {{ return('table' if nps_warehouse.nps_overwrites_partitions() else 'incremental') }}
{%- endmacro %}

{#- dim_respondents: the respondents with a fact on a reprocessed day (their rows there are new
    or changed), plus those whose row spans a reprocessed day (first_response_date ..
    last_response_date): a response that left the facts (a removed file, a response now a
    duplicate, one moved to another respondent) was on a reprocessed day and left no trace
    but there. A new day's run so touches the respondents of the newest days only. -#}
{% macro nps_recomputed_respondents(facts) -%}
    select changed.respondent_id
    from {{ facts }} as changed
    where
        changed.respondent_id is not null
        and changed.response_date in ({{ nps_warehouse.nps_reprocessed_days() }})
    union
    select kept.respondent_id
    from {{ this }} as kept
    where exists (
        select 1
        from ({{ nps_warehouse.nps_reprocessed_days() }}) as reprocessed
        where reprocessed.response_date between kept.first_response_date and kept.last_response_date
    )
{%- endmacro %}

{#- post-hook of dim_respondents, before its watermark moves: a recomputed respondent with no
    fact left has no row to replace theirs (delete+insert only deletes the keys it inserts). -#}
{% macro nps_delete_respondents_without_facts(facts) -%}
    {%- if is_incremental() -%}
    delete from {{ this }} as respondents
    where
        respondents.respondent_id in ({{ nps_warehouse.nps_recomputed_respondents(facts) }})
        -- an anti-join (at 10m: 0.8 s, where `not in` over every fact's respondent took 1.4 s)
        and not exists (
            select 1
            from {{ facts }} as remaining
            where remaining.respondent_id = respondents.respondent_id
        )
    {%- endif -%}
{%- endmacro %}

{#- The rows of `relation` its run in this invocation rewrote: day_column on or after the first
    day it logged (rows without a day too: no run can claim them). '1 = 1' (every row) when
    anything is unknown. Queried when the test runs, never at parse time. -#}
{% macro nps_rebuilt_rows_condition(relation, day_column) -%}
    {%- if not execute or target.type == 'spark' -%}
        {{ return('1 = 1') }}
    {%- endif -%}
    {%- set log = api.Relation.create(
        database=relation.database, schema='intermediate', identifier='nps_rebuilt_from'
    ) -%}
    {%- if adapter.get_relation(log.database, log.schema, log.identifier) is none -%}
        {{ return('1 = 1') }}
    {%- endif -%}
    {%- set logged = run_query(
        "select count(*), count(first_day), cast(min(first_day) as " ~ dbt.type_string() ~ ")"
        ~ " from " ~ log
        ~ " where model_name = '" ~ relation.identifier ~ "'"
        ~ " and processed_at = " ~ nps_warehouse.nps_processed_at()
    ).rows[0] -%}
    {%- if logged[0] == 0 or logged[1] < logged[0] -%}
        {{ return('1 = 1') }}
    {%- endif -%}
    {{ return(
        '(' ~ day_column ~ " >= cast('" ~ logged[2] ~ "' as date) or " ~ day_column ~ ' is null)'
    ) }}
{%- endmacro %}

{#- `where` with `placeholder` replaced by the rows of `relation` its run rewrote (by day_column);
    the log is only queried when the placeholder is there. -#}
{% macro nps_rebuilt_rows_in(where, placeholder, relation, day_column) -%}
    {%- if where and placeholder in where -%}
        {{ return(where | replace(
            placeholder, nps_warehouse.nps_rebuilt_rows_condition(relation, day_column)
        )) }}
    {%- endif -%}
    {{ return(where) }}
{%- endmacro %}

{#- dbt's, plus the placeholders of the rows a model's run rewrote: __nps_rebuilt_rows__
    (nps_rolling's calendar days) and __nps_rebuilt_response_days__ (the theme models' response
    days). A test's `where` config is rendered at parse time, without macros or the run's
    moment. -#}
{% macro default__get_where_subquery(relation) -%}
    {%- set where = nps_warehouse.nps_rebuilt_rows_in(
        nps_warehouse.nps_rebuilt_rows_in(
            config.get('where', ''), '__nps_rebuilt_rows__', relation, 'calendar_date'
        ),
        '__nps_rebuilt_response_days__', relation, 'response_date',
    ) -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- else -%}
        {{ return(relation) }}
    {%- endif -%}
{%- endmacro %}
