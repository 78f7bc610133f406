{#- How respondents move between categories from one period to the next (var
    nps_migration_period_types: month and quarter), per segment: for each respondent and segment,
    the category of their latest response in the period, compared with the same respondent's in
    the immediately preceding period of that segment. -#}

{% set keys = nps_segment_key_columns() %}
{% set period_types = var('nps_migration_period_types') %}

with

responses as (

    select * from {{ ref('fct_nps_responses') }}
    where respondent_id is not null

),

repeaters as (

    -- only respondents who answered in at least two different months can migrate
    select respondent_id
    from responses
    group by 1
    having
        min(cast({{ dbt.date_trunc('month', 'response_date') }} as date))
        < max(cast({{ dbt.date_trunc('month', 'response_date') }} as date))

),

repeat_responses as (

    select
        responses.respondent_id,
        responses.response_id,
        responses.submitted_at,
        responses.response_date,
        responses.category,
        responses.region,
        responses.district,
        responses.branch_id,
        responses.branch_name,
        responses.survey_id,
        coalesce(responses.touchpoint, 'unknown') as touchpoint,
        coalesce(responses.channel, 'unknown') as channel,
        coalesce(responses.product, 'unknown') as product

    from responses
    inner join repeaters
        on responses.respondent_id = repeaters.respondent_id

),

segment_types as (

    {{ nps_values_relation('segment_type', nps_segment_types()) }}

),

levels as (

    {{ nps_values_relation('hierarchy_level', nps_hierarchy_levels()) }}

),

period_types as (

    {{ nps_values_relation('period_type', period_types) }}

),

segmented as (

    -- every response in each of the segments it belongs to, for each period type
    select
        repeat_responses.respondent_id,
        repeat_responses.response_id,
        repeat_responses.submitted_at,
        repeat_responses.category,
        period_types.period_type,
        case
            {% for period_type in period_types %}
                when period_types.period_type = '{{ period_type }}'
                    then cast({{ dbt.date_trunc(period_type, 'repeat_responses.response_date') }} as date)
            {% endfor %}
        end as period_start,
        levels.hierarchy_level,
        case when levels.hierarchy_level <> 'all' then repeat_responses.region end as region,
        case when levels.hierarchy_level in ('district', 'branch') then repeat_responses.district end as district,
        case when levels.hierarchy_level = 'branch' then repeat_responses.branch_id end as branch_id,
        case when levels.hierarchy_level = 'branch' then repeat_responses.branch_name end as branch_name,
        segment_types.segment_type,
        case segment_types.segment_type
            when 'survey' then repeat_responses.survey_id
            when 'touchpoint' then repeat_responses.touchpoint
            when 'channel' then repeat_responses.channel
            when 'product' then repeat_responses.product
            else 'all'
        end as segment_value

    from repeat_responses
    cross join period_types
    cross join levels
    cross join segment_types

),

ranked as (

    select
        *,
        row_number() over (
            partition by respondent_id, period_type, period_start, {{ keys | join(', ') }}
            order by submitted_at desc, response_id desc
        ) as recency_rank

    from segmented

),

respondent_periods as (

    -- the respondent's category in the period and segment: that of their latest response there
    select * from ranked
    where recency_rank = 1

),

with_previous as (

    select
        *,
        lag(period_start) over (
            partition by respondent_id, period_type, {{ keys | join(', ') }}
            order by period_start
        ) as lagged_period_start,
        lag(category) over (
            partition by respondent_id, period_type, {{ keys | join(', ') }}
            order by period_start
        ) as lagged_category,
        case
            {% for period_type in period_types %}
                when period_type = '{{ period_type }}'
                    then {{ add_periods(period_type, -1, 'period_start') }}
            {% endfor %}
        end as previous_period_start

    from respondent_periods

),

migrations as (

    select
        period_type,
        previous_period_start,
        period_start,
        {{ keys | join(',\n        ') }},
        lagged_category as from_category,
        category as to_category,
        count(*) as respondents

    from with_previous
    where lagged_period_start = previous_period_start
    group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12

),

final as (

    select
        *,
        cast(sum(respondents) over (
            partition by period_type, period_start, {{ keys | join(', ') }}, from_category
        ) as bigint) as from_category_respondents

    from migrations

)

select * from final
