{#- One row per accepted response x theme its comment mentions (see macros/themes.sql). -#}

with

responses as (

    select * from {{ ref('int_nps_responses_categorised') }}

),

theme_keywords as (

    select * from {{ ref('themes') }}

),

tagged as (

    {{ theme_matches('responses', 'theme_keywords') }}

),

final as (

    select
        response_id,
        theme

    from tagged

)

select * from final
