with

source as (

    select * from {{ source('raw_privacy', 'privacy_erasures') }}

),

renamed as (

    select
        request_id,
        reason as erasure_reason,
        feed,
        source_file,
        file_checksum,
        load_id,
        rows_erased,
        erased_at

    from source

)

select * from renamed
