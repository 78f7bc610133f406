with

source as (

    select * from {{ source('raw_feedback', 'action_items') }}

),

cleaned as (

    select
        {{ clean_text('action_id') }} as action_id,
        {{ clean_text('branch_id') }} as branch_id,
        {{ clean_text('department') }} as department,
        {{ clean_text('title') }} as title,
        {{ clean_text('owner') }} as owner,
        lower({{ clean_text('theme') }}) as theme,
        {{ clean_text('created_at') }} as created_at_text,
        {{ clean_text('due_on') }} as due_on_text,
        replace(lower({{ clean_text('status') }}), ' ', '_') as status,
        {{ clean_text('done_at') }} as done_at_text,
        _source_file,
        _source_row,
        _file_received_at,
        _loaded_at

    from source

),

typed as (

    select
        action_id,
        branch_id,
        department,
        title,
        owner,
        theme,
        {{ parse_timestamp_utc('created_at_text') }} as created_at,
        cast({{ parse_timestamp_utc('due_on_text') }} as date) as due_on,
        status,
        {{ parse_timestamp_utc('done_at_text') }} as done_at,
        _source_file,
        _source_row,
        _file_received_at,
        _loaded_at

    from cleaned

)

select * from typed
