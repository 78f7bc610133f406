{#- Theme tagging of comments, shared by the model int_comment_themes_tagged and the tagging
    quality measurement (tests/test_voice_themes.py), so both run exactly the same SQL.

    `comments`: a relation with response_id, language (a code such as "en") and comment (text).
    `keywords`: a relation shaped like seeds/themes.csv: theme, language, keyword (a regular
    expression on normalised text: lower case, no accents), exclude (optional: phrases blanked
    out before matching that keyword, e.g. "qualite-prix" is about price, not quality).

    A comment is matched against its own language's keywords; a comment whose language has no
    keywords (or is unknown) against every language's. Returns one row per response x theme. -#}
{% macro theme_matches(comments, keywords) -%}
    select distinct
        prepared.response_id,
        theme_keywords.theme
    from (
        select
            response_id,
            language,
            {{ nps_warehouse.normalise_for_matching(nps_warehouse.comment_text('comment')) }}
                as normalised_comment
        from {{ comments }}
    ) as prepared
    left join (
        select distinct language as keyword_language
        from {{ keywords }}
    ) as known_languages
        on prepared.language = known_languages.keyword_language
    inner join {{ keywords }} as theme_keywords
        on
            theme_keywords.language
            = coalesce(known_languages.keyword_language, theme_keywords.language)
            and {{ nps_warehouse.matches_whole_words(
                'case when theme_keywords.exclude is null then prepared.normalised_comment else '
                ~ nps_warehouse.remove_whole_words(
                    'prepared.normalised_comment', 'theme_keywords.exclude'
                ) ~ ' end',
                'theme_keywords.keyword'
            ) }}
    where prepared.normalised_comment is not null
{%- endmacro %}
