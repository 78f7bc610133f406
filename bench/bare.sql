-- The bare-DuckDB floor: what a hand-written script computes straight from the landing files,
-- with no warehouse, no manifest, no models, no validation, no orchestration.
--
-- It applies the contract's row rules (docs/contracts.md) to the same files the pipeline loads:
-- a row is quarantined for a blank id, survey or timestamp, an unparseable or future timestamp,
-- a blank, non-integer or out-of-scale score; of the valid rows sharing a trimmed response_id
-- one is accepted (the benchmark's duplicates are exact copies, so which one does not change
-- any number below). Day boundaries are UTC (the dbt var nps_timezone's default).
--
-- bench/run.py fills the placeholders: {store_csv} {delivery_csv} {jsonl} {parquet} are SQL
-- lists of files (each list ends with an empty file of its kind, so a size without CSV still
-- runs), {surveys_csv} and {branches_csv} the reference seeds. It reads three result tables:
-- bare_accepted, bare_daily_branch and bare_rolling_region.

set TimeZone = 'UTC';

create or replace temp table landed as
with

store_exports as (
    -- store exporter (v1 and v2 headers differ, same column order), comma separated
    select response_id, survey_id, submitted_at, score, branch_id
    from read_csv(
        {store_csv}, header = true, delim = ',', quote = '"', escape = '"', auto_detect = false,
        columns = {
            'response_id': 'VARCHAR', 'survey_id': 'VARCHAR', 'respondent_id': 'VARCHAR',
            'respondent_email': 'VARCHAR', 'submitted_at': 'VARCHAR', 'score': 'VARCHAR',
            'comment': 'VARCHAR', 'language': 'VARCHAR', 'channel': 'VARCHAR',
            'touchpoint': 'VARCHAR', 'branch_id': 'VARCHAR', 'product': 'VARCHAR',
            'consent_contact': 'VARCHAR', 'consent_testimonial': 'VARCHAR'
        }
    )
),

delivery_exports as (
    -- delivery exporter: its own column order, semicolon separated, one extra column
    select response_id, survey_id, submitted_at, score, branch_id
    from read_csv(
        {delivery_csv}, header = true, delim = ';', quote = '"', escape = '"', auto_detect = false,
        columns = {
            'submitted_at': 'VARCHAR', 'response_id': 'VARCHAR', 'survey_id': 'VARCHAR',
            'score': 'VARCHAR', 'comment': 'VARCHAR', 'respondent_id': 'VARCHAR',
            'respondent_email': 'VARCHAR', 'branch_id': 'VARCHAR', 'product': 'VARCHAR',
            'channel': 'VARCHAR', 'touchpoint': 'VARCHAR', 'language': 'VARCHAR',
            'consent_contact': 'VARCHAR', 'consent_testimonial': 'VARCHAR',
            'export_batch': 'VARCHAR'
        }
    )
),

app_exports as (
    select response_id, survey_id, submitted_at, score, branch_id
    from read_json(
        {jsonl}, format = 'newline_delimited',
        columns = {
            'response_id': 'VARCHAR', 'survey_id': 'VARCHAR', 'submitted_at': 'VARCHAR',
            'score': 'VARCHAR', 'branch_id': 'VARCHAR'
        }
    )
),

parquet_exports as (
    select
        cast(response_id as varchar) as response_id,
        cast(survey_id as varchar) as survey_id,
        cast(submitted_at as varchar) as submitted_at,
        cast(score as varchar) as score,
        cast(branch_id as varchar) as branch_id
    from read_parquet({parquet}, union_by_name = true)
)

select * from store_exports
union all
select * from delivery_exports
union all
select * from app_exports
union all
select * from parquet_exports;

create or replace temp table surveys as
select
    trim(survey_id) as survey_id,
    min(cast(scale_min as integer)) as scale_min,
    max(cast(scale_max as integer)) as scale_max
from read_csv({surveys_csv}, header = true, all_varchar = true)
group by 1;

create or replace temp table branches as
select trim(branch_id) as branch_id, any_value(region) as region
from read_csv({branches_csv}, header = true, all_varchar = true)
group by 1;

create or replace temp table accepted as
with

cleaned as (
    select
        nullif(trim(response_id), '') as response_id,
        nullif(trim(survey_id), '') as survey_id,
        nullif(trim(submitted_at), '') as submitted_at_text,
        nullif(trim(score), '') as score_text,
        nullif(trim(branch_id), '') as branch_id
    from landed
),

typed as (
    select
        *,
        case
            when regexp_full_match(
                submitted_at_text,
                '[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)? ?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?'
            ) then try_cast(submitted_at_text as timestamptz)
        end as submitted_at,
        case
            when regexp_full_match(score_text, '[+-]?[0-9]+(\.0+)?')
                then cast(score_text as double)
        end as score_value
    from cleaned
),

valid as (
    select typed.*
    from typed
    left join surveys on typed.survey_id = surveys.survey_id
    where typed.response_id is not null
        and typed.survey_id is not null
        and typed.submitted_at is not null
        and typed.submitted_at <= now()
        and typed.score_value is not null
        and typed.score_value between coalesce(surveys.scale_min, 0) and coalesce(surveys.scale_max, 10)
)

select
    response_id,
    cast(any_value(submitted_at) as date) as response_date,
    coalesce(any_value(branch_id), 'unknown') as branch_id,
    any_value(score_value) as score
from valid
group by response_id;

create or replace temp table bare_accepted as
select count(*) as accepted from accepted;

create or replace temp table bare_daily_branch as
select
    response_date,
    branch_id,
    count(*) as responses,
    count(*) filter (where score >= 9) as promoters,
    count(*) filter (where score < 7) as detractors
from accepted
group by all;

create or replace temp table bare_rolling_region as
with

daily as (
    select
        d.response_date,
        coalesce(b.region, 'unknown') as region,
        sum(d.responses) as responses,
        sum(d.promoters) as promoters,
        sum(d.detractors) as detractors
    from bare_daily_branch as d
    left join branches as b on d.branch_id = b.branch_id
    group by all
),

calendar as (
    select cast(day as date) as calendar_date
    from range(
        (select min(response_date) from daily),
        (select max(response_date) from daily) + 1,
        interval 1 day
    ) as t(day)
),

dense as (
    select c.calendar_date, r.region,
        coalesce(d.responses, 0) as responses,
        coalesce(d.promoters, 0) as promoters,
        coalesce(d.detractors, 0) as detractors
    from calendar as c
    cross join (select distinct region from daily) as r
    left join daily as d on d.response_date = c.calendar_date and d.region = r.region
),

windows as (
    select
        calendar_date, region, 30 as window_days,
        sum(responses) over w30 as responses,
        sum(promoters) over w30 as promoters,
        sum(detractors) over w30 as detractors
    from dense
    window w30 as (partition by region order by calendar_date rows between 29 preceding and current row)
    union all
    select
        calendar_date, region, 90 as window_days,
        sum(responses) over w90,
        sum(promoters) over w90,
        sum(detractors) over w90
    from dense
    window w90 as (partition by region order by calendar_date rows between 89 preceding and current row)
)

select
    *,
    100.0 * (promoters - detractors) / responses as nps
from windows
where responses > 0;
