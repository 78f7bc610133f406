{#- Promoters who agreed to be quoted and said something (placeholders such as "-" or "n/a"
    do not count), newest first (recency_rank 1 = the newest). -#}

with

responses as (

    select * from {{ ref('fct_nps_responses') }}

),

themes as (

    select * from {{ ref('int_comment_themes_listed') }}

),

quotable as (

    select
        responses.response_id,
        responses.submitted_at,
        responses.response_date,
        responses.score,
        responses.survey_id,
        responses.program,
        responses.branch_id,
        responses.branch_name,
        responses.region,
        responses.country,
        responses.language,
        {{ comment_text('responses.comment') }} as comment,
        themes.themes

    from responses
    left join themes
        on responses.response_id = themes.response_id
    where
        responses.is_promoter
        and responses.consent_testimonial
        and {{ has_comment('responses.comment') }}

),

final as (

    select
        *,
        row_number() over (order by submitted_at desc, response_id asc) as recency_rank

    from quotable

)

select * from final
order by recency_rank
