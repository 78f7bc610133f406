{#- Accepted employee responses with their category: THE per-response eNPS table. It stays in the
    people_restricted schema; marts publish only suppressed aggregates of it. -#}

with

validated as (

    select * from {{ ref('int_enps_responses_validated') }}

),

accepted as (

    select * from validated
    where outcome = 'accepted'

),

categorised as (

    select
        response_id,
        survey_wave,
        submitted_at,
        {{ local_date('submitted_at') }} as response_date,
        cast(score_value as integer) as score,
        {{ nps_category('score_value') }} as category,
        -- a missing attribute is a group of its own, so every grouping partitions all responses
        coalesce(department, 'unknown') as department,
        coalesce(team, 'unknown') as team,
        coalesce(location, 'unknown') as location,
        coalesce(tenure_band, 'unknown') as tenure_band,
        comment,
        language,
        _source_file as source_file,
        _source_row as source_row

    from accepted

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
