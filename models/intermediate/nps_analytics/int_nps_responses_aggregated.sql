{#- Daily counts at the finest segment grain: day x branch x survey x touchpoint x channel x
    product. Everything in the NPS analytics marts is summed from here (or from its roll-up).
    Incremental by day (macros/nps_incremental.sql): it decides, and logs for the models after
    it, the days this run reprocesses, including days whose totals no longer match
    fct_nps_responses (responses erased there). -#}

{{
    config(
        materialized='incremental',
        incremental_strategy=nps_incremental_strategy(),
        partition_by=nps_partition_by('response_date'),
        unique_key='response_date',
        on_schema_change='fail',
        pre_hook=[
            "{{ nps_create_incremental_state() }}",
            "{{ nps_create_reprocessed_days_log() }}",
            "{{ nps_log_reprocessed_days(ref('fct_nps_responses')) }}",
            "{{ nps_delete_logged_days('response_date') }}",
        ],
        post_hook="{{ nps_record_processed() }}",
    )
}}

-- depends_on: {{ ref('int_nps_responses_validated') }}

with

responses as (

    select * from {{ ref('fct_nps_responses') }}
    {%- if is_incremental() %}
    where response_date in ({{ nps_logged_days() }})
    {%- endif %}

),

aggregated as (

    select
        response_date,
        region,
        district,
        branch_id,
        branch_name,
        survey_id,
        coalesce(touchpoint, 'unknown') as touchpoint,
        coalesce(channel, 'unknown') as channel,
        coalesce(product, 'unknown') as product,
        count(*) as responses,
        count(case when is_promoter then 1 end) as promoters,
        count(case when is_passive then 1 end) as passives,
        count(case when is_detractor then 1 end) as detractors

    from responses
    group by 1, 2, 3, 4, 5, 6, 7, 8, 9

),

final as (

    select * from aggregated

)

select * from final
