with

source as (

    select * from {{ source('raw_feedback', 'followup_events') }}

),

cleaned as (

    select
        {{ clean_text('response_id') }} as response_id,
        lower({{ clean_text('event') }}) as event,
        {{ clean_text('event_at') }} as event_at_text,
        {{ clean_text('note') }} as note,
        _source_file,
        _source_row,
        _file_received_at,
        _loaded_at

    from source

),

typed as (

    select
        response_id,
        event,
        {{ parse_timestamp_utc('event_at_text') }} as event_at,
        note,
        _source_file,
        _source_row,
        _file_received_at,
        _loaded_at

    from cleaned

)

select * from typed
