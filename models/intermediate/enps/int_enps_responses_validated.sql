{#- Every landed employee response row with its outcome: accepted, quarantined (first failing
    reason) or duplicate, by the same rules as customer responses (macros/response_validation.sql).
    eNPS is always asked on 0-10. -#}

with

responses {{ not_materialized() }} (

    select * from {{ ref('stg_employee__enps_responses') }}

),

-- files held back by their raw suite (an identifier column got through): none of their rows
-- flow downstream
blocked_batches as (

    {{ response_blocked_batches('enps') }}

),

with_batch {{ not_materialized() }} (

    select
        responses.*,
        blocked_batches.source_file is not null as is_batch_blocked

    from responses
    left join blocked_batches
        on
            responses._source_file = blocked_batches.source_file
            and responses._load_id = blocked_batches.load_id

),

checked {{ not_materialized() }} (

    select
        *,
        -- a row's own defect is the more specific reason; the rest of a blocked file follows it
        coalesce(
            {{ response_quarantine_reason(
                'survey_wave', 'missing_survey_wave', scale_min=0, scale_max=10
            ) }},
            case when is_batch_blocked then 'batch_failed_validation' end
        ) as quarantine_reason

    from with_batch

),

repeated_response_ids as (

    {{ response_repeated_ids('checked') }}

),

repeated_receipts as (

    -- the first received valid row of a response_id wins; later ones are duplicates
    {{ response_repeated_receipts('checked', 'repeated_response_ids') }}

),

ranked as (

    {{ response_with_receipts('checked', 'repeated_receipts') }}

),

final as (

    select
        *,
        {{ response_outcome() }} as outcome

    from ranked

)

select * from final
