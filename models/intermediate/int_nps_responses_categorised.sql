{#- Accepted responses with their NPS category and the branch hierarchy. A view: it copies every
    accepted row, and its readers filter it (fct_nps_responses reads only the reprocessed days). -#}

{{ config(materialized='view') }}

with

validated as (

    select * from {{ ref('int_nps_responses_validated') }}

),

branches as (

    select * from {{ ref('branches') }}

),

surveys as (

    select * from {{ ref('surveys') }}

),

accepted as (

    select * from validated
    where outcome = 'accepted'

),

categorised as (

    select
        accepted.response_id,
        accepted.survey_id,
        coalesce(surveys.name, 'unknown') as survey_name,
        coalesce(surveys.program, 'unknown') as program,
        accepted.is_registered_survey,
        accepted.respondent_id,
        accepted.respondent_email,
        accepted.submitted_at,
        accepted.response_date,
        cast(accepted.score_value as integer) as score,
        {{ nps_category('accepted.score_value') }} as category,
        coalesce(accepted.branch_id, 'unknown') as branch_id,
        branches.branch_id is not null as is_registered_branch,
        coalesce(branches.branch_name, 'unknown') as branch_name,
        coalesce(branches.district, 'unknown') as district,
        coalesce(branches.region, 'unknown') as region,
        coalesce(branches.country, 'unknown') as country,
        accepted.channel,
        accepted.touchpoint,
        accepted.product,
        accepted.comment,
        accepted.language,
        accepted.consent_contact,
        accepted.consent_testimonial,
        accepted._source_file as source_file,
        accepted._source_row as source_row,
        accepted._loaded_at as loaded_at

    from accepted
    left join branches
        on accepted.branch_id = branches.branch_id
    left join surveys
        on accepted.survey_id = surveys.survey_id

),

final as (

    select
        *,
        category = 'promoter' as is_promoter,
        category = 'passive' as is_passive,
        category = 'detractor' as is_detractor

    from categorised

)

select * from final
