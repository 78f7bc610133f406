{#- Comments released per group, without the score (or anything else) that came with them.

    A comment is released once per wave, in the finest group of the department hierarchy that is
    large enough (var enps_min_comment_group_size, default 10) and not suppressed:
    - its team, when the team is;
    - else its department, when the department's responses from teams NOT released on their own
      are enough (releasing a department's full list beside its teams' lists would let a reader
      subtract the teams and read what a small team wrote);
    - else all employees, on the same rule for what no team or department released;
    - else it is withheld.
    Comments are not released by location or tenure band: the same comment under a team and a
    location would let a reader intersect the two groups. -#}

with

wave_groups as (

    select * from {{ ref('int_enps_wave_groups') }}

),

responses as (

    select * from {{ ref('int_enps_responses_categorised') }}

),

teams as (

    select
        survey_wave,
        department,
        team,
        not is_suppressed
        and responses >= {{ enps_min_comment_group_size() }} as is_released

    from wave_groups
    where grouping = 'department_team'

),

with_team as (

    select
        responses.survey_wave,
        responses.department,
        responses.team,
        responses.comment,
        responses.language,
        teams.is_released as is_team_released

    from responses
    inner join teams
        on
            responses.survey_wave = teams.survey_wave
            and responses.department = teams.department
            and responses.team = teams.team

),

departments as (

    -- a department releases what its released teams did not, if that pool is large enough
    select
        wave_groups.survey_wave,
        wave_groups.department,
        not wave_groups.is_suppressed
        and count(with_team.survey_wave) >= {{ enps_min_comment_group_size() }} as is_released

    from wave_groups
    left join with_team
        on
            wave_groups.survey_wave = with_team.survey_wave
            and wave_groups.department = with_team.department
            and not with_team.is_team_released
    where wave_groups.grouping = 'department'
    group by wave_groups.survey_wave, wave_groups.department, wave_groups.is_suppressed

),

with_department as (

    select
        with_team.*,
        departments.is_released as is_department_released

    from with_team
    inner join departments
        on
            with_team.survey_wave = departments.survey_wave
            and with_team.department = departments.department

),

everyone as (

    -- all employees release what no team or department did, if that pool is large enough
    select
        wave_groups.survey_wave,
        not wave_groups.is_suppressed
        and count(with_department.survey_wave) >= {{ enps_min_comment_group_size() }}
            as is_released

    from wave_groups
    left join with_department
        on
            wave_groups.survey_wave = with_department.survey_wave
            and not with_department.is_team_released
            and not with_department.is_department_released
    where wave_groups.grouping = 'all'
    group by wave_groups.survey_wave, wave_groups.is_suppressed

),

released as (

    select
        with_department.survey_wave,
        case
            when with_department.is_team_released then 'department_team'
            when with_department.is_department_released then 'department'
            else 'all'
        end as grouping,
        case
            when with_department.is_team_released or with_department.is_department_released
                then with_department.department
        end as department,
        case when with_department.is_team_released then with_department.team end as team,
        with_department.language,
        with_department.comment

    from with_department
    inner join everyone
        on with_department.survey_wave = everyone.survey_wave
    where
        with_department.comment is not null
        and (
            with_department.is_team_released
            or with_department.is_department_released
            or everyone.is_released
        )

),

final as (

    -- ordered by content, so the order of rows says nothing about who answered when
    select * from released
    order by survey_wave, grouping, department, team, comment

)

select * from final
