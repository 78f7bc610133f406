{#- The latest version of each action item: a later received file (or a later row of the same
    file) updates an item, e.g. its status. Rows without an id or a creation time are left out. -#}

with

items as (

    select * from {{ ref('stg_feedback__action_items') }}
    where action_id is not null and created_at is not null

),

ranked as (

    select
        *,
        row_number() over (
            partition by action_id
            order by _file_received_at desc, _source_file desc, _source_row desc
        ) as version_rank

    from items

),

latest as (

    select
        action_id,
        branch_id,
        department,
        title,
        owner,
        theme,
        created_at,
        due_on,
        status,
        done_at,
        _source_file as source_file,
        _source_row as source_row

    from ranked
    where version_rank = 1

)

select * from latest
