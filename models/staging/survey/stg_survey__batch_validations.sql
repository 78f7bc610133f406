{#- One row per landing file, load and raw suite: the Great Expectations verdict of the batch. -#}

with

source as (

    select * from {{ source('raw', 'batch_validations') }}

),

renamed as (

    select
        feed,
        suite,
        source_file,
        load_id,
        validated_at,
        row_count,
        success as is_passed,
        blocked as is_blocked,
        blocking_expectations,
        failed_expectations

    from source

)

select * from renamed
