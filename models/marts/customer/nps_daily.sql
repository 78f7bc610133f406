{#- Incremental by day (macros/nps_incremental.sql): a run replaces the days it reprocesses,
    and the days whose totals no longer match fct_nps_responses (responses erased there). -#}

{{
    config(
        materialized='incremental',
        incremental_strategy=nps_incremental_strategy(),
        partition_by=nps_partition_by('response_date'),
        unique_key='response_date',
        on_schema_change='fail',
        pre_hook=[
            "{{ nps_create_incremental_state() }}",
            "{{ nps_delete_reprocessed_days('response_date', ref('fct_nps_responses')) }}",
        ],
        post_hook="{{ nps_record_processed() }}",
    )
}}

-- depends_on: {{ ref('int_nps_responses_validated') }}

with

responses as (

    select * from {{ ref('fct_nps_responses') }}
    {%- if is_incremental() %}
    where response_date in ({{ nps_reprocessed_days(ref('fct_nps_responses')) }})
    {%- endif %}

),

daily as (

    select
        response_date,
        survey_id,
        branch_id,
        {{ any_value_of('branch_name') }} as branch_name,
        {{ any_value_of('district') }} as district,
        {{ any_value_of('region') }} as region,
        {{ any_value_of('country') }} as country,
        count(*) as responses,
        count(case when is_promoter then 1 end) as promoters,
        count(case when is_passive then 1 end) as passives,
        count(case when is_detractor then 1 end) as detractors

    from responses
    group by response_date, survey_id, branch_id

),

final as (

    select
        *,
        {{ nps('promoters', 'detractors', 'responses') }} as nps

    from daily

)

select * from final
