{#- Valid employee response rows whose response_id had already been received (first received
    wins). One row per row, so it lives in people_restricted, not in marts. -#}

with

validated as (

    select * from {{ ref('int_enps_responses_validated') }}

),

final as (

    select
        _source_file as source_file,
        _source_row as source_row,
        response_id,
        first_received_source_file as duplicate_of_source_file,
        first_received_source_row as duplicate_of_source_row,
        _loaded_at as loaded_at

    from validated
    where outcome = 'duplicate'

)

select * from final
