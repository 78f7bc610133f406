{#- Every landed row with its outcome: accepted, quarantined (first failing reason) or duplicate. -#}

with

responses as (

    select * from {{ ref('stg_survey__nps_responses') }}

),

surveys as (

    select * from {{ ref('surveys') }}

),

with_scale as (

    select
        responses.*,
        surveys.survey_id is not null as is_registered_survey,
        -- an unregistered survey is not a reason to drop data: it is read on the 0-10 scale
        coalesce(surveys.scale_min, 0) as scale_min,
        coalesce(surveys.scale_max, 10) as scale_max

    from responses
    left join surveys
        on responses.survey_id = surveys.survey_id

),

checked as (

    select
        *,
        case
            when response_id is null then 'missing_response_id'
            when survey_id is null then 'missing_survey_id'
            when submitted_at_text is null then 'missing_submitted_at'
            when submitted_at is null then 'unparseable_submitted_at'
            when submitted_at > _loaded_at then 'future_submitted_at'
            when score_text is null then 'missing_score'
            when not score_is_integer then 'score_not_integer'
            when score_value < scale_min or score_value > scale_max then 'score_out_of_scale'
        end as quarantine_reason

    from with_scale

),

ranked as (

    -- the first received valid row of a response_id wins; later ones are duplicates
    select
        *,
        row_number() over (
            partition by response_id, quarantine_reason is null
            order by _file_received_at, _source_file, _source_row
        ) as receipt_rank,
        first_value(_source_file) over (
            partition by response_id, quarantine_reason is null
            order by _file_received_at, _source_file, _source_row
        ) as first_received_source_file,
        first_value(_source_row) over (
            partition by response_id, quarantine_reason is null
            order by _file_received_at, _source_file, _source_row
        ) as first_received_source_row

    from checked

),

final as (

    select
        *,
        case
            when quarantine_reason is not null then 'quarantined'
            when receipt_rank > 1 then 'duplicate'
            else 'accepted'
        end as outcome

    from ranked

)

select * from final
