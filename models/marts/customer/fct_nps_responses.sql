{#- Incremental by day (macros/nps_incremental.sql): a run replaces the days it reprocesses, and
    logs the first of them (nps_log_rebuilt_from), so its GX suite validates only those rows. -#}

{{
    config(
        materialized='incremental',
        incremental_strategy=nps_incremental_strategy(),
        partition_by=nps_partition_by('response_date'),
        unique_key='response_date',
        on_schema_change='fail',
        pre_hook=[
            "{{ nps_create_incremental_state() }}",
            "{{ nps_create_rebuilt_from_log() }}",
            "{{ nps_log_rebuilt_from(nps_first_reprocessed_day()) }}",
            "{{ nps_delete_reprocessed_days('response_date') }}",
        ],
        post_hook="{{ nps_record_processed() }}",
    )
}}

{%- do nps_partition_range() %}  {#- fail early on malformed partition vars #}

-- depends_on: {{ ref('int_nps_responses_validated') }}

with

categorised as (

    select * from {{ ref('int_nps_responses_categorised') }}
    {%- if is_incremental() %}
    where response_date in ({{ nps_reprocessed_days() }})
    {%- endif %}

),

final as (

    select
        response_id,
        survey_id,
        survey_name,
        program,
        respondent_id,
        submitted_at,
        response_date,
        score,
        category,
        is_promoter,
        is_passive,
        is_detractor,
        branch_id,
        branch_name,
        district,
        region,
        country,
        channel,
        touchpoint,
        product,
        comment,
        language,
        consent_contact,
        consent_testimonial,
        is_registered_survey,
        is_registered_branch,
        source_file,
        source_row

    from categorised

)

select * from final
