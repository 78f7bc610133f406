{#- Anonymity for small groups: minimum group sizes and complementary suppression.

    A published table of counts lets a reader subtract: a parent's total minus its visible
    children is what the hidden children hold together. The rules below make sure that, from the
    published numbers of one scope (a survey wave, a rolling window), no hidden group's count can
    be derived, not even by combining every partition published for that scope:

    - primary: a group with fewer than k responses is hidden (0 included: whether a group had
      responses at all is not revealed);
    - complementary, for every partition (a parent and the children that add up to it, e.g. all
      employees = the departments; a department = its teams): when the parent is hidden or any
      child is hidden, at least two children must be hidden and together hold at least k
      responses. Otherwise the next smallest visible children are hidden (ties by id); when no
      visible child is left, the parent is hidden. A hidden parent so always hides >= 2 children,
      and the residual a reader can compute (parent minus visible children) is never one group
      and never fewer than k responses.

    Hiding one group can break another partition (a department hidden for the all-employees
    partition must then hide some of its teams), so the rules are applied in rounds until nothing
    changes; `suppression_resolved` is false when the rounds ran out first (a data test fails).
-#}


{#- The minimum group size k (var enps_min_group_size, default 5), checked at compile time: an
    anonymity threshold below 3 is refused, whatever the caller asks for. Returns an integer. -#}
{% macro enps_min_group_size() -%}
    {%- set configured = var('enps_min_group_size', 5) -%}
    {%- set k = configured | int(-1) -%}
    {%- if (configured | string) != (k | string) or k < 3 -%}
        {{ exceptions.raise_compiler_error(
            'var enps_min_group_size must be a whole number of at least 3 (anonymity needs a '
            ~ 'group of 3 or more to hide one employee among), got: ' ~ configured
        ) }}
    {%- endif -%}
    {{ return(k) }}
{%- endmacro %}


{#- The minimum group size for releasing comments (var enps_min_comment_group_size, default 10);
    never below the minimum group size. Returns an integer. -#}
{% macro enps_min_comment_group_size() -%}
    {%- set configured = var('enps_min_comment_group_size', 10) -%}
    {%- set c = configured | int(-1) -%}
    {%- set k = nps_warehouse.enps_min_group_size() -%}
    {%- if (configured | string) != (c | string) or c < k -%}
        {{ exceptions.raise_compiler_error(
            'var enps_min_comment_group_size must be a whole number of at least '
            ~ 'enps_min_group_size (' ~ k ~ '), got: ' ~ configured
        ) }}
    {%- endif -%}
    {{ return(c) }}
{%- endmacro %}


{#- complementary_suppression_ctes(cells, edges, scope_columns, min_group_size, rounds=12,
    prefix='suppression', forced_column=none): CTE definitions (a comma-separated list to place
    after `with`; the caller adds its own CTEs after them) ending in `<prefix>_final`:
        <scope columns>, cell_id, is_primary_suppressed, is_suppressed, suppression_resolved
    `cells`: a relation with the scope columns, a unique cell_id per scope and `responses`, and
    when `forced_column` is given, that boolean column: cells hidden whatever their size (e.g.
    because another publication hides them).
    `edges`: a relation (partition_id, parent_id, child_id), the same for every scope: the
    children of a partition add up to its parent. -#}
{% macro complementary_suppression_ctes(
    cells, edges, scope_columns, min_group_size, rounds=12, prefix='suppression', forced_column=none
) -%}
    {%- set primary = 'responses < ' ~ (min_group_size | int) ~ (
        ' or coalesce(' ~ forced_column ~ ', false)' if forced_column else ''
    ) -%}
    {%- set k = min_group_size | int -%}
    {%- if k < 3 -%}
        {{ exceptions.raise_compiler_error('complementary suppression needs k >= 3, got ' ~ k) }}
    {%- endif -%}
    {{ prefix }}_round_0 as (

        select
            {%- for column in scope_columns %}
            {{ column }},
            {%- endfor %}
            cell_id,
            responses,
            {{ primary }} as is_primary_suppressed,
            {{ primary }} as is_suppressed

        from {{ cells }}

    ),

    {%- for round in range(1, rounds + 1) %}
    {%- set state = prefix ~ '_round_' ~ (round - 1) %}

    {{ prefix }}_partitions_{{ round }} as (

        {{ nps_warehouse._suppression_partition_state(state, edges, scope_columns, k) }}

    ),

    {{ prefix }}_candidates_{{ round }} as (

        -- visible children of partitions that need more hidden, smallest first
        select
            {%- for column in scope_columns %}
            child.{{ column }},
            {%- endfor %}
            child.cell_id,
            partitions.hidden_children,
            partitions.hidden_responses,
            row_number() over (
                partition by
                    {%- for column in scope_columns %} child.{{ column }},{% endfor %}
                    edges.partition_id
                order by child.responses, child.cell_id
            ) as pick_rank,
            coalesce(sum(child.responses) over (
                partition by
                    {%- for column in scope_columns %} child.{{ column }},{% endfor %}
                    edges.partition_id
                order by child.responses, child.cell_id
                rows between unbounded preceding and 1 preceding
            ), 0) as responses_before

        from {{ prefix }}_partitions_{{ round }} as partitions
        inner join {{ edges }} as edges
            on partitions.partition_id = edges.partition_id
        inner join {{ state }} as child
            on
                edges.child_id = child.cell_id
                {%- for column in scope_columns %}
                and partitions.{{ column }} = child.{{ column }}
                {%- endfor %}
        where partitions.needs_more and not child.is_suppressed

    ),

    {{ prefix }}_picks_{{ round }} as (

        -- the fewest next-smallest children that make the partition safe ...
        select
            {%- for column in scope_columns %}
            {{ column }},
            {%- endfor %}
            cell_id
        from {{ prefix }}_candidates_{{ round }}
        where not (
            hidden_children + pick_rank - 1 >= 2
            and hidden_responses + responses_before >= {{ k }}
        )

        union all

        -- ... or the parent, when even hiding every child would not
        select
            {%- for column in scope_columns %}
            {{ column }},
            {%- endfor %}
            parent_id as cell_id
        from {{ prefix }}_partitions_{{ round }}
        where
            needs_more
            and not parent_hidden
            and (
                hidden_children + visible_children < 2
                or hidden_responses + visible_responses < {{ k }}
            )

    ),

    {{ prefix }}_round_{{ round }} as (

        select
            {%- for column in scope_columns %}
            state.{{ column }},
            {%- endfor %}
            state.cell_id,
            state.responses,
            state.is_primary_suppressed,
            state.is_suppressed or picked.cell_id is not null as is_suppressed

        from {{ state }} as state
        left join (
            select distinct * from {{ prefix }}_picks_{{ round }}
        ) as picked
            on
                state.cell_id = picked.cell_id
                {%- for column in scope_columns %}
                and state.{{ column }} = picked.{{ column }}
                {%- endfor %}

    ),
    {%- endfor %}

    {{ prefix }}_unresolved as (

        {{ nps_warehouse._suppression_partition_state(
            prefix ~ '_round_' ~ rounds, edges, scope_columns, k
        ) }}

    ),

    {{ prefix }}_unresolved_scopes as (

        -- scopes with a partition still unsafe (a join, not a correlated subquery: Spark
        -- cannot decorrelate one in a select list)
        select distinct
            {%- for column in scope_columns %}
            {{ column }},
            {%- endfor %}
            1 as is_unresolved
        from {{ prefix }}_unresolved
        where needs_more and (visible_children > 0 or not parent_hidden)

    ),

    {{ prefix }}_final as (

        select
            {%- for column in scope_columns %}
            state.{{ column }},
            {%- endfor %}
            state.cell_id,
            state.is_primary_suppressed,
            state.is_suppressed,
            unresolved_scopes.is_unresolved is null as suppression_resolved

        from {{ prefix }}_round_{{ rounds }} as state
        left join {{ prefix }}_unresolved_scopes as unresolved_scopes
            on
                {%- for column in scope_columns %}
                {{ 'and ' if not loop.first }}state.{{ column }} = unresolved_scopes.{{ column }}
                {%- endfor %}

    )
{%- endmacro %}


{#- One row per scope x partition: is the parent hidden, how many children are hidden / visible
    and how many responses they hold, and whether the partition needs more hidden. -#}
{% macro _suppression_partition_state(state, edges, scope_columns, k) -%}
    select
        {%- for column in scope_columns %}
        child.{{ column }},
        {%- endfor %}
        edges.partition_id,
        edges.parent_id,
        max(case when parent.is_suppressed then 1 else 0 end) = 1 as parent_hidden,
        sum(case when child.is_suppressed then 1 else 0 end) as hidden_children,
        sum(case when child.is_suppressed then child.responses else 0 end) as hidden_responses,
        sum(case when child.is_suppressed then 0 else 1 end) as visible_children,
        sum(case when child.is_suppressed then 0 else child.responses end) as visible_responses,
        (
            max(case when parent.is_suppressed then 1 else 0 end) = 1
            or sum(case when child.is_suppressed then 1 else 0 end) > 0
        )
        and (
            sum(case when child.is_suppressed then 1 else 0 end) < 2
            or sum(case when child.is_suppressed then child.responses else 0 end) < {{ k }}
        ) as needs_more

    from {{ edges }} as edges
    inner join {{ state }} as child
        on edges.child_id = child.cell_id
    inner join {{ state }} as parent
        on
            edges.parent_id = parent.cell_id
            {%- for column in scope_columns %}
            and child.{{ column }} = parent.{{ column }}
            {%- endfor %}
    group by
        {%- for column in scope_columns %}
        child.{{ column }},
        {%- endfor %}
        edges.partition_id,
        edges.parent_id
{%- endmacro %}
