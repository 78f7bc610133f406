with

validated as (

    select * from {{ ref('int_nps_responses_validated') }}

),

final as (

    {{ duplicate_response_rows('validated') }}

)

select * from final
