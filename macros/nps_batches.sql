{#- Models built in batches (nps_category_migration, int_nps_latest_changes_rolled_up): when a run
    recomputes a large history, one query for everything spills more than the disk holds or runs
    out of DuckDB's memory (bench/README.md, 100M responses). Such a model plans its batches
    (a list; [none] means one query), computes the first in its own query and stages the others
    in a pre-hook, one query each, into a temporary table its query appends:

        pre_hook:  "{{ nps_stage_batches(batches, batch_ctes_macro, last_cte) }}"
        query:     with {{ batch_ctes_macro(batches[0]) }} ... union all
                   select * from {{ nps_staged_batches_relation() }}   (when batches | length > 1)
        post_hook: "drop table if exists {{ nps_staged_batches_relation() }}"

    The planner runs when the model's query is compiled and again in the pre-hook, before the
    model writes anything, so the two agree.

    Signatures:
        nps_staged_batches_relation()                       -> the temporary table's name
        nps_stage_batches(batches, batch_ctes, last_cte)    pre-hook
        nps_runs_of_rows(rows, key, weight, limit, with_previous=false)
                                                            -> [{first, end, weight}]
        nps_batch_range_conditions(batch, column, first=none) -> [SQL conditions]
        nps_all_of(conditions)                              -> one SQL condition
-#}

{#- The temporary table (this session only) that holds a model's batches after the first. -#}
{% macro nps_staged_batches_relation() -%}
    {{ this.identifier }}__batches
{%- endmacro %}


{#- Pre-hook: each batch after the first, as `with <batch_ctes(batch)> select * from <last_cte>`,
    into nps_staged_batches_relation(); nothing for a single batch. -#}
{% macro nps_stage_batches(batches, batch_ctes, last_cte) %}
    {%- if batches | length > 1 -%}
        {{ log(this.identifier ~ ': ' ~ batches | length ~ ' batches', info=true) }}
        {%- set staged = nps_warehouse.nps_staged_batches_relation() -%}
        {%- do run_query('drop table if exists ' ~ staged) -%}
        {%- for batch in batches[1:] -%}
            {%- set batch_query = 'with\n' ~ batch_ctes(batch) ~ '\nselect * from ' ~ last_cte -%}
            {%- if loop.first -%}
                {%- do run_query('create temporary table ' ~ staged ~ ' as\n' ~ batch_query) -%}
            {%- else -%}
                {%- do run_query('insert into ' ~ staged ~ '\n' ~ batch_query) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{% endmacro %}


{#- nps_runs_of_rows(rows, key, weight, limit, with_previous=false): `rows` (ordered by `key`, e.g.
    a run_query's rows) cut into runs of consecutive rows whose `weight`s sum to `limit` at most (a
    run has one row at least): [{first, end, weight}], `first` the key of its first row as a
    string (none for the first run), `end` the next run's first (none for the last).
    with_previous: a run also weighs the row before its first (a batch that reads it too). -#}
{% macro nps_runs_of_rows(rows, key, weight, limit, with_previous=false) %}
    {%- set runs = [] -%}
    {%- set state = namespace(run=none, previous=0) -%}
    {%- for row in rows -%}
        {%- set row_weight = row[weight] | int -%}
        {%- if state.run is not none and state.run['weight'] + row_weight <= limit -%}
            {%- do state.run.update({'weight': state.run['weight'] + row_weight}) -%}
        {%- else -%}
            {%- if state.run is not none -%}
                {%- do state.run.update({'end': row[key] | string}) -%}
                {%- do runs.append(state.run) -%}
            {%- endif -%}
            {%- set state.run = {
                'first': none if state.run is none else row[key] | string,
                'end': none,
                'weight': row_weight + (state.previous if with_previous else 0),
            } -%}
        {%- endif -%}
        {%- set state.previous = row_weight -%}
    {%- endfor -%}
    {%- if state.run is not none -%}
        {%- do runs.append(state.run) -%}
    {%- endif -%}
    {{ return(runs) }}
{% endmacro %}


{#- nps_batch_range_conditions(batch, column, first=none): `column` (a date) within the batch's
    [first, end), as a list of SQL conditions (none for a missing bound or batch). first: a SQL
    expression to use for the lower bound instead of the batch's first date (e.g. shifted back). -#}
{% macro nps_batch_range_conditions(batch, column, first=none) %}
    {%- set conditions = [] -%}
    {%- if batch and batch.first -%}
        {%- do conditions.append(column ~ ' >= ' ~ (first or "cast('" ~ batch.first ~ "' as date)")) -%}
    {%- endif -%}
    {%- if batch and batch.end -%}
        {%- do conditions.append(column ~ " < cast('" ~ batch.end ~ "' as date)") -%}
    {%- endif -%}
    {{ return(conditions) }}
{% endmacro %}


{#- nps_all_of(conditions): the SQL conditions joined by `and`; true for none. -#}
{% macro nps_all_of(conditions) -%}
    {{ conditions | join(' and ') if conditions else '1 = 1' }}
{%- endmacro %}
