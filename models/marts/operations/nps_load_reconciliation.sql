{#- Row accounting per landing file, each count taken from a different model, so the test
    landed = accepted + quarantined + duplicates checks the pipeline, not one query against itself. -#}

with

manifest as (

    select * from {{ ref('stg_survey__landing_manifest') }}
    where feed = 'nps'

),

landed as (

    {{ rows_per_source_file(ref('stg_survey__nps_responses'), 'landed_rows', '_source_file') }}

),

accepted as (

    {{ rows_per_source_file(ref('fct_nps_responses'), 'accepted_rows') }}

),

quarantined as (

    {{ rows_per_source_file(ref('nps_quarantine'), 'quarantined_rows') }}

),

duplicates as (

    {{ rows_per_source_file(ref('nps_duplicates'), 'duplicate_rows') }}

),

erased as (

    -- rows of forgotten respondents (orchestration/privacy.py), for the file version loaded
    select
        source_file,
        file_checksum,
        cast(sum(rows_erased) as bigint) as erased_rows
    from {{ ref('stg_privacy__erasures') }}
    where feed = 'nps'
    group by source_file, file_checksum

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
        coalesce(duplicates.duplicate_rows, 0) as duplicate_rows,
        coalesce(erased.erased_rows, 0) as erased_rows

    from manifest
    left join landed on manifest.source_file = landed.source_file
    left join accepted on manifest.source_file = accepted.source_file
    left join quarantined on manifest.source_file = quarantined.source_file
    left join duplicates on manifest.source_file = duplicates.source_file
    left join erased
        on
            manifest.source_file = erased.source_file
            and manifest.file_checksum = erased.file_checksum

)

select * from final
