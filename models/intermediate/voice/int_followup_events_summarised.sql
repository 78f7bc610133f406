{#- One row per followed-up response: when it was first contacted and when resolved. A resolved
    event without an earlier contacted event counts as the first contact too (you cannot
    resolve without talking to the customer). Unknown events and unparseable times are ignored. -#}

with

events as (

    select * from {{ ref('stg_feedback__followup_events') }}
    where
        response_id is not null
        and event in ('contacted', 'resolved')
        and event_at is not null

),

ranked as (

    select
        *,
        row_number() over (
            partition by response_id
            order by event_at desc, _file_received_at desc, _source_file desc, _source_row desc
        ) as recency

    from events

),

summarised as (

    select
        response_id,
        min(event_at) as first_contacted_at,
        min(case when event = 'resolved' then event_at end) as resolved_at,
        count(*) as followup_events,
        max(case when recency = 1 then event end) as last_event,
        max(case when recency = 1 then note end) as last_note

    from ranked
    group by response_id

)

select * from summarised
