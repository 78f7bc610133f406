{#- Detractors who agreed to be contacted, with who should call them back and by when. The only
    mart with the respondent's email (tests/dbt/assert_marts_carry_no_email.sql). -#}

with

responses as (

    select * from {{ ref('int_nps_responses_categorised') }}

),

managers as (

    select * from {{ ref('branch_managers') }}

),

survey_sla as (

    select * from {{ ref('survey_followup_sla') }}

),

themes as (

    select * from {{ ref('int_comment_themes_listed') }}

),

followups as (

    select * from {{ ref('int_followup_events_summarised') }}

),

to_follow_up as (

    select * from responses
    where category = 'detractor' and consent_contact

),

joined as (

    select
        to_follow_up.response_id,
        to_follow_up.survey_id,
        to_follow_up.survey_name,
        to_follow_up.program,
        to_follow_up.submitted_at,
        to_follow_up.response_date,
        to_follow_up.score,
        to_follow_up.respondent_id,
        to_follow_up.respondent_email,
        to_follow_up.language,
        {{ comment_text('to_follow_up.comment') }} as comment,
        themes.themes,
        to_follow_up.branch_id,
        to_follow_up.branch_name,
        to_follow_up.district,
        to_follow_up.region,
        to_follow_up.country,
        managers.manager_name,
        managers.manager_email,
        {{ followup_sla_hours('survey_sla.followup_sla_hours') }} as sla_hours,
        followups.first_contacted_at,
        followups.resolved_at,
        followups.last_note

    from to_follow_up
    left join managers
        on to_follow_up.branch_id = managers.branch_id
    left join survey_sla
        on to_follow_up.survey_id = survey_sla.survey_id
    left join themes
        on to_follow_up.response_id = themes.response_id
    left join followups
        on to_follow_up.response_id = followups.response_id

),

timed as (

    select
        *,
        {{ dbt.dateadd('hour', 'sla_hours', 'submitted_at') }} as due_at,
        {{ dbt.current_timestamp() }} as evaluated_at

    from joined

),

final as (

    select
        response_id,
        survey_id,
        survey_name,
        program,
        submitted_at,
        response_date,
        score,
        respondent_id,
        respondent_email,
        language,
        comment,
        themes,
        branch_id,
        branch_name,
        district,
        region,
        country,
        manager_name,
        manager_email,
        sla_hours,
        due_at,
        case
            when resolved_at is not null then 'resolved'
            when first_contacted_at is not null then 'contacted'
            else 'open'
        end as status,
        first_contacted_at,
        resolved_at,
        last_note,
        -- whole minutes crossed, the same on every engine (dbt-spark's datediff rounds a
        -- part of a minute up)
        {{ nps_double(dbt.datediff(
            dbt.date_trunc('minute', 'submitted_at'),
            dbt.date_trunc('minute', 'first_contacted_at'),
            'minute'
        )) }} / 60 as hours_to_contact,
        first_contacted_at <= due_at as is_contacted_within_sla,
        first_contacted_at > due_at as is_contacted_late,
        first_contacted_at is null and evaluated_at > due_at as is_overdue,
        evaluated_at

    from timed

)

select * from final
