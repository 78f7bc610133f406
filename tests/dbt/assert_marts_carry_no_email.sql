{#- Respondent emails may appear only in the follow-up marts (allow-listed here by name). -#}
{{ config(tags=['privacy']) }}

select
    table_name,
    column_name
from information_schema.columns
where
    table_schema = '{{ generate_schema_name("marts", none) }}'
    and lower(column_name) like '%email%'
    and table_name not in ('detractor_followup_queue')
