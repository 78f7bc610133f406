{#- Typed employee responses, one row per landed row. Unknown extra columns are not carried on:
    nothing an export adds unasked reaches the models. -#}

with

source as (

    select * from {{ source('raw_employee', 'enps_responses') }}

),

cleaned as (

    select
        {{ clean_text('response_id') }} as response_id,
        {{ clean_text('survey_wave') }} as survey_wave,
        {{ clean_text('submitted_at') }} as submitted_at_text,
        {{ clean_text('score') }} as score_text,
        {{ clean_text('comment') }} as comment,
        {{ clean_text('language') }} as language_text,
        {{ clean_text('department') }} as department,
        {{ clean_text('team') }} as team,
        {{ clean_text('location') }} as location,
        {{ clean_text('tenure_band') }} as tenure_band,
        _source_file,
        _source_row,
        _file_received_at,
        _loaded_at,
        _load_id

    from source

),

typed as (

    select
        response_id,
        survey_wave,
        submitted_at_text,
        {{ parse_timestamp_utc('submitted_at_text') }} as submitted_at,
        score_text,
        {{ is_integer_text('score_text') }} as score_is_integer,
        {{ integer_text_value('score_text') }} as score_value,
        comment,
        {{ language_code('language_text') }} as language,
        department,
        team,
        location,
        tenure_band,
        _source_file,
        _source_row,
        _file_received_at,
        _loaded_at,
        _load_id

    from cleaned

)

select * from typed
