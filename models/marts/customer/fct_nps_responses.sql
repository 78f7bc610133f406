with

categorised as (

    select * from {{ ref('int_nps_responses_categorised') }}

),

final as (

    select
        response_id,
        survey_id,
        survey_name,
        program,
        respondent_id,
        submitted_at,
        response_date,
        score,
        category,
        is_promoter,
        is_passive,
        is_detractor,
        branch_id,
        branch_name,
        district,
        region,
        country,
        channel,
        touchpoint,
        product,
        comment,
        language,
        consent_contact,
        consent_testimonial,
        is_registered_survey,
        is_registered_branch,
        source_file,
        source_row

    from categorised

)

select * from final
