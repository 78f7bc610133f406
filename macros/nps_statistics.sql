{#- NPS statistics, as SQL expressions over COUNT expressions.

    Every macro takes the counts in the order (detractors, passives, promoters): the order of the
    test vectors in the docs. Each argument is any SQL expression giving a non-negative count
    (a column name, `sum(x)`, a literal, `coalesce(x, 0)`, ...); the macros are engine-neutral
    (plain arithmetic, sqrt, abs, greatest, least and case) and cast to double before dividing.

    The model behind them: each response scores +1 (promoter), 0 (passive) or -1 (detractor);
    NPS = 100 x the mean score. With n = d + pa + p responses:
        variance of the score  = (p + d) / n - ((p - d) / n)^2
                               = ((p + d) * n - (p - d)^2) / n^2     (computed this way: exact
                                 integer arithmetic, one division, so (1,2,3) gives 5/9 exactly)
        standard error         = 100 * sqrt(variance / n)            (in NPS points)
        Wald interval          = nps +/- z * standard error, clipped to [-100, 100]
        adjusted Wald interval = the Wald interval after adding 0.75 detractors, 1.5 passives and
                                 0.75 promoters (n + 3 responses; Rocks 2016), clipped likewise.
                                 Its centre moves toward 0, so for tiny n it may not contain nps.
        change z statistic     = (nps_b - nps_a) / sqrt(se_a^2 + se_b^2)
    n = 0 gives null everywhere (never an error or a division by zero); a z statistic whose
    denominator is 0 (both periods unanimous) is null too.

    Configuration (dbt vars, defaults in dbt_project.yml):
        nps_alpha                (0.05) two-sided significance level of `significant_change`
        nps_interval_confidence  (0.95) confidence level of the intervals
        nps_min_sample           (30)   below it, `is_low_sample` is true

    The critical value z = Phi^-1(1 - alpha / 2) is COMPUTED at compile time in Jinja (no SQL
    engine has an inverse normal): bisection on the two-sided tail 1 - erf(z / sqrt 2), erf by a series
    of positive terms, to ~1e-10; alpha 0.05 -> 1.959963984540, 0.01 -> 2.575829303549. It is written
    into the SQL as a literal, so nothing is computed per row. Allowed alphas: 1e-6 <= alpha < 1.

    Signatures (stable; other marts, e.g. eNPS, call them):
        nps_responses(detractors, passives, promoters)
        nps_score(detractors, passives, promoters)
        nps_share(part, detractors, passives, promoters)
        nps_variance(detractors, passives, promoters)
        nps_standard_error(detractors, passives, promoters)
        nps_wald_lower(detractors, passives, promoters, z=none)
        nps_wald_upper(detractors, passives, promoters, z=none)
        nps_adjusted_wald_lower(detractors, passives, promoters, z=none)
        nps_adjusted_wald_upper(detractors, passives, promoters, z=none)
        nps_change_z(detractors_a, passives_a, promoters_a, detractors_b, passives_b, promoters_b)
        nps_significant_change(z_statistic, alpha=none)
        nps_is_low_sample(responses, min_sample=none)
        nps_z_critical(alpha=none)
        nps_interval_z()
        nps_statistics_columns(detractors='detractors', passives='passives', promoters='promoters',
                               previous_detractors=none, previous_passives=none,
                               previous_promoters=none)
        nps_interval_bound(nps, standard_error, bound, z=none)
        nps_change_z_from_estimates(nps_a, standard_error_a, nps_b, standard_error_b)
        nps_statistics_measures(... same arguments as nps_statistics_columns ...)
        nps_statistics_from_measures(with_previous=false)
-#}


{#- Cast to a double precision float (integer division would truncate on PostgreSQL). -#}
{% macro nps_double(expression) -%}
    cast(({{ expression }}) as {{ nps_warehouse.nps_double_type() }})
{%- endmacro %}

{% macro nps_double_type() -%}
    {{ return(adapter.dispatch('nps_double_type', 'nps_warehouse')()) }}
{%- endmacro %}

{% macro default__nps_double_type() -%}
    double precision
{%- endmacro %}


{#- nps_responses(detractors, passives, promoters): n, the number of responses. -#}
{% macro nps_responses(detractors, passives, promoters) -%}
    (({{ detractors }}) + ({{ passives }}) + ({{ promoters }}))
{%- endmacro %}


{#- nps_score(detractors, passives, promoters): 100 x (p - d) / n in [-100, 100]; null when n = 0.
    Same value as the older `nps(promoters, detractors, responses)` macro. -#}
{% macro nps_score(detractors, passives, promoters) -%}
    {{ nps_warehouse.nps(
        '(' ~ promoters ~ ')', '(' ~ detractors ~ ')', nps_warehouse.nps_responses(detractors, passives, promoters)
    ) }}
{%- endmacro %}


{#- nps_share(part, detractors, passives, promoters): part / n as a fraction in [0, 1]; null when
    n = 0. `part` is one of the three counts (e.g. nps_share('promoters', 'detractors', ...)). -#}
{% macro nps_share(part, detractors, passives, promoters) -%}
    {%- set n = nps_warehouse.nps_responses(detractors, passives, promoters) -%}
    case
        when {{ n }} > 0
            then {{ nps_warehouse.nps_double(part) }} / {{ n }}
    end
{%- endmacro %}


{#- nps_variance(detractors, passives, promoters): population variance of the per-response score
    (+1/0/-1), in [0, 1]: ((p + d) * n - (p - d)^2) / n^2. Null when n = 0; 0 when unanimous.
    (1,2,3) -> 5/9, (1,0,1) -> 1, (0,1,1) -> 0.25, (1,1,1) -> 2/3. -#}
{% macro nps_variance(detractors, passives, promoters) -%}
    {%- set n = nps_warehouse.nps_responses(detractors, passives, promoters) -%}
    case
        when {{ n }} > 0
            then
                {{ nps_warehouse.nps_double(
                    '((' ~ promoters ~ ') + (' ~ detractors ~ ')) * ' ~ n
                    ~ ' - ((' ~ promoters ~ ') - (' ~ detractors ~ ')) * ((' ~ promoters ~ ') - (' ~ detractors ~ '))'
                ) }}
                / ({{ nps_warehouse.nps_double(n) }} * {{ n }})
    end
{%- endmacro %}


{#- nps_standard_error(detractors, passives, promoters): standard error of the NPS in NPS points,
    100 * sqrt(variance / n). Null when n = 0. -#}
{% macro nps_standard_error(detractors, passives, promoters) -%}
    {%- set n = nps_warehouse.nps_responses(detractors, passives, promoters) -%}
    case
        when {{ n }} > 0
            then 100.0 * sqrt(
                {{ nps_warehouse.nps_variance(detractors, passives, promoters) }}
                / {{ nps_warehouse.nps_double(n) }}
            )
    end
{%- endmacro %}


{#- nps_wald_lower / nps_wald_upper(detractors, passives, promoters, z=none): nps -/+ z * se,
    clipped to [-100, 100]. z defaults to nps_interval_z() (95% with the default var). -#}
{% macro nps_wald_lower(detractors, passives, promoters, z=none) -%}
    {{ nps_warehouse._nps_interval_bound(detractors, passives, promoters, z, -1) }}
{%- endmacro %}

{% macro nps_wald_upper(detractors, passives, promoters, z=none) -%}
    {{ nps_warehouse._nps_interval_bound(detractors, passives, promoters, z, 1) }}
{%- endmacro %}


{#- nps_adjusted_wald_lower / nps_adjusted_wald_upper(detractors, passives, promoters, z=none): the
    Wald bound after adding 0.75 detractors, 1.5 passives and 0.75 promoters; null when the real
    n = 0 (the pseudo-responses alone are no evidence). -#}
{% macro nps_adjusted_wald_lower(detractors, passives, promoters, z=none) -%}
    case
        when {{ nps_warehouse.nps_responses(detractors, passives, promoters) }} > 0
            then {{ nps_warehouse._nps_interval_bound(
                '(' ~ detractors ~ ') + 0.75', '(' ~ passives ~ ') + 1.5', '(' ~ promoters ~ ') + 0.75', z, -1
            ) }}
    end
{%- endmacro %}

{% macro nps_adjusted_wald_upper(detractors, passives, promoters, z=none) -%}
    case
        when {{ nps_warehouse.nps_responses(detractors, passives, promoters) }} > 0
            then {{ nps_warehouse._nps_interval_bound(
                '(' ~ detractors ~ ') + 0.75', '(' ~ passives ~ ') + 1.5', '(' ~ promoters ~ ') + 0.75', z, 1
            ) }}
    end
{%- endmacro %}

{#- sign -1: lower bound, 1: upper bound. -#}
{% macro _nps_interval_bound(detractors, passives, promoters, z, sign) -%}
    {%- set n = nps_warehouse.nps_responses(detractors, passives, promoters) -%}
    case
        when {{ n }} > 0
            then {{ nps_warehouse.nps_interval_bound(
                '100.0 * ' ~ nps_warehouse.nps_double('(' ~ promoters ~ ') - (' ~ detractors ~ ')') ~ ' / ' ~ n,
                nps_warehouse.nps_standard_error(detractors, passives, promoters),
                'lower' if sign < 0 else 'upper',
                z,
            ) }}
    end
{%- endmacro %}


{#- nps_interval_bound(nps, standard_error, bound, z=none): from an estimate and its standard
    error (expressions, e.g. columns): nps -/+ z * standard_error clipped to [-100, 100]; bound is
    'lower' or 'upper'; null when either input is null. -#}
{% macro nps_interval_bound(nps, standard_error, bound, z=none) -%}
    {%- set z_value = nps_warehouse.nps_interval_z() if z is none else z -%}
    {%- if bound not in ('lower', 'upper') -%}
        {{ exceptions.raise_compiler_error("nps_interval_bound: bound must be 'lower' or 'upper'") }}
    {%- endif -%}
    {#- greatest() and least() skip nulls: guard them -#}
    case
        when ({{ nps }}) is not null and ({{ standard_error }}) is not null
            then {{ 'greatest(-100.0, ' if bound == 'lower' else 'least(100.0, ' -}}
                ({{ nps }}) {{ '-' if bound == 'lower' else '+' }} {{ z_value }} * ({{ standard_error }}))
    end
{%- endmacro %}


{#- nps_change_z(detractors_a, passives_a, promoters_a, detractors_b, passives_b, promoters_b):
    two-sample z statistic of the change from period a (earlier) to period b (later),
    (nps_b - nps_a) / sqrt(se_a^2 + se_b^2). Positive = improvement. Null when either n is 0 or
    both standard errors are 0. -#}
{% macro nps_change_z(detractors_a, passives_a, promoters_a, detractors_b, passives_b, promoters_b) -%}
    case
        when
            {{ nps_warehouse.nps_responses(detractors_a, passives_a, promoters_a) }} > 0
            and {{ nps_warehouse.nps_responses(detractors_b, passives_b, promoters_b) }} > 0
            then {{ nps_warehouse.nps_change_z_from_estimates(
                nps_warehouse.nps_score(detractors_a, passives_a, promoters_a),
                nps_warehouse.nps_standard_error(detractors_a, passives_a, promoters_a),
                nps_warehouse.nps_score(detractors_b, passives_b, promoters_b),
                nps_warehouse.nps_standard_error(detractors_b, passives_b, promoters_b),
            ) }}
    end
{%- endmacro %}


{#- nps_change_z_from_estimates(nps_a, standard_error_a, nps_b, standard_error_b): the same z from
    two estimates and their standard errors (expressions, e.g. columns); null when any is null or
    both standard errors are 0. -#}
{% macro nps_change_z_from_estimates(nps_a, standard_error_a, nps_b, standard_error_b) -%}
    case
        when ({{ standard_error_a }}) * ({{ standard_error_a }}) + ({{ standard_error_b }}) * ({{ standard_error_b }}) > 0
            then (({{ nps_b }}) - ({{ nps_a }}))
                / sqrt(({{ standard_error_a }}) * ({{ standard_error_a }}) + ({{ standard_error_b }}) * ({{ standard_error_b }}))
    end
{%- endmacro %}


{#- nps_significant_change(z_statistic, alpha=none): |z| >= z critical (two-sided; alpha defaults to
    var nps_alpha). Null when z is null (no previous period, or no variance to judge by). -#}
{% macro nps_significant_change(z_statistic, alpha=none) -%}
    (abs({{ z_statistic }}) >= {{ nps_warehouse.nps_z_critical(alpha) }})
{%- endmacro %}


{#- nps_is_low_sample(responses, min_sample=none): responses below var nps_min_sample (default 30).
    A window or period without responses is low-sample too. -#}
{% macro nps_is_low_sample(responses, min_sample=none) -%}
    {%- set minimum = var('nps_min_sample', 30) if min_sample is none else min_sample -%}
    (coalesce({{ responses }}, 0) < {{ minimum }})
{%- endmacro %}


{#- nps_z_critical(alpha=none): the two-sided standard normal critical value Phi^-1(1 - alpha/2)
    as a numeric literal, computed at compile time (see the header). alpha defaults to var
    nps_alpha (0.05 -> 1.959963984540). -#}
{% macro nps_z_critical(alpha=none) -%}
    {%- set a = (var('nps_alpha', 0.05) if alpha is none else alpha) | float -%}
    {%- if not (a >= 0.000001 and a < 1) -%}
        {{ exceptions.raise_compiler_error(
            'nps alpha must be in [1e-6, 1), got ' ~ (var('nps_alpha', 0.05) if alpha is none else alpha)
        ) }}
    {%- endif -%}
    {#- bisection: the two-sided tail 1 - erf(z / sqrt(2)) falls from 1 at z = 0 -#}
    {%- set bounds = namespace(low=0.0, high=6.0) -%}
    {%- for _ in range(60) -%}
        {%- set middle = (bounds.low + bounds.high) / 2 -%}
        {%- if 1 - nps_warehouse._nps_erf(middle / 1.4142135623730951) > a -%}
            {%- set bounds.low = middle -%}
        {%- else -%}
            {%- set bounds.high = middle -%}
        {%- endif -%}
    {%- endfor -%}
    {{- '%.12f' | format((bounds.low + bounds.high) / 2) -}}
{%- endmacro %}

{#- erf(x) = (2 / sqrt(pi)) * S / exp(x^2), S = sum 2^k x^(2k+1) / (1 * 3 * ... * (2k+1)): both series
    have only positive terms (no cancellation), accurate to ~1e-15 for the x <= 4.3 the bisection
    needs. Returns a float (via `return`). -#}
{% macro _nps_erf(x) -%}
    {%- set x = x | float -%}
    {%- set series = namespace(s_term=x, s_total=0.0, e_term=1.0, e_total=0.0) -%}
    {%- for k in range(150) -%}
        {%- set series.s_total = series.s_total + series.s_term -%}
        {%- set series.s_term = series.s_term * 2 * x * x / (2 * k + 3) -%}
        {%- set series.e_total = series.e_total + series.e_term -%}
        {%- set series.e_term = series.e_term * x * x / (k + 1) -%}
    {%- endfor -%}
    {{ return(1.1283791670955126 * series.s_total / series.e_total) }}
{%- endmacro %}


{#- nps_interval_z(): z of the intervals, for confidence var nps_interval_confidence (0.95). -#}
{% macro nps_interval_z() -%}
    {{- nps_warehouse.nps_z_critical(1 - (var('nps_interval_confidence', 0.95) | float)) -}}
{%- endmacro %}


{#- nps_statistics_columns(...): the column block every NPS mart carries, as `expr as name, ...`
    (no trailing comma): responses, promoters, passives, detractors, promoter_share,
    passive_share, detractor_share, nps, nps_variance, nps_standard_error, nps_ci_lower,
    nps_ci_upper, nps_adjusted_ci_lower, nps_adjusted_ci_upper, is_low_sample; and, when the
    previous_* counts are given, previous_responses, previous_nps, nps_change, nps_change_z,
    significant_change. Arguments are count expressions. -#}
{% macro nps_statistics_columns(
    detractors='detractors',
    passives='passives',
    promoters='promoters',
    previous_detractors=none,
    previous_passives=none,
    previous_promoters=none
) -%}
    {%- set n = nps_warehouse.nps_responses(detractors, passives, promoters) -%}
    {{ n }} as responses,
    {{ promoters }} as promoters,
    {{ passives }} as passives,
    {{ detractors }} as detractors,
    {{ nps_warehouse.nps_share(promoters, detractors, passives, promoters) }} as promoter_share,
    {{ nps_warehouse.nps_share(passives, detractors, passives, promoters) }} as passive_share,
    {{ nps_warehouse.nps_share(detractors, detractors, passives, promoters) }} as detractor_share,
    {{ nps_warehouse.nps_score(detractors, passives, promoters) }} as nps,
    {{ nps_warehouse.nps_variance(detractors, passives, promoters) }} as nps_variance,
    {{ nps_warehouse.nps_standard_error(detractors, passives, promoters) }} as nps_standard_error,
    {{ nps_warehouse.nps_wald_lower(detractors, passives, promoters) }} as nps_ci_lower,
    {{ nps_warehouse.nps_wald_upper(detractors, passives, promoters) }} as nps_ci_upper,
    {{ nps_warehouse.nps_adjusted_wald_lower(detractors, passives, promoters) }} as nps_adjusted_ci_lower,
    {{ nps_warehouse.nps_adjusted_wald_upper(detractors, passives, promoters) }} as nps_adjusted_ci_upper,
    {{ nps_warehouse.nps_is_low_sample(n) }} as is_low_sample
    {%- if previous_detractors is not none %},
    {%- set previous_n = nps_warehouse.nps_responses(previous_detractors, previous_passives, previous_promoters) %}
    {{ previous_n }} as previous_responses,
    {{ nps_warehouse.nps_score(previous_detractors, previous_passives, previous_promoters) }} as previous_nps,
    {{ nps_warehouse.nps_score(detractors, passives, promoters) }}
    - {{ nps_warehouse.nps_score(previous_detractors, previous_passives, previous_promoters) }} as nps_change,
    {{ nps_warehouse.nps_change_z(
        previous_detractors, previous_passives, previous_promoters, detractors, passives, promoters
    ) }} as nps_change_z,
    {{ nps_warehouse.nps_significant_change(nps_warehouse.nps_change_z(
        previous_detractors, previous_passives, previous_promoters, detractors, passives, promoters
    )) }} as significant_change
    {%- endif %}
{%- endmacro %}


{#- The same column block in two stages, for marts with many rows or windows: the expressions
    stay small (each statistic is computed once, and the SQL stays readable for linters).
        stage 1, nps_statistics_measures(detractors='detractors', passives='passives',
                 promoters='promoters', previous_detractors=none, previous_passives=none,
                 previous_promoters=none): the counts, nps, nps_variance, nps_standard_error and
                 helper columns (_adjusted_nps, _adjusted_standard_error and, with previous
                 counts, previous_responses, previous_nps, _previous_standard_error);
        stage 2, nps_statistics_from_measures(with_previous=false): selected from stage 1, the
                 columns of nps_statistics_columns in the same order and with the same values.
    Usage: `measured as (select keys, {{ nps_statistics_measures() }} from counts), final as
    (select keys, {{ nps_statistics_from_measures() }} from measured)`. -#}
{% macro nps_statistics_measures(
    detractors='detractors',
    passives='passives',
    promoters='promoters',
    previous_detractors=none,
    previous_passives=none,
    previous_promoters=none
) -%}
    {%- set adjusted = ['(' ~ detractors ~ ') + 0.75', '(' ~ passives ~ ') + 1.5', '(' ~ promoters ~ ') + 0.75'] -%}
    {%- set n = nps_warehouse.nps_responses(detractors, passives, promoters) -%}
    {{ n }} as responses,
    {{ promoters }} as promoters,
    {{ passives }} as passives,
    {{ detractors }} as detractors,
    {{ nps_warehouse.nps_score(detractors, passives, promoters) }} as nps,
    {{ nps_warehouse.nps_variance(detractors, passives, promoters) }} as nps_variance,
    {{ nps_warehouse.nps_standard_error(detractors, passives, promoters) }} as nps_standard_error,
    case when {{ n }} > 0 then {{ nps_warehouse.nps_score(adjusted[0], adjusted[1], adjusted[2]) }} end
        as _adjusted_nps,
    case when {{ n }} > 0 then {{ nps_warehouse.nps_standard_error(adjusted[0], adjusted[1], adjusted[2]) }} end
        as _adjusted_standard_error
    {%- if previous_detractors is not none %},
    {{ nps_warehouse.nps_responses(previous_detractors, previous_passives, previous_promoters) }}
        as previous_responses,
    {{ nps_warehouse.nps_score(previous_detractors, previous_passives, previous_promoters) }} as previous_nps,
    {{ nps_warehouse.nps_standard_error(previous_detractors, previous_passives, previous_promoters) }}
        as _previous_standard_error
    {%- endif %}
{%- endmacro %}

{% macro nps_statistics_from_measures(with_previous=false) -%}
    responses,
    promoters,
    passives,
    detractors,
    {{ nps_warehouse.nps_share('promoters', 'detractors', 'passives', 'promoters') }} as promoter_share,
    {{ nps_warehouse.nps_share('passives', 'detractors', 'passives', 'promoters') }} as passive_share,
    {{ nps_warehouse.nps_share('detractors', 'detractors', 'passives', 'promoters') }} as detractor_share,
    nps,
    nps_variance,
    nps_standard_error,
    {{ nps_warehouse.nps_interval_bound('nps', 'nps_standard_error', 'lower') }} as nps_ci_lower,
    {{ nps_warehouse.nps_interval_bound('nps', 'nps_standard_error', 'upper') }} as nps_ci_upper,
    {{ nps_warehouse.nps_interval_bound('_adjusted_nps', '_adjusted_standard_error', 'lower') }}
        as nps_adjusted_ci_lower,
    {{ nps_warehouse.nps_interval_bound('_adjusted_nps', '_adjusted_standard_error', 'upper') }}
        as nps_adjusted_ci_upper,
    {{ nps_warehouse.nps_is_low_sample('responses') }} as is_low_sample
    {%- if with_previous %},
    previous_responses,
    previous_nps,
    nps - previous_nps as nps_change,
    {{ nps_warehouse.nps_change_z_from_estimates(
        'previous_nps', '_previous_standard_error', 'nps', 'nps_standard_error'
    ) }} as nps_change_z,
    {{ nps_warehouse.nps_significant_change(nps_warehouse.nps_change_z_from_estimates(
        'previous_nps', '_previous_standard_error', 'nps', 'nps_standard_error'
    )) }} as significant_change
    {%- endif %}
{%- endmacro %}
