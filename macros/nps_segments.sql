{#- Segments of the NPS analytics marts, in one place.

    A segment is a node of the branch hierarchy crossed with an optional split:
        hierarchy_level  all | region | district | branch
        region, district, branch_id, branch_name
                         the node; filled down to its level, null below it (a region row has
                         region set and district/branch null; the `all` row has all four null)
        segment_type     all | survey | touchpoint | channel | product
        segment_value    'all' when segment_type = 'all', else the survey_id, touchpoint, channel
                         or product ('unknown' when the response carried none)
    Branches missing from the `branches` seed roll up under district and region 'unknown'.

    Signatures (stable):
        nps_hierarchy_levels()   -> list of levels, coarse to fine
        nps_segment_types()      -> list of segment types
        nps_segment_key_columns() -> list of the 7 key column names above
        nps_segment_rollup_ctes(name, relation, group_columns, sum_columns)
        nps_hierarchy_rollup_ctes(name, branch_relation, group_columns, measures, aggregate,
                                  measure_type=none)
        nps_day_spine(first_date, last_date)
        nps_values_relation(column, values)
        nps_segment_key(prefix='')
        test nps_rollup_sums_children(model, group_columns)
-#}

{% macro nps_hierarchy_levels() -%}
    {{ return(['all', 'region', 'district', 'branch']) }}
{%- endmacro %}

{% macro nps_segment_types() -%}
    {{ return(['all', 'survey', 'touchpoint', 'channel', 'product']) }}
{%- endmacro %}

{% macro nps_segment_key_columns() -%}
    {{ return([
        'hierarchy_level', 'region', 'district', 'branch_id', 'branch_name',
        'segment_type', 'segment_value',
    ]) }}
{%- endmacro %}


{#- nps_segment_rollup_ctes(name, relation, group_columns, sum_columns): CTE definitions (to
    follow `with` or a comma; no trailing comma) ending in CTE `name`, which sums `sum_columns` of
    `relation` (a ref or CTE name) by `group_columns` x every segment (all hierarchy levels x all
    segment types). `relation` must have non-null region, district, branch_id, branch_name,
    survey_id, touchpoint, channel, product at branch grain. `name`'s columns: group_columns, the
    segment key columns, sum_columns (bigint).
    Each segment type is its own aggregation of `relation` at branch grain, then
    nps_hierarchy_rollup_ctes sums the branches up the hierarchy: a third of the time of one x5
    fan-out into one aggregation and one x4 fan-out of its result (bench/README.md). -#}
{% macro nps_segment_rollup_ctes(name, relation, group_columns, sum_columns) -%}
    {%- set branch_grain = group_columns + ['region', 'district', 'branch_id', 'branch_name'] -%}
{{ name }}__by_branch as (

    {%- for segment_type in nps_warehouse.nps_segment_types() %}
    {%- set value_column = nps_warehouse.nps_segment_column(segment_type) %}
    select
        {%- for column in branch_grain %}
        {{ column }},
        {%- endfor %}
        '{{ segment_type }}' as segment_type,
        {{ value_column or "'all'" }} as segment_value,
        {%- for column in sum_columns %}
        cast(sum({{ column }}) as {{ dbt.type_bigint() }}) as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ relation }}
    group by {{ (branch_grain + ([value_column] if value_column else [])) | join(', ') }}
    {{ 'union all' if not loop.last }}
    {%- endfor %}

),

{{ nps_warehouse.nps_hierarchy_rollup_ctes(
    name, name ~ '__by_branch', group_columns, sum_columns, 'sum', dbt.type_bigint()
) }}
{%- endmacro %}


