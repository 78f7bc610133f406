{#- Action items with their deadlines and the branch's NPS in the 90 days before the item was
    created and the 90 days after it was done (responses about that branch, any survey). -#}

with

items as (

    select * from {{ ref('int_action_items_latest') }}

),

responses as (

    select * from {{ ref('fct_nps_responses') }}

),

branches as (

    select * from {{ ref('branches') }}

),

dated as (

    select
        *,
        {{ local_date('created_at') }} as created_on,
        {{ local_date('done_at') }} as done_on,
        cast({{ dbt.current_timestamp() }} as date) as evaluated_on

    from items

),

before_created as (

    select
        dated.action_id,
        count(*) as responses,
        count(case when responses.is_promoter then 1 end) as promoters,
        count(case when responses.is_detractor then 1 end) as detractors

    from dated
    inner join responses
        on
            dated.branch_id = responses.branch_id
            and dated.created_on > responses.response_date
            and cast({{ dbt.dateadd('day', -90, 'dated.created_on') }} as date)
            <= responses.response_date
    group by dated.action_id

),

after_done as (

    select
        dated.action_id,
        count(*) as responses,
        count(case when responses.is_promoter then 1 end) as promoters,
        count(case when responses.is_detractor then 1 end) as detractors

    from dated
    inner join responses
        on
            dated.branch_id = responses.branch_id
            and dated.done_on < responses.response_date
            and cast({{ dbt.dateadd('day', 90, 'dated.done_on') }} as date)
            >= responses.response_date
    group by dated.action_id

),

final as (

    select
        dated.action_id,
        dated.branch_id,
        branches.branch_name,
        branches.region,
        dated.department,
        dated.title,
        dated.owner,
        dated.theme,
        dated.status,
        dated.created_at,
        dated.created_on,
        dated.due_on,
        dated.done_at,
        dated.done_on,
        dated.status not in ('done', 'cancelled')
        and dated.evaluated_on > dated.due_on as is_overdue,
        case
            when dated.status not in ('done', 'cancelled') and dated.evaluated_on > dated.due_on
                then cast(
                    {{ dbt.datediff('dated.due_on', 'dated.evaluated_on', 'day') }}
                    as bigint
                )
        end as days_overdue,
        dated.done_on > dated.due_on as was_done_late,
        coalesce(before_created.responses, 0) as responses_90d_before,
        {{ nps('before_created.promoters', 'before_created.detractors', 'before_created.responses') }}
            as nps_90d_before,
        coalesce(after_done.responses, 0) as responses_90d_after,
        {{ nps('after_done.promoters', 'after_done.detractors', 'after_done.responses') }}
            as nps_90d_after,
        {{ nps('after_done.promoters', 'after_done.detractors', 'after_done.responses') }}
        - {{ nps('before_created.promoters', 'before_created.detractors', 'before_created.responses') }}
            as nps_change,
        dated.done_on is not null
        and dated.evaluated_on > cast({{ dbt.dateadd('day', 90, 'dated.done_on') }} as date)
            as is_after_window_complete,
        dated.evaluated_on,
        dated.source_file

    from dated
    left join branches
        on dated.branch_id = branches.branch_id
    left join before_created
        on dated.action_id = before_created.action_id
    left join after_done
        on dated.action_id = after_done.action_id

)

select * from final
