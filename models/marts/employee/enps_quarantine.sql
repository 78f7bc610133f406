{#- Landed employee response rows that were not accepted, with the reason. One row per rejected
    response, so it lives in people_restricted (config in _employee__models.yml), not in marts. -#}

with

validated as (

    select * from {{ ref('int_enps_responses_validated') }}

),

final as (

    select
        _source_file as source_file,
        _source_row as source_row,
        quarantine_reason,
        response_id,
        survey_wave,
        submitted_at_text as submitted_at,
        score_text as score,
        _loaded_at as loaded_at

    from validated
    where outcome = 'quarantined'

)

select * from final
