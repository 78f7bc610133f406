{#- Open comments ("why?"): what counts as no comment, and how text is prepared for matching.
    Every model that reads a comment goes through these macros, so the rule lives in one place. -#}

{#- True when a comment says nothing: null, blank (any whitespace), only punctuation ("-", "...",
    "--") or a placeholder such as "n/a", "none", "no comment" in one of the survey languages. -#}
{% macro is_no_comment(text) -%}
    (
        {{ text }} is null
        or {{ nps_warehouse.regex_full_match(
            'lower(' ~ text ~ ')',
            '[[:space:][:punct:]]*(n[[:space:]]*/?[[:space:]]*a|none|nil|null|nothing|no comments?|'
            ~ 'nothing to add|geen|geen opmerking(en)?|nvt|n[.]v[.]t|nada|ninguno|sin comentarios?|'
            ~ 'brak|brak uwag|keine|kein kommentar|nichts|aucun|rien|ras|sans commentaire)?'
            ~ '[[:space:][:punct:]]*'
        ) }}
    )
{%- endmacro %}

{#- True when a comment says something (the opposite of is_no_comment). -#}
{% macro has_comment(text) -%}
    case when {{ nps_warehouse.is_no_comment(text) }} then false else true end
{%- endmacro %}

{#- The comment as text, or null when it says nothing (see is_no_comment). -#}
{% macro comment_text(text) -%}
    case when not {{ nps_warehouse.is_no_comment(text) }} then trim({{ text }}) end
{%- endmacro %}

{#- Lower case without accents, for case- and accent-insensitive matching: "Qualität" ->
    "qualitat", "długo" -> "dlugo", "Straße" -> "strasse", curly apostrophes -> "'". -#}
{% macro normalise_for_matching(text) -%}
    {{ return(adapter.dispatch('normalise_for_matching', 'nps_warehouse')(text)) }}
{%- endmacro %}

{% macro default__normalise_for_matching(text) -%}
    {{ nps_warehouse.strip_accents_of(
        "translate(replace(replace(replace(lower(" ~ text ~ "), 'ß', 'ss'), 'œ', 'oe'), 'æ', 'ae'), "
        ~ "'łøđ’‘`', 'lod''''''')"
    ) }}
{%- endmacro %}

{% macro postgres__normalise_for_matching(text) -%}
    {#- no unaccent extension needed: the letters of the supported languages, mapped by hand -#}
    translate(
        replace(replace(replace(lower({{ text }}), 'ß', 'ss'), 'œ', 'oe'), 'æ', 'ae'),
        'àáâãäåąćçčèéêëęìíîïłñńòóôõöøśšùúûüýÿźżž’‘`',
        'aaaaaaaccceeeeeiiiilnnoooooossuuuuyyzzz'''''''
    )
{%- endmacro %}

{#- True when `pattern` (a regular expression on normalised text) matches whole words of
    `text`: "queue" matches "long queue." but not "queues" unless the pattern allows it. -#}
{% macro matches_whole_words(text, pattern) -%}
    {{ return(adapter.dispatch('matches_whole_words', 'nps_warehouse')(text, pattern)) }}
{%- endmacro %}

{% macro default__matches_whole_words(text, pattern) -%}
    regexp_matches({{ text }}, '\b(?:' || {{ pattern }} || ')\b')
{%- endmacro %}

{% macro postgres__matches_whole_words(text, pattern) -%}
    ({{ text }} ~ ('\y(?:' || {{ pattern }} || ')\y'))
{%- endmacro %}

{#- `text` with every whole-word match of `pattern` blanked out. -#}
{% macro remove_whole_words(text, pattern) -%}
    {{ return(adapter.dispatch('remove_whole_words', 'nps_warehouse')(text, pattern)) }}
{%- endmacro %}

{% macro default__remove_whole_words(text, pattern) -%}
    regexp_replace({{ text }}, '\b(?:' || {{ pattern }} || ')\b', ' ', 'g')
{%- endmacro %}

{% macro postgres__remove_whole_words(text, pattern) -%}
    regexp_replace({{ text }}, '\y(?:' || {{ pattern }} || ')\y', ' ', 'g')
{%- endmacro %}
