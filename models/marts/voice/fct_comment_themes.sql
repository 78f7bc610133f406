with

responses as (

    select * from {{ ref('fct_nps_responses') }}

),

tagged as (

    select * from {{ ref('int_comment_themes_tagged') }}

),

final as (

    select
        tagged.response_id,
        tagged.theme,
        responses.survey_id,
        responses.program,
        responses.submitted_at,
        responses.response_date,
        responses.score,
        responses.category,
        responses.is_promoter,
        responses.is_passive,
        responses.is_detractor,
        responses.branch_id,
        responses.branch_name,
        responses.district,
        responses.region,
        responses.country,
        responses.channel,
        responses.touchpoint,
        responses.product,
        responses.language,
        {{ comment_text('responses.comment') }} as comment

    from tagged
    inner join responses
        on tagged.response_id = responses.response_id

)

select * from final
