{#- Row accounting per eNPS landing file, each count taken from a different model, so the test
    landed = accepted + quarantined + duplicates checks the pipeline. Counts per file only. -#}

with

manifest as (

    select * from {{ ref('stg_survey__landing_manifest') }}
    where feed = 'enps'

),

landed as (

    {{ rows_per_source_file(ref('stg_employee__enps_responses'), 'landed_rows', '_source_file') }}

),

accepted as (

    {{ rows_per_source_file(ref('int_enps_responses_categorised'), 'accepted_rows') }}

),

quarantined as (

    {{ rows_per_source_file(ref('enps_quarantine'), 'quarantined_rows') }}

),

duplicates as (

    {{ rows_per_source_file(ref('enps_duplicates'), 'duplicate_rows') }}

),

final as (

    select
        manifest.source_file,
        manifest.file_status,
        manifest.file_error,
        manifest.loaded_at,
        coalesce(manifest.manifest_row_count, 0) as manifest_rows,
        coalesce(landed.landed_rows, 0) as landed_rows,
        coalesce(accepted.accepted_rows, 0) as accepted_rows,
        coalesce(quarantined.quarantined_rows, 0) as quarantined_rows,
        coalesce(duplicates.duplicate_rows, 0) as duplicate_rows

    from manifest
    left join landed on manifest.source_file = landed.source_file
    left join accepted on manifest.source_file = accepted.source_file
    left join quarantined on manifest.source_file = quarantined.source_file
    left join duplicates on manifest.source_file = duplicates.source_file

)

select * from final
