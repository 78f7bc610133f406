{#- Daily counts of every segment (hierarchy level x segment type, see macros/nps_segments.sql);
    only days on which the segment had responses. -#}

with

aggregated as (

    select * from {{ ref('int_nps_responses_aggregated') }}

),

rolled_up as (

    {{ nps_segment_rollup(
        'aggregated',
        ['response_date'],
        ['responses', 'promoters', 'passives', 'detractors'],
    ) }}

),

final as (

    select * from rolled_up

)

select * from final
