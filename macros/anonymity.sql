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
    prefix='suppression', forced_column=none, inputs=none): CTE definitions (a comma-separated
    list to place after `with`; the caller adds its own CTEs after them) ending in
    `<prefix>_final`:
        <scope columns>, cell_id, is_primary_suppressed, is_suppressed, suppression_resolved
    `cells`: a relation with the scope columns, a unique cell_id per scope and `responses`, and
    when `forced_column` is given, that boolean column: cells hidden whatever their size (e.g.
    because another publication hides them).
    `edges`: a relation (partition_id, parent_id, child_id), the same for every scope: the
    children of a partition add up to its parent.
    `inputs`: the caller's `with ...` CTEs that define `cells` and `edges` (the same text the
    caller places before this macro's CTEs): engines that run the rounds as separate statements
    (Spark) need it; the others ignore it.

    Each round reads the previous round's state ONCE and joins nothing: the state is one row per
    cell and partition it belongs to, partitions are window aggregates over it, and a cell's
    decision is a window over its rows. Spark inlines every CTE reference, so rounds that read
    their predecessor several times would grow its plan exponentially. -#}
{% macro complementary_suppression_ctes(
    cells, edges, scope_columns, min_group_size, rounds=12, prefix='suppression', forced_column=none,
    inputs=none
) -%}
    {%- set k = min_group_size | int -%}
    {%- if k < 3 -%}
        {{ exceptions.raise_compiler_error('complementary suppression needs k >= 3, got ' ~ k) }}
    {%- endif -%}
    {{ return(adapter.dispatch('complementary_suppression_ctes', 'nps_warehouse')(
        cells, edges, scope_columns, k, rounds, prefix, forced_column, inputs
    )) }}
{%- endmacro %}


{% macro default__complementary_suppression_ctes(
    cells, edges, scope_columns, k, rounds, prefix, forced_column, inputs
) -%}
    {{ prefix }}_memberships as (

        {{ nps_warehouse._suppression_memberships(edges) }}

    ),

    {{ prefix }}_round_0 as (

        {{ nps_warehouse._suppression_first_round(
            cells, prefix ~ '_memberships', scope_columns, k, forced_column
        ) }}

    ),

    {%- for round in range(1, rounds + 1) %}

    {{ prefix }}_partitions_{{ round }} as (

        {{ nps_warehouse._suppression_partition_state(
            prefix ~ '_round_' ~ (round - 1), scope_columns, k
        ) }}

    ),

    {{ prefix }}_round_{{ round }} as (

        {{ nps_warehouse._suppression_next_round(
            prefix ~ '_partitions_' ~ round, scope_columns, k
        ) }}

    ),
    {%- endfor %}

    {{ prefix }}_unresolved as (

        {{ nps_warehouse._suppression_partition_state(
            prefix ~ '_round_' ~ rounds, scope_columns, k
        ) }}

    ),

    {{ prefix }}_final as (

        {{ nps_warehouse._suppression_final(prefix ~ '_unresolved', scope_columns) }}

    )
{%- endmacro %}


