with

validated as (

    select * from {{ ref('int_nps_responses_validated') }}

),

final as (

    select
        _source_file as source_file,
        _source_row as source_row,
        quarantine_reason,
        response_id,
        survey_id,
        submitted_at_text as submitted_at,
        score_text as score,
        branch_id,
        _loaded_at as loaded_at

    from validated
    where outcome = 'quarantined'

)

select * from final
