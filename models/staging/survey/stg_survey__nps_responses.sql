with

source as (

    select * from {{ source('raw', 'nps_responses') }}

),

cleaned as (

    select
        {{ clean_text('response_id') }} as response_id,
        {{ clean_text('survey_id') }} as survey_id,
        {{ clean_text('respondent_id') }} as respondent_id,
        lower({{ clean_text('respondent_email') }}) as respondent_email,
        {{ clean_text('submitted_at') }} as submitted_at_text,
        {{ clean_text('score') }} as score_text,
        {{ clean_text('comment') }} as comment,
        {{ clean_text('language') }} as language_text,
        lower({{ clean_text('channel') }}) as channel,
        lower({{ clean_text('touchpoint') }}) as touchpoint,
        {{ clean_text('branch_id') }} as branch_id,
        {{ clean_text('product') }} as product,
        {{ clean_text('consent_contact') }} as consent_contact_text,
        {{ clean_text('consent_testimonial') }} as consent_testimonial_text,
        extra_columns,
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
        survey_id,
        respondent_id,
        respondent_email,
        submitted_at_text,
        {{ parse_timestamp_utc('submitted_at_text') }} as submitted_at,
        score_text,
        {{ is_integer_text('score_text') }} as score_is_integer,
        {{ integer_text_value('score_text') }} as score_value,
        comment,
        {{ language_code('language_text') }} as language,
        channel,
        touchpoint,
        branch_id,
        product,
        {{ parse_boolean('consent_contact_text') }} as consent_contact,
        {{ parse_boolean('consent_testimonial_text') }} as consent_testimonial,
        extra_columns,
        _source_file,
        _source_row,
        _file_received_at,
        _loaded_at,
        _load_id

    from cleaned

)

select * from typed
