{#- Valid employee response rows whose response_id had already been received (first received
    wins). One row per row, so it lives in people_restricted, not in marts. -#}

with

validated as (

    select * from {{ ref('int_enps_responses_validated') }}

),

final as (

    {{ duplicate_response_rows('validated') }}

)

select * from final