{#- Every cell's place in every partition: its parent once, each of its children once. -#}
{% macro _suppression_memberships(edges) -%}
    select distinct
        partition_id,
        parent_id as member_id,
        'parent' as member_role
    from {{ edges }}

    union all

    select
        partition_id,
        child_id as member_id,
        'child' as member_role
    from {{ edges }}
{%- endmacro %}


{#- The state before any round: primary suppression, one row per cell and partition it belongs
    to (a cell in none: one row, member_role null). -#}
{% macro _suppression_first_round(cells, memberships, scope_columns, k, forced_column) -%}
    {%- set primary = 'cells.responses < ' ~ k ~ (
        ' or coalesce(cells.' ~ forced_column ~ ', false)' if forced_column else ''
    ) -%}
    select
        {%- for column in scope_columns %}
        cells.{{ column }},
        {%- endfor %}
        cells.cell_id,
        cells.responses,
        {{ primary }} as is_primary_suppressed,
        {{ primary }} as is_suppressed,
        memberships.partition_id,
        memberships.member_role

    from {{ cells }} as cells
    left join {{ memberships }} as memberships
        on cells.cell_id = memberships.member_id
{%- endmacro %}


{#- One round: a cell is hidden from now on when a partition it belongs to picked it: the fewest
    next-smallest visible children that make the partition safe, or the parent when even hiding
    every child would not. `partitions`: _suppression_partition_state of the previous round. -#}
{% macro _suppression_next_round(partitions, scope_columns, k) -%}
    select
        {%- for column in scope_columns %}
        {{ column }},
        {%- endfor %}
        cell_id,
        responses,
        is_primary_suppressed,
        max(
            case
                when is_suppressed then 1
                when not (is_partition and needs_more) then 0
                when
                    member_role = 'child'
                    and not (
                        hidden_children + pick_rank - 1 >= 2
                        and hidden_responses + responses_before >= {{ k }}
                    )
                    then 1
                when
                    member_role = 'parent'
                    and (
                        hidden_children + visible_children < 2
                        or hidden_responses + visible_responses < {{ k }}
                    )
                    then 1
                else 0
            end
        ) over (
            partition by
                {%- for column in scope_columns %} {{ column }},{% endfor %}
                cell_id
        ) = 1 as is_suppressed,
        partition_id,
        member_role

    from {{ partitions }}
{%- endmacro %}


{#- One row per cell with the decision; a scope is unresolved while one of its partitions is
    still unsafe. `unresolved`: _suppression_partition_state of the last round. -#}
{% macro _suppression_final(unresolved, scope_columns) -%}
    select distinct
        {%- for column in scope_columns %}
        {{ column }},
        {%- endfor %}
        cell_id,
        is_primary_suppressed,
        is_suppressed,
        max(
            case
                when
                    is_partition
                    and needs_more
                    and (visible_children > 0 or not parent_hidden)
                    then 1
                else 0
            end
        ) over (
            partition by
                {%- for column in scope_columns %}
                {{ column }}{{ ',' if not loop.last }}
                {%- endfor %}
        ) = 0 as suppression_resolved

    from {{ unresolved }}
{%- endmacro %}


{#- The rows of `state` (one per cell and partition it belongs to) with their partition's state:
    is the parent hidden, how many children are hidden / visible and how many responses they
    hold, whether the partition needs more hidden (needs_more), and the cell's rank among the
    partition's visible children, smallest first (pick_rank, ties by id) with the responses of
    the visible children before it. A partition exists in a scope when its parent and a child
    do (is_partition). -#}
{% macro _suppression_partition_state(state, scope_columns, k) -%}
    {%- set partition_window -%}
        partition by
            {%- for column in scope_columns %} {{ column }},{% endfor %}
            partition_id
    {%- endset -%}
    {%- set rank_window -%}
        partition by
            {%- for column in scope_columns %} {{ column }},{% endfor %}
            partition_id,
            member_role,
            is_suppressed
        order by responses, cell_id
    {%- endset -%}
    select
        *,
        (parent_hidden or hidden_children > 0)
        and (hidden_children < 2 or hidden_responses < {{ k }}) as needs_more

    from (
        select
            *,
            max(case when member_role = 'parent' then 1 else 0 end) over ({{ partition_window }}) = 1
            and max(case when member_role = 'child' then 1 else 0 end) over ({{ partition_window }}) = 1
                as is_partition,
            max(
                case when member_role = 'parent' and is_suppressed then 1 else 0 end
            ) over ({{ partition_window }}) = 1 as parent_hidden,
            sum(
                case when member_role = 'child' and is_suppressed then 1 else 0 end
            ) over ({{ partition_window }}) as hidden_children,
            sum(
                case when member_role = 'child' and is_suppressed then responses else 0 end
            ) over ({{ partition_window }}) as hidden_responses,
            sum(
                case when member_role = 'child' and not is_suppressed then 1 else 0 end
            ) over ({{ partition_window }}) as visible_children,
            sum(
                case when member_role = 'child' and not is_suppressed then responses else 0 end
            ) over ({{ partition_window }}) as visible_responses,
            row_number() over ({{ rank_window }}) as pick_rank,
            coalesce(sum(responses) over (
                {{ rank_window }}
                rows between unbounded preceding and 1 preceding
            ), 0) as responses_before

        from {{ state }}
    ) as partitions
{%- endmacro %}



{#- The work table of a model's suppression rounds, on engines that materialise them (Spark):
    next to the model, in its (restricted) schema. -#}
{% macro suppression_rounds_relation() -%}
    {{ return(api.Relation.create(
        database=this.database,
        schema=this.schema,
        identifier=this.identifier ~ '__suppression_rounds',
    )) }}
{%- endmacro %}


{#- post-hook of the models that call complementary_suppression_ctes: drops the rounds' work
    table where the engine made one (Spark), nothing elsewhere. -#}
{% macro drop_suppression_rounds() -%}
    {{ return(adapter.dispatch('drop_suppression_rounds', 'nps_warehouse')()) }}
{%- endmacro %}

{% macro default__drop_suppression_rounds() -%}
{%- endmacro %}

{% macro spark__drop_suppression_rounds() -%}
    drop table if exists {{ nps_warehouse.suppression_rounds_relation() }}
{%- endmacro %}
