{#- The groupings eNPS is published by, shared by every eNPS mart: all employees, department,
    department/team, location and tenure band. A response lacking an attribute counts in the
    group 'unknown', so each grouping partitions all responses (what complementary suppression
    relies on). -#}


{#- [(grouping, [key columns])], in publication order. -#}
{% macro enps_groupings() -%}
    {{ return([
        ('all', []),
        ('department', ['department']),
        ('department_team', ['department', 'team']),
        ('location', ['location']),
        ('tenure_band', ['tenure_band']),
    ]) }}
{%- endmacro %}


{% macro enps_group_columns() -%}
    {{ return(['department', 'team', 'location', 'tenure_band']) }}
{%- endmacro %}


{#- The select list of one grouping's key columns: its own columns, null for the others. -#}
{% macro _enps_group_keys(keys, prefix='') -%}
    {%- for column in nps_warehouse.enps_group_columns() %}
    {% if column in keys %}{{ prefix }}{{ column }}{% else %}cast(null as {{ dbt.type_string() }}){% endif %} as {{ column }},
    {%- endfor %}
{%- endmacro %}


{#- A stable id of a group within a scope, e.g. `department_team:Sales/SMB//`; `prefix` qualifies
    the columns (e.g. 'frame.'). -#}
{% macro enps_cell_id(prefix='') -%}
    {{ dbt.concat([
        prefix ~ 'grouping', "':'",
        "coalesce(" ~ prefix ~ "department, '')", "'/'",
        "coalesce(" ~ prefix ~ "team, '')", "'/'",
        "coalesce(" ~ prefix ~ "location, '')", "'/'",
        "coalesce(" ~ prefix ~ "tenure_band, '')",
    ]) }}
{%- endmacro %}


{#- enps_group_counts(relation, scope_columns): union over the groupings of
    <scope columns>, grouping, department, team, location, tenure_band, responses, promoters,
    passives, detractors, counted from a relation of categorised responses (is_promoter, ...).
    Only groups with responses appear: join to enps_group_frame for the others. -#}
{% macro enps_group_counts(relation, scope_columns) -%}
    {%- for grouping, keys in nps_warehouse.enps_groupings() %}
    select
        {%- for column in scope_columns %}
        {{ column }},
        {%- endfor %}
        '{{ grouping }}' as grouping,
        {{- nps_warehouse._enps_group_keys(keys) }}
        count(*) as responses,
        sum(case when is_promoter then 1 else 0 end) as promoters,
        sum(case when is_passive then 1 else 0 end) as passives,
        sum(case when is_detractor then 1 else 0 end) as detractors
    from {{ relation }}
    group by
        {%- for column in scope_columns + keys %}
        {{ column }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
{%- endmacro %}


{#- enps_group_frame(responses, headcount): every group that exists, in any scope: from the
    headcount seed and from every response ever accepted. Each scope publishes a row for each of
    them, with or without responses, so a row's presence says nothing about participation. -#}
{% macro enps_group_frame(responses, headcount) -%}
    {%- for grouping, keys in nps_warehouse.enps_groupings() %}
    select distinct
        '{{ grouping }}' as grouping,
        {{- nps_warehouse._enps_group_keys(keys) }}
        1 as in_frame
    from (
        select department, team, location, tenure_band from {{ responses }}
        {%- if 'tenure_band' not in keys %}
        union all
        select department, team, location, cast(null as {{ dbt.type_string() }}) as tenure_band
        from {{ headcount }}
        {%- endif %}
    ) as known_groups
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
{%- endmacro %}


{#- enps_group_edges(frame): the partitions of the groupings, as (partition_id, parent_id,
    child_id) over enps_cell_id: all = departments = locations = tenure bands; a department =
    its teams. -#}
{% macro enps_group_edges(frame) -%}
    select
        {{ dbt.concat(["'by_'", 'grouping']) }} as partition_id,
        'all:///' as parent_id,
        {{ nps_warehouse.enps_cell_id() }} as child_id
    from {{ frame }}
    where grouping in ('department', 'location', 'tenure_band')

    union all

    select
        {{ dbt.concat(["'teams_of:'", 'department']) }} as partition_id,
        {{ dbt.concat(["'department:'", 'department', "'///'"]) }} as parent_id,
        {{ nps_warehouse.enps_cell_id() }} as child_id
    from {{ frame }}
    where grouping = 'department_team'
{%- endmacro %}


{#- enps_group_headcount(relation, scope_columns): headcount per scope and group, summed from a
    relation of (scope columns, department, team, location, headcount) rows; tenure bands have
    no headcount (the seed does not know them). -#}
{% macro enps_group_headcount(relation, scope_columns) -%}
    {%- set groupings = nps_warehouse.enps_groupings() | rejectattr(0, 'equalto', 'tenure_band') | list -%}
    {%- for grouping, keys in groupings %}
    select
        {%- for column in scope_columns %}
        {{ column }},
        {%- endfor %}
        '{{ grouping }}' as grouping,
        {{- nps_warehouse._enps_group_keys(keys) }}
        sum(headcount) as headcount
    from {{ relation }}
    group by
        {%- for column in scope_columns + keys %}
        {{ column }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
{%- endmacro %}


{#- enps_window_lengths(): one row per trailing window length (var enps_rolling_windows, days). -#}
{% macro enps_window_lengths() -%}
    {%- for days in var('enps_rolling_windows', [90, 365]) %}
    select {{ days | int }} as window_days
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
{%- endmacro %}
