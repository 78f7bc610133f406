{#- The themes of each tagged response as one text, for marts that show a comment with its themes. -#}

with

tagged as (

    select * from {{ ref('int_comment_themes_tagged') }}

),

listed as (

    select
        response_id,
        count(*) as theme_count,
        {{ dbt.listagg('theme', "', '", 'order by theme') }} as themes

    from tagged
    group by response_id

)

select * from listed
