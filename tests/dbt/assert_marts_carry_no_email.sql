{#- Respondent emails may appear only in the follow-up marts (allow-listed here by name). -#}
{{ config(tags=['privacy']) }}

select
    table_name,
    column_name
from ({{ catalog_columns(generate_schema_name("marts", none)) }}) as mart_columns
where
    lower(column_name) like '%email%'
    and table_name not in ('detractor_followup_queue')
