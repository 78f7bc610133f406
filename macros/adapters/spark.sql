{#- Apache Spark (dbt-spark) versions of the project's dispatched macros: the generic and
    default__ (DuckDB) versions are next to their callers (macros/parsing.sql, comments.sql,
    nps_statistics.sql) or in macros/cross_database.sql.

    Two Spark habits shape them:
    - string literals take backslash escapes ('\b' is a backspace, '\.' is '.'), so a regular
      expression written for DuckDB is passed through spark_string_literal_of();
    - regular expressions are Java's, which has no POSIX bracket classes: [:space:] and [:punct:]
      become \p{Space} and \p{Punct} (the same ASCII sets). -#}


{#- A regular expression written for DuckDB (RE2) as the body of a Spark SQL string literal. -#}
{% macro spark_string_literal_of(pattern) -%}
    {{- pattern
        | replace('[:space:]', '\\p{Space}')
        | replace('[:punct:]', '\\p{Punct}')
        | replace('\\', '\\\\')
        | replace("'", "\\'") -}}
{%- endmacro %}


{% macro spark__regex_full_match(expression, pattern) -%}
    ({{ expression }} rlike '^(?:{{ nps_warehouse.spark_string_literal_of(pattern) }})$')
{%- endmacro %}


{#- The session time zone is UTC (profiles.yml), so from_utc_timestamp gives the wall clock. -#}
{% macro spark__local_date(timestamp) -%}
    cast(from_utc_timestamp({{ timestamp }}, '{{ var("nps_timezone") }}') as date)
{%- endmacro %}


{% macro spark__type_timestamp_tz() -%}
    timestamp
{%- endmacro %}


{% macro spark__nps_double_type() -%}
    double
{%- endmacro %}


{#- Spark has no Unicode decomposition in SQL: the accented letters of the supported languages,
    mapped by hand (like DuckDB's strip_accents, letters without a decomposition such as "ł" and
    "ø" stay). -#}
{% macro spark__strip_accents_of(text) -%}
    translate(
        {{ text }},
        'àáâãäåąćçčèéêëęěìíîïñńňòóôõöřśšşťùúûüůýÿźżž'
        || 'ÀÁÂÃÄÅĄĆÇČÈÉÊËĘĚÌÍÎÏÑŃŇÒÓÔÕÖŘŚŠŞŤÙÚÛÜŮÝŸŹŻŽ',
        'aaaaaaaccceeeeeeiiiinnnooooorssstuuuuuyyzzz'
        || 'AAAAAAACCCEEEEEEIIIINNNOOOOORSSSTUUUUUYYZZZ'
    )
{%- endmacro %}


{% macro spark__matches_whole_words(text, pattern) -%}
    ({{ text }} rlike concat('\\b(?:', {{ pattern }}, ')\\b'))
{%- endmacro %}


{% macro spark__remove_whole_words(text, pattern) -%}
    regexp_replace({{ text }}, concat('\\b(?:', {{ pattern }}, ')\\b'), ' ')
{%- endmacro %}


{#- Spark has no information_schema: the columns are listed from the catalog when the query
    runs and written into it as values. -#}
{% macro spark__catalog_columns(schema_name) -%}
    {%- set rows = [] -%}
    {%- if execute -%}
        {%- for table in run_query('show tables in ' ~ schema_name) -%}
            {%- set relation = api.Relation.create(schema=schema_name, identifier=table[1]) -%}
            {%- for column in adapter.get_columns_in_relation(relation) -%}
                {%- do rows.append(
                    '(' ~ nps_warehouse.spark_literal(schema_name) ~ ', '
                    ~ nps_warehouse.spark_literal(relation.identifier) ~ ', '
                    ~ nps_warehouse.spark_literal(column.name) ~ ')'
                ) -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if rows -%}
    select * from (
        values {{ rows | join(', ') }}
    ) as catalog_columns (table_schema, table_name, column_name)
    {%- else -%}
    select
        cast(null as string) as table_schema,
        cast(null as string) as table_name,
        cast(null as string) as column_name
    where false
    {%- endif %}
{%- endmacro %}


{#- A Python value (a seed cell, a name) as a Spark SQL literal. -#}
{% macro spark_literal(value) -%}
    {%- if value is none -%}
        null
    {%- elif value is sameas true or value is sameas false -%}
        {{ 'true' if value else 'false' }}
    {%- elif value is number -%}
        {{ value }}
    {%- else -%}
        '{{ (value | string) | replace('\\', '\\\\') | replace("'", "\\'") }}'
    {%- endif -%}
{%- endmacro %}


{#- Seeds: dbt-spark's session method pastes bound values into the statement as '<value>', so an
    empty cell becomes the text 'None' and an apostrophe breaks the statement; the values are
    written as escaped literals instead (the same statement for every connection method). -#}
{% macro spark__load_csv_rows(model, agate_table) %}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(get_batch_size()) -%}
        {%- set sql -%}
            insert into {{ this.render() }} values
            {%- for row in chunk %}
            (
                {%- for col_name in agate_table.column_names -%}
                    {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
                    {%- set type = column_override.get(col_name, inferred_type) -%}
                    cast({{ nps_warehouse.spark_literal(row[loop.index0]) }} as {{ type }})
                    {{- ', ' if not loop.last -}}
                {%- endfor -%}
            ){{ ',' if not loop.last }}
            {%- endfor %}
        {%- endset -%}
        {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
        {%- if loop.index0 == 0 -%}
            {%- do statements.append(sql) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(statements[0]) }}
{% endmacro %}


{#- dbt.date_spine: Spark generates the range itself (dbt-spark's generic version cross-joins
    2^n rows and numbers them in one task, which takes long for a 40-year time spine). The end
    is exclusive, as in dbt's. -#}
{% macro spark__date_spine(datepart, start_date, end_date) -%}
    select
        explode(sequence(
            cast({{ start_date }} as timestamp),
            cast({{ end_date }} as timestamp) - interval 1 {{ datepart }},
            interval 1 {{ datepart }}
        )) as date_{{ datepart }}
{%- endmacro %}


{#- dbt.listagg: dbt-spark's version ignores the order (`order by theme` lists the themes in
    whatever order the rows arrived); here the values are collected with their sort key, sorted,
    and joined. `order_by_clause` is `order by <expression> [asc|desc]`. -#}
{% macro spark__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- if order_by_clause -%}
        {%- set order = order_by_clause | trim -%}
        {%- set descending = modules.re.search('(?i)\\sdesc$', order) is not none -%}
        {%- set key = modules.re.sub('(?i)^order\\s+by\\s+|\\s+(asc|desc)$', '', order) -%}
        {%- set collected -%}
            transform(
                array_sort(collect_list(named_struct('key', {{ key }}, 'value', {{ measure }}))),
                entry -> entry.value
            )
        {%- endset -%}
        {%- if descending -%}{%- set collected = 'reverse(' ~ collected ~ ')' -%}{%- endif -%}
    {%- else -%}
        {%- set collected = 'collect_list(' ~ measure ~ ')' -%}
    {%- endif -%}
    {%- if limit_num -%}{%- set collected = 'slice(' ~ collected ~ ', 1, ' ~ limit_num ~ ')' -%}{%- endif -%}
    array_join({{ collected }}, {{ delimiter_text }})
{%- endmacro %}


{#- Complementary suppression (macros/anonymity.sql) with each round materialised: Spark
    inlines CTEs, and analysing one query of 12 nested rounds takes minutes. The rounds are
    written one after the other into a work table next to the model (partitioned by round; each
    round reads the previous one once; the round is text: the embedded metastore cannot filter
    partitions by a number), and stop as soon as one hides nothing new: the next
    rounds could not change anything either, so the result is that of running all of them. The
    model's query then reads the last round; its post-hook drop_suppression_rounds() drops the
    work table. Needs the caller's `inputs`; without them (a unit test, whose inputs are
    fixtures injected later) the rounds stay CTEs. -#}
{% macro spark__complementary_suppression_ctes(
    cells, edges, scope_columns, k, rounds, prefix, forced_column, inputs
) -%}
    {%- if not execute or inputs is none or model.resource_type == 'unit_test' -%}
        {{ return(nps_warehouse.default__complementary_suppression_ctes(
            cells, edges, scope_columns, k, rounds, prefix, forced_column, inputs
        )) }}
    {%- endif -%}
    {%- set work_table = nps_warehouse.suppression_rounds_relation() -%}
    {%- do run_query('drop table if exists ' ~ work_table) -%}
    {%- set first_round -%}
        create table {{ work_table }}
        using parquet
        partitioned by (suppression_round)
        as
        {{ inputs }},

        {{ prefix }}_memberships as (

            {{ nps_warehouse._suppression_memberships(edges) }}

        )

        select first_round.*, '0' as suppression_round
        from (
            {{ nps_warehouse._suppression_first_round(
                cells, prefix ~ '_memberships', scope_columns, k, forced_column
            ) }}
        ) as first_round
    {%- endset -%}
    {%- do run_query(first_round) -%}
    {%- set state = namespace(round=0, hidden=nps_warehouse._spark_hidden_cells(work_table, 0)) -%}
    {%- for round in range(1, rounds + 1) if state.round == round - 1 -%}
        {%- set next_round -%}
            insert into {{ work_table }} partition (suppression_round = '{{ round }}')
            select * from (
                {{ nps_warehouse._suppression_next_round(
                    '(' ~ nps_warehouse._suppression_partition_state(
                        nps_warehouse._spark_round_of(work_table, round - 1), scope_columns, k
                    ) ~ ') as partitions',
                    scope_columns,
                    k,
                ) }}
            ) as next_round
        {%- endset -%}
        {%- do run_query(next_round) -%}
        {%- set hidden = nps_warehouse._spark_hidden_cells(work_table, round) -%}
        {%- if hidden != state.hidden -%}
            {%- set state.round = round -%}
            {%- set state.hidden = hidden -%}
        {%- endif -%}
    {%- endfor -%}
    {{ prefix }}_unresolved as (

        {{ nps_warehouse._suppression_partition_state(
            nps_warehouse._spark_round_of(work_table, state.round), scope_columns, k
        ) }}

    ),

    {{ prefix }}_final as (

        {{ nps_warehouse._suppression_final(prefix ~ '_unresolved', scope_columns) }}

    )
{%- endmacro %}


{#- One round of the suppression work table, as a FROM item. -#}
{% macro _spark_round_of(work_table, round) -%}
    (
        select *
        from {{ work_table }}
        where suppression_round = '{{ round }}'
    ) as suppression_state
{%- endmacro %}


{#- How many rows of a suppression round are hidden (rounds only ever hide more). -#}
{% macro _spark_hidden_cells(work_table, round) -%}
    {{ return(run_query(
        'select count(*) from ' ~ work_table
        ~ " where suppression_round = '" ~ round ~ "' and is_suppressed"
    ).columns[0].values()[0]) }}
{%- endmacro %}


{% macro spark__not_materialized() -%}
    as
{%- endmacro %}
