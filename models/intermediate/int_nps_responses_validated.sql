{#- Every landed row with its outcome: accepted, quarantined (first failing reason) or duplicate. -#}

with

responses as (

    select * from {{ ref('stg_survey__nps_responses') }}

),

surveys as (

    select * from {{ ref('surveys') }}

),

batch_validations as (

    select * from {{ ref('stg_survey__batch_validations') }}

),

-- files held back by their raw suite: none of their rows flow downstream
blocked_batches as (

    select distinct
        source_file,
        load_id

    from batch_validations
    where feed = 'nps' and is_blocked

),

with_scale as (

    select
        responses.*,
        surveys.survey_id is not null as is_registered_survey,
        -- an unregistered survey is not a reason to drop data: it is read on the 0-10 scale
        coalesce(surveys.scale_min, 0) as scale_min,
        coalesce(surveys.scale_max, 10) as scale_max,
        blocked_batches.source_file is not null as is_batch_blocked

    from responses
    left join surveys
        on responses.survey_id = surveys.survey_id
    left join blocked_batches
        on
            responses._source_file = blocked_batches.source_file
            and responses._load_id = blocked_batches.load_id

),

checked as (

    select
        *,
        -- a row's own defect is the more specific reason; the rest of a blocked file follows it
        coalesce(
            {{ response_quarantine_reason('survey_id', 'missing_survey_id') }},
            case when is_batch_blocked then 'batch_failed_validation' end
        ) as quarantine_reason

    from with_scale

),

ranked as (

    -- the first received valid row of a response_id wins; later ones are duplicates
    select
        *,
        {{ response_receipt_columns() }}

    from checked

),

final as (

    select
        *,
        {{ response_outcome() }} as outcome

    from ranked

)

select * from final
