with

source as (

    select * from {{ source('raw', 'landing_manifest') }}

),

renamed as (

    select
        source_file,
        feed,
        status as file_status,
        error as file_error,
        row_count as manifest_row_count,
        file_checksum,
        file_received_at,
        loaded_at,
        load_id,
        last_attempt_at

    from source

)

select * from renamed