{#- nps_hierarchy_rollup_ctes(name, branch_relation, group_columns, measures, aggregate,
    measure_type=none): CTE definitions (no trailing comma) ending in CTE `name`: the rows of
    `branch_relation` (a CTE at
    branch grain: group_columns, region, district, branch_id, branch_name, segment_type,
    segment_value, measures) as hierarchy level `branch`, and each coarser level aggregated from
    the next finer one (`aggregate`: sum, min or max, which compose so; cast to `measure_type`
    when given, as DuckDB's sum of bigints is wider). One level at a time: fewer and narrower
    groups at each step than one x4 fan-out of the branch rows. `name`'s columns:
    group_columns, the segment key columns, measures. -#}
{% macro nps_hierarchy_rollup_ctes(name, branch_relation, group_columns, measures, aggregate, measure_type=none) -%}
    {%- set finest_first = nps_warehouse.nps_hierarchy_levels() | reverse | list -%}
    {%- for level in finest_first[1:] %}
    {%- set kept = group_columns + nps_warehouse.nps_level_branch_columns(level) + ['segment_type', 'segment_value'] %}
{{ name }}__by_{{ level }} as (

    select
        {%- for column in kept %}
        {{ column }},
        {%- endfor %}
        {%- for measure in measures %}
        {%- set aggregated = aggregate ~ '(' ~ measure ~ ')' %}
        {{ 'cast(' ~ aggregated ~ ' as ' ~ measure_type ~ ')' if measure_type else aggregated }} as {{ measure }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ branch_relation if loop.first else name ~ '__by_' ~ finest_first[loop.index - 1] }}
    group by {{ kept | join(', ') }}

),
    {% endfor %}
{{ name }} as (

    {%- for level in finest_first %}
    {%- set filled = nps_warehouse.nps_level_branch_columns(level) %}
    select
        {%- for column in group_columns %}
        {{ column }},
        {%- endfor %}
        '{{ level }}' as hierarchy_level,
        {%- for column in ['region', 'district', 'branch_id', 'branch_name'] %}
        {{ column if column in filled else 'cast(null as ' ~ dbt.type_string() ~ ')' }} as {{ column }},
        {%- endfor %}
        segment_type,
        segment_value,
        {%- for measure in measures %}
        {{ measure }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ branch_relation if loop.first else name ~ '__by_' ~ level }}
    {{ 'union all' if not loop.last }}
    {%- endfor %}

)
{%- endmacro %}


