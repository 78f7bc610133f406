{#- Theme tagging of comments, shared by the model int_comment_themes_tagged and the tagging
    quality measurement (tests/test_voice_themes.py), so both run exactly the same SQL.

    `comments`: a relation with response_id, language (a code such as "en") and comment (text).
    `keyword_rows`: the rows of seeds/themes.csv (theme_keyword_rows), as dicts with theme,
    language, keyword (a regular expression on normalised text: lower case, no accents) and
    exclude (optional: phrases blanked out before matching that keyword, e.g. "qualite-prix" is
    about price, not quality).

    A comment is matched against its own language's keywords; a comment whose language has no
    keywords (or is unknown) against every language's. Returns one row per response x theme,
    with the `carried` columns of `comments` (names) after them.

    The keywords are written into the SQL as constant patterns: an engine compiles a constant
    regular expression once per query, but a pattern read from a joined column once per row
    (the join shape took 543 s at 1M responses). Keywords of one theme, language and exclude
    are one alternation, a pattern per group instead of per seed row. -#}
{% macro theme_matches(comments, keyword_rows, carried=[]) -%}
    {%- set known_languages = keyword_rows | map(attribute='language') | unique | sort -%}
    {%- set groups = {} -%}
    {%- for row in keyword_rows -%}
        {%- set group_key = (row.theme, row.language, row.exclude) -%}
        {%- do groups.setdefault(group_key, []).append(row.keyword) -%}
    {%- endfor -%}
    {%- set themes = groups.keys() | map(attribute=0) | unique | sort | list -%}
    {%- if not themes %}
    select
        cast(null as {{ dbt.type_string() }}) as response_id,
        cast(null as {{ dbt.type_string() }}) as theme
        {%- for column in carried %},
        {{ column }}
        {%- endfor %}
    from {{ comments }}
    where 1 = 0
    {%- else %}
    select distinct
        matched.response_id,
        theme_list.theme
        {%- for column in carried %},
        matched.{{ column }}
        {%- endfor %}
    from (
        select
            prepared.response_id,
            {%- for column in carried %}
            prepared.{{ column }},
            {%- endfor %}
            {%- for theme in themes %}
            {#- CASE evaluates one language's patterns per comment (an OR evaluates every one) #}
            case prepared.keyword_language
                {%- for language in known_languages %}
                when {{ nps_warehouse.sql_string_literal(language) }} then
                    {%- for group_key in groups if group_key[:2] == (theme, language) %}
                    {{ 'or ' if not loop.first }}{{ nps_warehouse.theme_group_matches(group_key[2], groups[group_key]) }}
                    {%- else %} false
                    {%- endfor %}
                {%- endfor %}
                else
                    {%- for group_key in groups if group_key[0] == theme %}
                    {{ 'or ' if not loop.first }}{{ nps_warehouse.theme_group_matches(group_key[2], groups[group_key]) }}
                    {%- endfor %}
            end as matches_theme_{{ loop.index }}{{ ',' if not loop.last }}
            {%- endfor %}
        from (
            select
                response_id,
                {%- for column in carried %}
                {{ column }},
                {%- endfor %}
                case
                    when language in (
                        {%- for language in known_languages -%}
                        {{ nps_warehouse.sql_string_literal(language) }}{{ ', ' if not loop.last }}
                        {%- endfor -%}
                    ) then language
                end as keyword_language,
                {{ nps_warehouse.normalise_for_matching(nps_warehouse.comment_text('comment')) }}
                    as normalised_comment
            from {{ comments }}
        ) as prepared
        where prepared.normalised_comment is not null
    ) as matched
    cross join (
        values
        {%- for theme in themes %}
            ({{ nps_warehouse.sql_string_literal(theme) }}){{ ',' if not loop.last }}
        {%- endfor %}
    ) as theme_list (theme)
    where
        case theme_list.theme
            {%- for theme in themes %}
            when {{ nps_warehouse.sql_string_literal(theme) }} then matched.matches_theme_{{ loop.index }}
            {%- endfor %}
        end
    {%- endif %}
{%- endmacro %}

{#- True when the normalised comment matches one of `keywords` (regular expressions) as whole
    words, once the phrases of `exclude` (none: nothing) are blanked out. -#}
{% macro theme_group_matches(exclude, keywords) -%}
    {{ nps_warehouse.matches_whole_words(
        'prepared.normalised_comment' if exclude is none
        else nps_warehouse.remove_whole_words(
            'prepared.normalised_comment', nps_warehouse.regex_literal(exclude)
        ),
        nps_warehouse.regex_literal('(?:' ~ keywords | join(')|(?:') ~ ')'),
    ) }}
{%- endmacro %}

{#- The rows of the keyword relation (the `themes` seed) as dicts, read when the model is
    compiled; none at parse time, and none while the seed is not loaded (a compile for the
    linter or the docs: no run can get there, the seed is this model's parent and the tagging
    version changes once it has rows). -#}
{% macro theme_keyword_rows(keywords) -%}
    {%- if not execute or load_relation(keywords) is none -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set found = run_query(
        'select theme, language, keyword, exclude from ' ~ keywords
        ~ ' order by theme, language, keyword, exclude'
    ) -%}
    {%- set rows = [] -%}
    {%- for row in found.rows -%}
        {%- do rows.append({
            'theme': row[0],
            'language': row[1],
            'keyword': row[2],
            'exclude': row[3],
        }) -%}
    {%- endfor -%}
    {{ return(rows) }}
{%- endmacro %}

{#- A text constant as a SQL string literal. -#}
{% macro sql_string_literal(text) -%}
    {{ return(adapter.dispatch('sql_string_literal', 'nps_warehouse')(text)) }}
{%- endmacro %}

{% macro default__sql_string_literal(text) -%}
    '{{ text | replace("'", "''") }}'
{%- endmacro %}

{% macro spark__sql_string_literal(text) -%}
    '{{ text | replace('\\', '\\\\') | replace("'", "\\'") }}'
{%- endmacro %}

{#- A regular expression written for DuckDB (RE2) as a SQL string literal of the engine. -#}
{% macro regex_literal(pattern) -%}
    {{ return(adapter.dispatch('regex_literal', 'nps_warehouse')(pattern)) }}
{%- endmacro %}

{% macro default__regex_literal(pattern) -%}
    {{ nps_warehouse.sql_string_literal(pattern) }}
{%- endmacro %}

{% macro spark__regex_literal(pattern) -%}
    '{{ nps_warehouse.spark_string_literal_of(pattern) }}'
{%- endmacro %}

{#- Incremental tagging (int_comment_themes_tagged): a comment never changes once loaded, so a
    run tags the reprocessed days only (macros/nps_incremental.sql), unless the tagging itself
    changed: other keywords in seeds/themes.csv, other matching macros, or another model file
    (its columns: on_schema_change syncs them, and every row is written again). The version is
    the hash of the model's source and of the tagging SQL, which holds every keyword; each run
    records the version it tagged with, and a run that finds another one (or none: a table
    built before the model was incremental) tags every day again. The models after it
    (int_comment_themes_listed, fct_comment_themes) record a version that also holds its
    source, so they are written again in full whenever it is. -#}
{% macro theme_tagging_version() -%}
    {%- set tagger = graph.get('nodes', {}).get('model.nps_warehouse.int_comment_themes_tagged') -%}
    {%- set tagger_code = tagger.raw_code if tagger and tagger.name != model.name else '' -%}
    {{ return(local_md5(model.raw_code ~ tagger_code ~ nps_warehouse.theme_matches(
        'comments', nps_warehouse.theme_keyword_rows(ref('themes'))
    ))) }}
{%- endmacro %}

{% macro theme_tagging_state_relation() -%}
    {{ return(api.Relation.create(
        database=this.database,
        schema='intermediate',
        identifier='nps_theme_tagging_state',
    )) }}
{%- endmacro %}

{#- True when an incremental run must tag every day again: the recorded version is another. -#}
{% macro theme_tagging_changed() -%}
    {%- if not (execute and is_incremental()) -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set state = theme_tagging_state_relation() -%}
    {%- if adapter.get_relation(state.database, state.schema, state.identifier) is none -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set recorded = run_query(
        'select tagging_version from ' ~ state
        ~ " where model_name = '" ~ this.identifier ~ "' order by processed_at desc limit 1"
    ) -%}
    {{ return(recorded.rows | length == 0 or recorded.rows[0][0] != theme_tagging_version()) }}
{%- endmacro %}

{#- Where partitions are overwritten, partitioned by model_name like the watermark table
    (nps_create_incremental_state): each model records its version by overwriting its own
    partition, as two dbt threads appending to one Spark table at once collide on its staging
    files. A Spark table created before, unpartitioned, must be dropped once (the next run then
    tags every day again). -#}
{% macro create_theme_tagging_state() -%}
    create table if not exists {{ nps_warehouse.theme_tagging_state_relation() }} (
        model_name {{ dbt.type_string() }},
        tagging_version {{ dbt.type_string() }},
        processed_at {{ nps_warehouse.type_timestamp_tz() }}
    )
    {%- if nps_warehouse.nps_overwrites_partitions() %}
    using parquet
    partitioned by (model_name)
    {%- endif %}
{%- endmacro %}

{#- pre-hook: the days tagged again go first (every day when the tagging changed). -#}
{% macro delete_retagged_days() -%}
    {%- if is_incremental() -%}
        {%- if nps_warehouse.theme_tagging_changed() -%}
            {{ nps_warehouse.nps_delete_rows_where('response_date', '1 = 1') }}
        {%- else -%}
            {{ nps_warehouse.nps_delete_reprocessed_days('response_date') }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- post-hook, inside the model's transaction: the version this run tagged with. -#}
{% macro record_theme_tagging_version() -%}
    {%- if nps_warehouse.nps_overwrites_partitions() -%}
    insert overwrite table {{ nps_warehouse.theme_tagging_state_relation() }} partition (model_name)
    select
        '{{ nps_warehouse.theme_tagging_version() }}' as tagging_version,
        {{ nps_warehouse.nps_processed_at() }} as processed_at,
        '{{ this.identifier }}' as model_name
    {%- else -%}
    insert into {{ nps_warehouse.theme_tagging_state_relation() }}
        (model_name, tagging_version, processed_at)
    values (
        '{{ this.identifier }}',
        '{{ nps_warehouse.theme_tagging_version() }}',
        {{ nps_warehouse.nps_processed_at() }}
    )
    {%- endif -%}
{%- endmacro %}

