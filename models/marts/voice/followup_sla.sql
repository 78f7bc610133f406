{#- Follow-up performance per branch and month of the detractor's response. Roll up by summing
    the counts (medians do not add up: recompute them from detractor_followup_queue). -#}

with

queue as (

    select * from {{ ref('detractor_followup_queue') }}

),

monthly as (

    select
        'month' as period_grain,
        cast({{ dbt.date_trunc('month', 'response_date') }} as date) as period_start,
        branch_id,
        branch_name,
        region,
        count(*) as detractors_to_follow_up,
        count(first_contacted_at) as contacted,
        count(case when is_contacted_within_sla then 1 end) as contacted_within_sla,
        count(case when is_contacted_late then 1 end) as contacted_late,
        count(resolved_at) as resolved,
        count(case when is_overdue then 1 end) as overdue_open,
        {{ median('hours_to_contact') }} as median_hours_to_contact

    from queue
    group by 1, 2, 3, 4, 5

),

final as (

    select
        *,
        {{ nps_double('contacted_within_sla') }} / detractors_to_follow_up as share_contacted_within_sla,
        {{ nps_double('contacted') }} / detractors_to_follow_up as share_contacted

    from monthly

)

select * from final