{#- nps_day_spine(first_date, last_date): a select of one row per calendar day `calendar_date`
    from first_date to last_date inclusive (SQL date expressions, may be scalar subqueries), at
    most 100,000 days. Digits cross-joined rather than dbt.date_spine, whose length is fixed at
    compile time by querying the warehouse (that would not see unit-test inputs). -#}
{% macro nps_day_spine(first_date, last_date) -%}
    select cast({{ dbt.dateadd('day', 'day_numbers.day_number', first_date) }} as date) as calendar_date
    from (
        select
            ones.digit
            + 10 * tens.digit
            + 100 * hundreds.digit
            + 1000 * thousands.digit
            + 10000 * ten_thousands.digit as day_number
        {%- for power in ['ones', 'tens', 'hundreds', 'thousands', 'ten_thousands'] %}
        {{ 'from' if loop.first else 'cross join' }} (
            {%- for digit in range(10) %}
            select {{ digit }} as digit{{ ' union all' if not loop.last }}
            {%- endfor %}
        ) as {{ power }}
        {%- endfor %}
    ) as day_numbers
    where day_numbers.day_number <= {{ dbt.datediff(first_date, last_date, 'day') }}
{%- endmacro %}


{#- Generic test nps_rollup_sums_children(model, group_columns): for every parent row (all, region,
    district) the counts equal the sum of its children's (region, district, branch), per
    group_columns x segment_type x segment_value. Returns the parents (or orphan children) that
    disagree. -#}
{% test nps_rollup_sums_children(model, group_columns) %}
    {%- set counts = ['responses', 'promoters', 'passives', 'detractors'] %}
    {%- set join_columns = group_columns + ['segment_type', 'segment_value', 'parent_level', 'parent_region', 'parent_district'] %}

    with

    model_rows as (

        select * from {{ model }}

    ),

    children as (

        select
            {%- for column in group_columns %}
            {{ column }},
            {%- endfor %}
            segment_type,
            segment_value,
            case hierarchy_level
                when 'branch' then 'district'
                when 'district' then 'region'
                when 'region' then 'all'
            end as parent_level,
            coalesce(case when hierarchy_level in ('district', 'branch') then region end, '~') as parent_region,
            coalesce(case when hierarchy_level = 'branch' then district end, '~') as parent_district,
            {%- for count in counts %}
            sum({{ count }}) as {{ count }}{{ ',' if not loop.last }}
            {%- endfor %}

        from model_rows
        where hierarchy_level <> 'all'
        group by
            {%- for position in range(1, group_columns | length + 6) %}
            {{ position }}{{ ',' if not loop.last }}
            {%- endfor %}

    ),

    parents as (

        select
            {%- for column in group_columns %}
            {{ column }},
            {%- endfor %}
            segment_type,
            segment_value,
            hierarchy_level as parent_level,
            coalesce(region, '~') as parent_region,
            coalesce(district, '~') as parent_district,
            {%- for count in counts %}
            {{ count }}{{ ',' if not loop.last }}
            {%- endfor %}

        from model_rows
        where hierarchy_level <> 'branch'

    )

    select
        {%- for column in join_columns %}
        coalesce(parents.{{ column }}, children.{{ column }}) as {{ column }},
        {%- endfor %}
        {%- for count in counts %}
        parents.{{ count }} as parent_{{ count }},
        children.{{ count }} as children_{{ count }}{{ ',' if not loop.last }}
        {%- endfor %}

    from parents
    full outer join children
        on
            {%- for column in join_columns %}
            {{ 'and ' if not loop.first }}parents.{{ column }} = children.{{ column }}
            {%- endfor %}
    where
        parents.parent_level is null
        or children.parent_level is null
        {%- for count in counts %}
        or parents.{{ count }} <> children.{{ count }}
        {%- endfor %}
{% endtest %}


{#- nps_values_relation(column, values): a select of one row per value, one column named `column`
    (strings are quoted, numbers are not), e.g. nps_values_relation('window_days', [7, 30]). -#}
{% macro nps_values_relation(column, values) -%}
    {%- for value in values %}
    select {{ "'" ~ value ~ "'" if value is string else value }} as {{ column }}{{ ' union all' if not loop.last }}
    {%- endfor %}
{%- endmacro %}


{#- nps_segment_key(prefix=''): one non-null text key per segment (hierarchy_level, region,
    district, branch_id, segment_type, segment_value joined by '|'), for joins: the key columns
    themselves are null above their level. prefix: a table alias with its dot, e.g. 'days.'. -#}
{% macro nps_segment_key(prefix='') -%}
    {{ dbt.concat([
        prefix ~ 'hierarchy_level', "'|'",
        'coalesce(' ~ prefix ~ "region, '')", "'|'",
        'coalesce(' ~ prefix ~ "district, '')", "'|'",
        'coalesce(' ~ prefix ~ "branch_id, '')", "'|'",
        prefix ~ 'segment_type', "'|'",
        prefix ~ 'segment_value',
    ]) }}
{%- endmacro %}


{#- nps_segment_value_of(segment_type, prefix=''): the value a row at branch grain has in the
    segment type `segment_type` (an expression): its survey_id, touchpoint, channel or product, or
    'all'. prefix: a table alias with its dot, or any prefix of the column names. -#}
{% macro nps_segment_value_of(segment_type, prefix='') -%}
    case {{ segment_type }}
        {%- for named_type in nps_warehouse.nps_segment_types() if nps_warehouse.nps_segment_column(named_type) %}
        when '{{ named_type }}' then {{ prefix }}{{ nps_warehouse.nps_segment_column(named_type) }}
        {%- endfor %}
        else 'all'
    end
{%- endmacro %}


{#- nps_segment_column(segment_type): the column of a row at branch grain that holds its value in
    segment type `segment_type` (a name), none for `all`. -#}
{% macro nps_segment_column(segment_type) -%}
    {{ return({
        'survey': 'survey_id',
        'touchpoint': 'touchpoint',
        'channel': 'channel',
        'product': 'product',
    }.get(segment_type)) }}
{%- endmacro %}


{#- nps_level_branch_columns(hierarchy_level): the branch columns a segment of the hierarchy level
    `hierarchy_level` (a name) has filled; the others are null. -#}
{% macro nps_level_branch_columns(hierarchy_level) -%}
    {{ return({
        'all': [],
        'region': ['region'],
        'district': ['region', 'district'],
        'branch': ['region', 'district', 'branch_id', 'branch_name'],
    }[hierarchy_level]) }}
{%- endmacro %}


{#- nps_level_column_of(hierarchy_level, column, prefix=''): a branch column (region, district,
    branch_id, branch_name) of a row at branch grain as a segment of the hierarchy level
    `hierarchy_level` (an expression) has it: the value at its level and below, null above. -#}
{% macro nps_level_column_of(hierarchy_level, column, prefix='') -%}
    {%- set filled_at = [] -%}
    {%- for level in nps_warehouse.nps_hierarchy_levels() if column in nps_warehouse.nps_level_branch_columns(level) -%}
        {%- do filled_at.append(level) -%}
    {%- endfor -%}
    case when {{ hierarchy_level }} in ('{{ filled_at | join("', '") }}') then {{ prefix }}{{ column }} end
{%- endmacro %}
