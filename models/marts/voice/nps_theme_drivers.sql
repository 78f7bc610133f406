{#- Per month x segment x theme: how often a theme is mentioned, by whom, and how the NPS of
    those who mention it compares with everyone else's; with the change since the month before.
    Segments: the whole company (segment_type 'all', segment 'all') and each region.

    Incremental by month (macros/nps_incremental_marts.sql): a run recomputes the months holding
    a reprocessed day and the months after them, from the responses of those months and the
    months before them; every month when the tagging changed. -#}

{% set response_month = 'cast(' ~ dbt.date_trunc('month', 'response_date') ~ ' as date)' %}
{# the months read, for both inputs: asked of the warehouse once #}
{% set read_months = nps_theme_driver_months_condition(response_month, with_previous=true) %}

{{
    config(
        materialized='incremental',
        incremental_strategy=nps_incremental_strategy(),
        partition_by=nps_partition_by('period_start'),
        on_schema_change='fail',
        pre_hook=[
            "{{ nps_create_incremental_state() }}",
            "{{ nps_create_reprocessed_days_log() }}",
            "{{ create_theme_tagging_state() }}",
            "{{ nps_delete_rows_where('period_start', nps_theme_driver_months_condition('period_start')) }}",
        ],
        post_hook=[
            "{{ nps_record_processed() }}",
            "{{ record_theme_tagging_version() }}",
        ],
    )
}}

-- depends_on: {{ ref('int_nps_responses_aggregated') }}

with

responses as (

    select * from {{ ref('fct_nps_responses') }}
    where {{ read_months }}

),

tagged as (

    select * from {{ ref('int_comment_themes_tagged') }}
    where {{ read_months }}

),

theme_list as (

    select distinct theme from {{ ref('themes') }}

),

responses_by_month as (

    select
        response_id,
        cast({{ dbt.date_trunc('month', 'response_date') }} as date) as period_start,
        region,
        is_promoter,
        is_detractor,
        {{ has_comment('comment') }} as has_comment

    from responses

),

segmented as (

    select
        response_id,
        period_start,
        'all' as segment_type,
        'all' as segment,
        is_promoter,
        is_detractor,
        has_comment

    from responses_by_month

    union all

    select
        response_id,
        period_start,
        'region' as segment_type,
        region as segment,
        is_promoter,
        is_detractor,
        has_comment

    from responses_by_month

),

totals as (

    select
        period_start,
        segment_type,
        segment,
        count(*) as responses,
        count(case when is_promoter then 1 end) as promoters,
        count(case when is_detractor then 1 end) as detractors,
        count(case when has_comment then 1 end) as commented_responses,
        count(case when has_comment and is_detractor then 1 end) as detractor_comments

    from segmented
    group by period_start, segment_type, segment

),

mentions as (

    select
        segmented.period_start,
        segmented.segment_type,
        segmented.segment,
        tagged.theme,
        count(*) as mentions,
        count(case when segmented.is_promoter then 1 end) as promoter_mentions,
        count(case when segmented.is_detractor then 1 end) as detractor_mentions

    from segmented
    inner join tagged
        on segmented.response_id = tagged.response_id
    group by segmented.period_start, segmented.segment_type, segmented.segment, tagged.theme

),

grid as (

    -- every theme in every month and segment that has responses, so a month without a
    -- mention shows 0 (and the trend sees it)
    select
        totals.*,
        theme_list.theme,
        coalesce(mentions.mentions, 0) as mentions,
        coalesce(mentions.promoter_mentions, 0) as promoter_mentions,
        coalesce(mentions.detractor_mentions, 0) as detractor_mentions

    from totals
    cross join theme_list
    left join mentions
        on
            totals.period_start = mentions.period_start
            and totals.segment_type = mentions.segment_type
            and totals.segment = mentions.segment
            and theme_list.theme = mentions.theme

),

measured as (

    select
        period_start,
        segment_type,
        segment,
        theme,
        responses,
        commented_responses,
        detractor_comments,
        mentions,
        detractor_mentions,
        case
            when commented_responses > 0 then {{ nps_double("mentions") }} / commented_responses
        end as mention_share,
        case
            when detractor_comments > 0 then {{ nps_double("detractor_mentions") }} / detractor_comments
        end as detractor_comment_share,
        {{ nps('promoter_mentions', 'detractor_mentions', 'mentions') }} as nps_mentioning,
        {{ nps(
            '(promoters - promoter_mentions)',
            '(detractors - detractor_mentions)',
            '(responses - mentions)'
        ) }} as nps_not_mentioning

    from grid

),

final as (

    select
        'month' as period_grain,
        current_period.period_start,
        current_period.segment_type,
        current_period.segment,
        current_period.theme,
        current_period.responses,
        current_period.commented_responses,
        current_period.detractor_comments,
        current_period.mentions,
        current_period.detractor_mentions,
        current_period.mention_share,
        current_period.detractor_comment_share,
        current_period.nps_mentioning,
        current_period.nps_not_mentioning,
        current_period.nps_mentioning - current_period.nps_not_mentioning as nps_gap,
        previous_period.mentions as previous_mentions,
        current_period.mentions - previous_period.mentions as mentions_change,
        previous_period.detractor_comment_share as previous_detractor_comment_share,
        current_period.detractor_comment_share
        - previous_period.detractor_comment_share as detractor_comment_share_change,
        previous_period.nps_mentioning as previous_nps_mentioning,
        current_period.nps_mentioning - previous_period.nps_mentioning as nps_mentioning_change

    from measured as current_period
    left join measured as previous_period
        on
            previous_period.period_start
            = cast({{ dbt.dateadd('month', -1, 'current_period.period_start') }} as date)
            and current_period.segment_type = previous_period.segment_type
            and current_period.segment = previous_period.segment
            and current_period.theme = previous_period.theme
    where {{ nps_theme_driver_months_condition('current_period.period_start') }}

)

select * from final
