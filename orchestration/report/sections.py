"""The report's sections. Each returns a `Section` to show or a `Skipped` saying why not.

Low samples: every count-based figure compares its responses with the minimum sample (dbt var
`nps_min_sample`) and draws points, bars or cells below it differently (grey, hatched, marked
with `*`), with a visible note under the chart saying how many and what the marking means.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import MaxNLocator

from orchestration.report import charts
from orchestration.report.marts import MartSource, ident, table

# z for the 95% interval drawn where a mart gives none (the marts' own default confidence)
Z_95 = 1.959963984540
TREND_WINDOWS = (30, 90)
PERIOD_PREFERENCE = ("month", "quarter", "week", "year", "day")
MAX_REGION_PANELS = 12
TOP_THEMES = 10
MAX_BRANCH_BARS = 25


@dataclass
class Section:
    key: str
    title: str
    body: str  # HTML, every piece of data text escaped
    images: list[str] = field(default_factory=list)
    low_sample_notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Skipped:
    key: str
    title: str
    reason: str


@dataclass(frozen=True)
class Context:
    source: MartSource
    images_dir: Path
    min_sample: int


SectionBuilder = Callable[[Context], "Section | Skipped"]


# -- helpers ------------------------------------------------------------------------------------


def _figure_html(name: str, alt: str, caption: str = "") -> str:
    caption_html = f"<figcaption>{caption}</figcaption>" if caption else ""
    return (
        f'<figure><img src="{escape(name)}" alt="{escape(alt)}" loading="eager">'
        f"{caption_html}</figure>"
    )


def _note(text: str) -> str:
    return f'<p class="note low-sample-note">{text}</p>'


def _fmt_nps(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value):
        return "–"
    return f"{float(value):+.1f}"


def _fmt_int(value: object) -> str:
    return "–" if value is None or pd.isna(value) else f"{int(value):,}"


def _is_true(value: object) -> bool:
    return bool(value) if value is not None and not pd.isna(value) else False


def _nps_stats(frame: pd.DataFrame) -> pd.DataFrame:
    """nps, its standard error and the 95% Wald interval from promoters/passives/detractors."""
    n = frame["responses"].astype(float)
    p = frame["promoters"].astype(float)
    d = frame["detractors"].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        nps = 100.0 * (p - d) / n
        variance = ((p + d) * n - (p - d) ** 2) / (n * n)
        se = 100.0 * np.sqrt(variance / n)
    frame = frame.assign(nps=nps, nps_ci_lower=(nps - Z_95 * se).clip(lower=-100))
    return frame.assign(nps_ci_upper=(nps + Z_95 * se).clip(upper=100))


def _where(clauses: list[str]) -> str:
    return ("where " + " and ".join(clauses)) if clauses else ""


def _all_segments_filter(source: MartSource, mart: str) -> list[str]:
    """Rows of the whole population: no survey/touchpoint/... split, when the mart splits."""
    clauses = []
    if source.pick(mart, "segment_type"):
        clauses.append("segment_type = 'all'")
    return clauses


def _pick_period(source: MartSource, mart: str, grain_column: str | None) -> str | None:
    if not grain_column:
        return None
    grains = {
        g
        for (g,) in source.query(
            f"select distinct {ident(grain_column)} from {table(mart)}"
        ).itertuples(index=False)
    }
    return next((g for g in PERIOD_PREFERENCE if g in grains), None)


def _plot_nps_line(
    ax, dates, values, responses, min_sample: int, color: str, name: str, marker: str = ""
) -> int:
    """Solid where the window has enough responses, dotted with hollow markers (few points) or
    dotted alone (long series) where not; returns how many points are low-sample."""
    values = np.asarray(values, dtype=float)
    low = np.asarray(responses, dtype=float) < min_sample
    ax.plot(
        dates,
        np.where(low, np.nan, values),
        color=color,
        lw=1.8,
        marker=marker,
        label=None if low.all() else name,
    )
    if low.any():
        # the low-sample stretch, joined to its neighbours so the line has no gap
        joined = low | np.roll(low, 1) | np.roll(low, -1)
        ax.plot(dates, np.where(joined, values, np.nan), color=color, lw=1.2, ls=":", alpha=0.8)
        if len(values) <= 90:
            ax.plot(
                np.asarray(dates)[low], values[low], ls="", marker="o", mfc="white", mec=color, ms=4
            )
    if low.all():
        # no solid stretch: still give the line its legend entry
        ax.plot([], [], color=color, lw=1.2, ls=":", label=name)
    return int(low.sum())


def _style_nps_axes(ax, title: str) -> None:
    import matplotlib.dates as mdates

    ax.axhline(0, color="#444", lw=0.6)
    ax.set_ylim(-100, 100)
    ax.set_ylabel("NPS")
    ax.set_title(charts.label(title), loc="left")
    locator = mdates.AutoDateLocator(maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _share_x_range(ax, overall: pd.DataFrame) -> None:
    """Every panel spans the overall date range, so regions line up with the total."""
    dates = pd.to_datetime(overall.iloc[:, 0])
    first, last = dates.min(), dates.max()
    pad = max(pd.Timedelta(days=1), (last - first) * 0.02)
    ax.set_xlim(first - pad, last + pad)


def _low_sample_legend(ax, min_sample: int, what: str) -> None:
    ax.plot(
        [],
        [],
        color=charts.LOW_SAMPLE,
        ls=":",
        marker="o",
        mfc="white",
        label=f"fewer than {min_sample} responses {what}".strip(),
    )


# -- overall and per-region trend ---------------------------------------------------------------

TREND_TITLE = "NPS trend, overall and per region"


def trend_section(ctx: Context) -> Section | Skipped:
    source = ctx.source
    rolling_required = ["calendar_date", "window_days", "hierarchy_level", "region", "responses"]
    if source.has("nps_rolling") and not source.missing("nps_rolling", [*rolling_required, "nps"]):
        return _rolling_trend(ctx)
    if source.has("nps_daily"):
        return _monthly_trend(ctx)
    return Skipped("trend", TREND_TITLE, "needs mart nps_rolling (or nps_daily)")


def _rolling_trend(ctx: Context) -> Section | Skipped:
    source = ctx.source
    mart = "nps_rolling"
    lower = source.pick(mart, "nps_ci_lower", "nps_adjusted_ci_lower")
    upper = source.pick(mart, "nps_ci_upper", "nps_adjusted_ci_upper")
    clauses = [
        "hierarchy_level in ('all', 'region')",
        f"window_days in ({', '.join(str(w) for w in TREND_WINDOWS)})",
        *_all_segments_filter(source, mart),
    ]
    if source.pick(mart, "variant"):
        clauses.append("variant = 'all_responses'")
    band = (
        f"{ident(lower)} as ci_lower, {ident(upper)} as ci_upper"
        if lower and upper
        else ("null as ci_lower, null as ci_upper")
    )
    frame = source.query(
        f"select cast(calendar_date as date) as calendar_date, window_days, hierarchy_level, "
        f"coalesce(region, 'all') as region, responses, nps, {band} "
        f"from {table(mart)} {_where(clauses)} order by calendar_date"
    )
    windows = [w for w in TREND_WINDOWS if w in set(frame["window_days"])]
    if frame.empty or not windows:
        return Skipped("trend", TREND_TITLE, "nps_rolling holds no 30- or 90-day rows")
    band_window = max(windows)
    overall = frame[frame["hierarchy_level"] == "all"]
    regions = sorted(frame.loc[frame["hierarchy_level"] == "region", "region"].unique())
    panels = [("All regions", overall)] + [
        (r, frame[(frame["hierarchy_level"] == "region") & (frame["region"] == r)])
        for r in regions[:MAX_REGION_PANELS]
    ]
    low_points = 0
    images: list[str] = []
    for index, (name, data) in enumerate(panels):
        figure = charts.new_figure(10, 3.2 if index == 0 else 2.4)
        ax = figure.subplots()
        _share_x_range(ax, panels[0][1])
        for window, color in zip(TREND_WINDOWS, (charts.LINE_30, charts.LINE_90), strict=True):
            series = data[data["window_days"] == window]
            if series.empty:
                continue
            if window == band_window and series["ci_lower"].notna().any():
                ax.fill_between(
                    series["calendar_date"],
                    series["ci_lower"].astype(float),
                    series["ci_upper"].astype(float),
                    color=charts.BAND,
                    alpha=0.45,
                    lw=0,
                    label=f"95% interval ({window}-day)",
                )
            low_points += _plot_nps_line(
                ax,
                series["calendar_date"],
                series["nps"],
                series["responses"],
                ctx.min_sample,
                color,
                f"rolling {window}-day NPS",
            )
        _low_sample_legend(ax, ctx.min_sample, "in window")
        _style_nps_axes(ax, name)
        if index == 0:
            ax.legend(
                loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize=8, ncols=4, frameon=False
            )
        images.append(charts.save_png(figure, ctx.images_dir, f"trend-{index:02d}"))
    body = [
        f"<p>Rolling NPS for every day: the {' and '.join(f'{w}-day' for w in windows)} "
        f"trailing windows (every response in the window); the shaded band is the 95% "
        f"interval of the {band_window}-day NPS.</p>"
    ]
    body += [_figure_html(n, f"NPS trend: {p[0]}") for n, p in zip(images, panels, strict=True)]
    if len(regions) > MAX_REGION_PANELS:
        body.append(
            f'<p class="note">{len(regions) - MAX_REGION_PANELS} more regions not drawn.</p>'
        )
    notes = []
    if low_points:
        notes.append(
            f"{low_points} daily points (all charts above) come from windows with fewer than "
            f"{ctx.min_sample} responses: drawn as a dotted line with hollow markers, "
            "not as a solid line."
        )
    return Section("trend", TREND_TITLE, "\n".join(body), images, notes)


def _monthly_trend(ctx: Context) -> Section | Skipped:
    frame = ctx.source.query(
        "select cast(date_trunc('month', response_date) as date) as month, region, "
        "sum(responses) as responses, sum(promoters) as promoters, "
        "sum(detractors) as detractors "
        f"from {table('nps_daily')} group by 1, 2 order by month"
    )
    if frame.empty:
        return Skipped("trend", TREND_TITLE, "nps_daily holds no responses yet")
    frame["region"] = frame["region"].fillna("unknown")
    overall = _nps_stats(
        frame.groupby("month", as_index=False)[["responses", "promoters", "detractors"]].sum()
    )
    regions = sorted(frame["region"].unique())
    panels = [("All regions", overall)] + [
        (r, _nps_stats(frame[frame["region"] == r].reset_index(drop=True)))
        for r in regions[:MAX_REGION_PANELS]
    ]
    low_points = 0
    images = []
    for index, (name, data) in enumerate(panels):
        figure = charts.new_figure(10, 3.2 if index == 0 else 2.4)
        ax = figure.subplots()
        _share_x_range(ax, panels[0][1])
        enough = data["responses"] >= ctx.min_sample
        ax.fill_between(
            data["month"],
            data["nps_ci_lower"].where(enough),
            data["nps_ci_upper"].where(enough),
            color=charts.BAND,
            alpha=0.45,
            lw=0,
            label="95% interval",
        )
        low_points += _plot_nps_line(
            ax,
            data["month"],
            data["nps"],
            data["responses"],
            ctx.min_sample,
            charts.LINE_90,
            "monthly NPS",
            marker="o",
        )
        for _, row in data[~enough].iterrows():
            ax.annotate(
                f"n={int(row['responses'])}",
                (row["month"], row["nps"]),
                textcoords="offset points",
                xytext=(0, 6),
                ha="center",
                fontsize=7,
                color=charts.LOW_SAMPLE,
            )
        _low_sample_legend(ax, ctx.min_sample, "")
        _style_nps_axes(ax, name)
        if index == 0:
            ax.legend(
                loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize=8, ncols=3, frameon=False
            )
        images.append(charts.save_png(figure, ctx.images_dir, f"trend-{index:02d}"))
    body = [
        "<p>Monthly NPS from the daily mart <code>nps_daily</code>, with its 95% interval. "
        "The rolling 30/90-day lines appear once the mart <code>nps_rolling</code> is "
        "built.</p>"
    ]
    body += [_figure_html(n, f"NPS trend: {p[0]}") for n, p in zip(images, panels, strict=True)]
    notes = []
    if low_points:
        notes.append(
            f"{low_points} monthly points (all charts above) rest on fewer than "
            f"{ctx.min_sample} responses: drawn as hollow markers labelled with their n, "
            "without an interval band."
        )
    return Section("trend", TREND_TITLE, "\n".join(body), images, notes)


# -- promoter / passive / detractor mix ---------------------------------------------------------

MIX_TITLE = "Promoters, passives and detractors per month"


def mix_section(ctx: Context) -> Section | Skipped:
    if not ctx.source.has("nps_daily"):
        return Skipped("mix", MIX_TITLE, "needs mart nps_daily")
    frame = ctx.source.query(
        "select cast(date_trunc('month', response_date) as date) as month, "
        "sum(responses) as responses, sum(promoters) as promoters, sum(passives) as passives, "
        f"sum(detractors) as detractors from {table('nps_daily')} group by 1 order by 1"
    )
    frame = frame[frame["responses"] > 0]
    if frame.empty:
        return Skipped("mix", MIX_TITLE, "nps_daily holds no responses yet")
    labels = [m.strftime("%Y-%m") for m in pd.to_datetime(frame["month"])]
    n = frame["responses"].astype(float).to_numpy()
    low = n < ctx.min_sample
    figure = charts.new_figure(10, 3.4)
    ax = figure.subplots()
    bottom = np.zeros(len(frame))
    handles = []
    for column, color, name in (
        ("detractors", charts.DETRACTOR, "detractors (0-6)"),
        ("passives", charts.PASSIVE, "passives (7-8)"),
        ("promoters", charts.PROMOTER, "promoters (9-10)"),
    ):
        share = 100.0 * frame[column].astype(float).to_numpy() / n
        bars = ax.bar(range(len(labels)), share, bottom=bottom, color=color, width=0.7)
        handles.append(Patch(facecolor=color, label=name))
        for bar, is_low in zip(bars, low, strict=True):
            if is_low:
                bar.set_hatch(charts.LOW_SAMPLE_HATCH)
                bar.set_alpha(0.55)
        bottom += share
    for x, (count, is_low) in enumerate(zip(n, low, strict=True)):
        text = f"n={int(count)}" + (" (low)" if is_low else "")
        ax.text(
            x,
            101,
            text,
            ha="center",
            va="bottom",
            fontsize=7,
            color=charts.LOW_SAMPLE if is_low else "#333",
        )
    ax.set_ylim(0, 112)
    ax.set_ylabel("share of responses (%)")
    if low.any():
        handles.append(
            Patch(
                facecolor="white",
                edgecolor="#777",
                hatch=charts.LOW_SAMPLE_HATCH,
                label=f"fewer than {ctx.min_sample} responses",
            )
        )
    ax.set_xticks(range(len(labels)), labels)
    # a few months should not make bars a page wide
    ax.set_xlim(-0.6, max(len(labels), 8) - 0.4)
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12),
        ncols=4,
        frameon=False,
        fontsize=8,
    )
    if len(labels) > 18:
        ax.tick_params(axis="x", labelrotation=90)
    image = charts.save_png(figure, ctx.images_dir, "mix")
    notes = []
    if low.any():
        notes.append(
            f"{int(low.sum())} of {len(labels)} months have fewer than {ctx.min_sample} "
            "responses: their bars are hatched and pale, labelled “(low)”."
        )
    body = _figure_html(image, "Promoter, passive and detractor shares per month")
    return Section("mix", MIX_TITLE, body, [image], notes)


# -- region > district > branch table -----------------------------------------------------------

HIERARCHY_TITLE = "Region › district › branch"


def hierarchy_section(ctx: Context) -> Section | Skipped:
    source = ctx.source
    mart = "nps_by_period"
    if not source.has(mart):
        return Skipped("hierarchy", HIERARCHY_TITLE, "needs mart nps_by_period")
    grain_col = source.pick(mart, "period_type", "period_grain", "grain")
    start_col = source.pick(mart, "period_start", "period")
    change_col = source.pick(mart, "nps_change", "change")
    flag_col = source.pick(mart, "significant_change", "is_significant_change")
    low_col = source.pick(mart, "is_low_sample", "low_sample")
    missing = source.missing(mart, ["hierarchy_level", "region", "district", "responses", "nps"])
    missing += [
        name
        for name, col in (
            ("period_start", start_col),
            ("nps_change", change_col),
            ("significant_change", flag_col),
        )
        if not col
    ]
    if missing:
        return Skipped(
            "hierarchy", HIERARCHY_TITLE, f"nps_by_period lacks columns: {', '.join(missing)}"
        )
    grain = _pick_period(source, mart, grain_col)
    clauses = _all_segments_filter(source, mart)
    params: list[object] = []
    if grain_col:
        clauses.append(f"{ident(grain_col)} = ?")
        params.append(grain)
    latest = source.query(
        f"select max({ident(start_col)}) as latest from {table(mart)} {_where(clauses)}", params
    )["latest"].iloc[0]
    if latest is None or pd.isna(latest):
        return Skipped("hierarchy", HIERARCHY_TITLE, "nps_by_period holds no rows yet")
    branch_col = source.pick(mart, "branch_name", "branch_id")
    previous = source.pick(mart, "previous_nps")
    end_col = source.pick(mart, "period_end")
    frame = source.query(
        f"select hierarchy_level, region, district, "
        f"{ident(branch_col) if branch_col else 'null'} as branch, "
        f"{'branch_id' if source.pick(mart, 'branch_id') else 'null'} as branch_id, "
        "responses, nps, "
        f"{ident(previous) if previous else 'null'} as previous_nps, "
        f"{ident(change_col)} as nps_change, {ident(flag_col)} as significant_change, "
        f"{ident(low_col) if low_col else 'responses < ?'} as is_low_sample, "
        f"{ident(end_col) if end_col else 'null'} as period_end "
        f"from {table(mart)} {_where([*clauses, f'{ident(start_col)} = ?'])}",
        ([] if low_col else [ctx.min_sample]) + params + [latest],
    )
    order = {"all": 0, "region": 1, "district": 2, "branch": 3}
    frame = frame[frame["hierarchy_level"].isin(order)]
    for column in ("region", "district", "branch"):
        frame[column] = frame[column].fillna("")
    frame = frame.assign(level_order=frame["hierarchy_level"].map(order))
    # tree order: each region, then its districts, each followed by its branches
    frame = (
        frame.sort_values(["level_order"], kind="stable")
        .assign(
            sort_region=lambda f: np.where(f["hierarchy_level"] == "all", "", f["region"]),
            sort_district=lambda f: np.where(f["level_order"] >= 2, f["district"], ""),
            sort_branch=lambda f: np.where(f["level_order"] >= 3, f["branch"], ""),
        )
        .sort_values(["sort_region", "sort_district", "sort_branch", "level_order"])
    )
    rows = []
    low_rows = 0
    significant_rows = 0
    for row in frame.itertuples(index=False):
        level = row.hierarchy_level
        name = {
            "all": "All regions",
            "region": row.region,
            "district": row.district,
            "branch": row.branch,
        }[level]
        # branch names need not be unique (e.g. several "unknown"): the id tells them apart
        branch_id = (
            f' <span class="id">{escape(str(row.branch_id))}</span>'
            if level == "branch"
            and row.branch_id is not None
            and not pd.isna(row.branch_id)
            and str(row.branch_id) != str(name)
            else ""
        )
        is_low = _is_true(row.is_low_sample)
        low_rows += is_low
        change = row.nps_change
        if _is_true(row.significant_change):
            significant_rows += 1
            up = change is not None and not pd.isna(change) and change > 0
            flag = (
                f'<span class="sig {"up" if up else "down"}">'
                f"{'▲' if up else '▼'} significant</span>"
            )
        else:
            flag = ""
        low_badge = (
            f' <span class="low" title="fewer than {ctx.min_sample} responses">low sample</span>'
            if is_low
            else ""
        )
        rows.append(
            f'<tr class="level-{escape(level)}{" is-low" if is_low else ""}">'
            f'<td class="name">{escape(str(name) or "unknown")}{branch_id}{low_badge}</td>'
            f'<td class="num">{_fmt_int(row.responses)}</td>'
            f'<td class="num">{_fmt_nps(row.nps)}</td>'
            f'<td class="num">{_fmt_nps(row.previous_nps)}</td>'
            f'<td class="num">{_fmt_nps(change)}</td>'
            f"<td>{flag}</td></tr>"
        )
    period_end = frame["period_end"].dropna()
    period = f"{pd.Timestamp(latest):%Y-%m-%d}" + (
        f" to {pd.Timestamp(period_end.iloc[0]):%Y-%m-%d}" if not period_end.empty else ""
    )
    body = (
        f"<p>Latest {escape(str(grain or 'period'))} ({escape(period)}), compared with the "
        f"previous one. ▲/▼ <strong>significant</strong> marks a change the two-sample test "
        f"finds significant; {significant_rows} rows carry one.</p>"
        '<table class="hierarchy"><thead><tr><th>Region › district › branch</th>'
        '<th class="num">Responses</th><th class="num">NPS</th>'
        '<th class="num">Previous NPS</th><th class="num">Change</th>'
        "<th>Significant change</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )
    notes = []
    if low_rows:
        notes.append(
            f"{low_rows} rows have fewer than {ctx.min_sample} responses: shown in grey "
            "italics with a “low sample” badge; read their NPS and change with care."
        )
    return Section("hierarchy", HIERARCHY_TITLE, body, [], notes)


# -- eNPS heatmap -------------------------------------------------------------------------------

ENPS_TITLE = "eNPS by department and wave"


def enps_section(ctx: Context) -> Section | Skipped:
    source = ctx.source
    mart = "enps_by_wave"
    if not source.has(mart):
        return Skipped("enps", ENPS_TITLE, "needs mart enps_by_wave")
    wave = source.pick(mart, "survey_wave", "wave")
    score = source.pick(mart, "enps", "nps")
    suppressed = source.pick(mart, "suppressed", "is_suppressed")
    department = source.pick(mart, "department")
    missing = [
        n
        for n, c in (
            ("survey_wave", wave),
            ("enps", score),
            ("suppressed", suppressed),
            ("department", department),
        )
        if not c
    ]
    if missing:
        return Skipped("enps", ENPS_TITLE, f"enps_by_wave lacks columns: {', '.join(missing)}")
    grouping = source.pick(mart, "grouping", "grouping_type", "group_type", "grouping_level")
    if grouping:
        clauses = [f"{ident(grouping)} = 'department'"]
    else:
        clauses = ["department is not null"] + [
            f"{ident(c)} is null"
            for c in ("team", "location", "tenure_band")
            if source.pick(mart, c)
        ]
    responses = source.pick(mart, "responses")
    frame = source.query(
        f"select cast({ident(wave)} as varchar) as wave, cast(department as varchar) as "
        f"department, {ident(score)} as enps, {ident(suppressed)} as suppressed, "
        f"{ident(responses) if responses else 'null'} as responses "
        f"from {table(mart)} {_where(clauses)}"
    )
    if frame.empty:
        return Skipped("enps", ENPS_TITLE, "enps_by_wave holds no department rows yet")
    waves = sorted(frame["wave"].unique())
    departments = sorted(frame["department"].unique())
    figure = charts.new_figure(
        max(5.0, 1.3 * len(waves) + 3), max(2.2, 0.45 * len(departments) + 1.2)
    )
    ax = figure.subplots()
    cmap = matplotlib.colormaps["RdYlGn"]
    values = np.full((len(departments), len(waves)), np.nan)
    cells = {(r.department, r.wave): r for r in frame.itertuples(index=False)}
    suppressed_cells = low_cells = 0
    for i, dept in enumerate(departments):
        for j, w in enumerate(waves):
            cell = cells.get((dept, w))
            if cell is None:
                ax.text(j, i, "no data", ha="center", va="center", fontsize=7, color="#999")
            elif _is_true(cell.suppressed):
                suppressed_cells += 1
                ax.add_patch(
                    Rectangle(
                        (j - 0.5, i - 0.5),
                        1,
                        1,
                        facecolor="#e0e0e0",
                        hatch="xx",
                        edgecolor="#9e9e9e",
                        lw=0,
                    )
                )
                ax.text(j, i, "suppressed", ha="center", va="center", fontsize=7, color="#555")
            elif cell.enps is not None and not pd.isna(cell.enps):
                values[i, j] = float(cell.enps)
                is_low = (
                    cell.responses is not None
                    and not pd.isna(cell.responses)
                    and (cell.responses < ctx.min_sample)
                )
                low_cells += is_low
                ax.text(
                    j,
                    i,
                    f"{cell.enps:+.0f}{'*' if is_low else ''}",
                    ha="center",
                    va="center",
                    fontsize=9,
                    fontweight="bold",
                )
    image_data = np.ma.masked_invalid(values)
    mesh = ax.imshow(image_data, cmap=cmap, vmin=-100, vmax=100, aspect="auto")
    ax.set_xticks(range(len(waves)), [charts.label(w) for w in waves])
    ax.set_yticks(range(len(departments)), [charts.label(d) for d in departments])
    ax.set_xlim(-0.5, len(waves) - 0.5)
    ax.set_ylim(len(departments) - 0.5, -0.5)
    ax.set_xlabel("wave")
    ax.spines[:].set_visible(False)
    figure.colorbar(mesh, ax=ax, label="eNPS", shrink=0.8)
    image = charts.save_png(figure, ctx.images_dir, "enps")
    body = (
        "<p>eNPS per department and survey wave. Hatched grey cells marked "
        "<strong>suppressed</strong> are groups too small to show without risking anyone's "
        "anonymity: they carry no score by design.</p>"
        + _figure_html(image, "eNPS heatmap by department and wave")
        + f'<p class="note">{suppressed_cells} cells suppressed for anonymity.</p>'
    )
    notes = []
    if low_cells:
        notes.append(
            f"{low_cells} cells marked * have fewer than {ctx.min_sample} responses: large "
            "enough to show, too small for a precise score."
        )
    return Section("enps", ENPS_TITLE, body, [image], notes)


# -- top detractor themes -----------------------------------------------------------------------

THEMES_TITLE = "Top themes among detractors"


def themes_section(ctx: Context) -> Section | Skipped:
    source = ctx.source
    if source.has("fct_comment_themes"):
        mart = "fct_comment_themes"
        theme = source.pick(mart, "theme")
        response = source.pick(mart, "response_id")
        category = source.pick(mart, "category", "nps_category")
        detractor = source.pick(mart, "is_detractor")
        if theme and response and (category or detractor):
            condition = ident(detractor) if detractor else f"{ident(category)} = 'detractor'"
            frame = source.query(
                f"select {ident(theme)} as theme, count(distinct {ident(response)}) as mentions "
                f"from {table(mart)} where {condition} group by 1 order by 2 desc, 1 "
                f"limit {TOP_THEMES}"
            )
            total = source.query(
                f"select count(distinct {ident(response)}) as n from {table(mart)} "
                f"where {condition}"
            )["n"].iloc[0]
            return _themes_chart(ctx, frame, int(total or 0), mart)
    if source.has("nps_theme_drivers"):
        return _themes_from_drivers(ctx)
    return Skipped("themes", THEMES_TITLE, "needs mart fct_comment_themes or nps_theme_drivers")


def _themes_from_drivers(ctx: Context) -> Section | Skipped:
    source = ctx.source
    mart = "nps_theme_drivers"
    theme = source.pick(mart, "theme")
    measure = source.pick(
        mart, "detractor_mentions", "detractor_comments", "mentions_by_detractors"
    )
    if not theme or not measure:
        return Skipped(
            "themes", THEMES_TITLE, "nps_theme_drivers lacks columns: theme, detractor_mentions"
        )
    clauses = _all_segments_filter(source, mart)
    if source.pick(mart, "hierarchy_level"):
        clauses.append("hierarchy_level = 'all'")
    grain_col = source.pick(mart, "period_type", "period_grain", "grain")
    params: list[object] = []
    if grain_col:
        grains = set(
            source.query(f"select distinct {ident(grain_col)} as g from {table(mart)}")["g"]
        )
        # the widest grain counts every mention once: sum its periods for the whole history
        grain = next((g for g in ("year", "quarter", "month", "week", "day") if g in grains), None)
        clauses.append(f"{ident(grain_col)} = ?")
        params.append(grain)
    frame = source.query(
        f"select {ident(theme)} as theme, sum({ident(measure)}) as mentions from {table(mart)} "
        f"{_where(clauses)} group by 1 having sum({ident(measure)}) > 0 "
        f"order by 2 desc, 1 limit {TOP_THEMES}",
        params,
    )
    total = int(frame["mentions"].sum()) if not frame.empty else 0
    return _themes_chart(ctx, frame, total, mart, total_is_mentions=True)


def _themes_chart(
    ctx: Context, frame: pd.DataFrame, total: int, mart: str, total_is_mentions: bool = False
) -> Section | Skipped:
    if frame.empty:
        return Skipped("themes", THEMES_TITLE, f"{mart} holds no detractor themes yet")
    frame = frame.iloc[::-1]
    figure = charts.new_figure(8, max(2.0, 0.35 * len(frame) + 1))
    ax = figure.subplots()
    low = total < ctx.min_sample
    bars = ax.barh(
        [charts.label(t).replace("_", " ") for t in frame["theme"]],
        frame["mentions"].astype(float),
        color=charts.DETRACTOR,
        hatch=charts.LOW_SAMPLE_HATCH if low else None,
        alpha=0.55 if low else 1,
    )
    ax.bar_label(bars, [f"{int(m)}" for m in frame["mentions"]], padding=3, fontsize=8)
    ax.set_xlabel("detractor mentions" if total_is_mentions else "detractor comments mentioning")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    image = charts.save_png(figure, ctx.images_dir, "themes")
    what = "theme mentions" if total_is_mentions else "tagged detractor comments"
    body = (
        f"<p>The themes detractors mention most (from <code>{escape(mart)}</code>, "
        f"{total:,} {what} in all).</p>" + _figure_html(image, "Top themes among detractors")
    )
    notes = []
    if low:
        notes.append(
            f"Only {total} {what}, fewer than {ctx.min_sample}: the ranking is indicative, "
            "the bars are hatched."
        )
    return Section("themes", THEMES_TITLE, body, [image], notes)


# -- follow-up SLA ------------------------------------------------------------------------------

SLA_TITLE = "Detractor follow-up SLA"


def followup_section(ctx: Context) -> Section | Skipped:
    source = ctx.source
    mart = "followup_sla"
    if not source.has(mart):
        return Skipped("followup", SLA_TITLE, "needs mart followup_sla")
    branch = source.pick(mart, "branch_name", "branch_id")
    share = source.pick(
        mart,
        "share_contacted_within_sla",
        "contacted_within_sla_share",
        "within_sla_share",
        "share_within_sla",
        "pct_contacted_within_sla",
    )
    if not branch or not share:
        return Skipped(
            "followup",
            SLA_TITLE,
            "followup_sla lacks columns: branch_name, share_contacted_within_sla",
        )
    cases = source.pick(
        mart,
        "detractors_to_follow_up",
        "detractors",
        "followups",
        "detractors_due",
        "cases",
        "responses",
    )
    median = source.pick(
        mart,
        "median_hours_to_contact",
        "median_time_to_contact_hours",
        "median_hours",
        "median_time_to_contact",
    )
    overdue = source.pick(mart, "overdue_open", "overdue", "overdue_count", "overdue_followups")
    within = source.pick(mart, "contacted_within_sla")
    clauses = [f"{ident(branch)} is not null"]
    params: list[object] = []
    grain_col = source.pick(mart, "period_type", "period_grain", "grain")
    start_col = source.pick(mart, "period_start", "period", "month")
    if source.pick(mart, "hierarchy_level"):
        clauses.append("hierarchy_level = 'branch'")
    if grain_col:
        clauses.append(f"{ident(grain_col)} = ?")
        params.append(_pick_period(source, mart, grain_col))
    period_label = "all time"
    if start_col:
        latest = source.query(
            f"select max({ident(start_col)}) as latest from {table(mart)} {_where(clauses)}",
            params,
        )["latest"].iloc[0]
        if latest is not None and not pd.isna(latest):
            clauses.append(f"{ident(start_col)} = ?")
            params.append(latest)
            period_label = str(latest)[:10]
            if grain_col:
                period_label = f"{params[0]} starting {period_label}"
    frame = source.query(
        f"select cast({ident(branch)} as varchar) as branch, {ident(share)} as share, "
        f"{ident(cases) if cases else 'null'} as cases, "
        f"{ident(median) if median else 'null'} as median_hours, "
        f"{ident(overdue) if overdue else 'null'} as overdue, "
        f"{ident(within) if within else 'null'} as within_sla "
        f"from {table(mart)} {_where(clauses)} order by share, branch",
        params,
    )
    if frame.empty:
        return Skipped("followup", SLA_TITLE, "followup_sla holds no rows yet")
    share_values = frame["share"].astype(float)
    # a share may be stored as a fraction or as a percentage
    scale = 100.0 if share_values.dropna().le(1.0).all() else 1.0
    frame = frame.assign(share_pct=share_values * scale)
    low = frame["cases"].notna() & (frame["cases"].astype(float) < ctx.min_sample)
    shown = frame.head(MAX_BRANCH_BARS)
    figure = charts.new_figure(8, max(2.0, 0.32 * len(shown) + 1))
    ax = figure.subplots()
    bars = ax.barh(
        [charts.label(b) for b in shown["branch"]],
        shown["share_pct"].fillna(0),
        color=charts.LINE_30,
    )
    for bar, is_low in zip(bars, low.head(MAX_BRANCH_BARS), strict=True):
        if is_low:
            bar.set_hatch(charts.LOW_SAMPLE_HATCH)
            bar.set_alpha(0.5)
    ax.bar_label(
        bars,
        [
            ("–" if pd.isna(s) else f"{s:.0f}%") + (f"  (n={int(c)}, low)" if lo else "")
            for s, c, lo in zip(
                shown["share_pct"], shown["cases"], low.head(MAX_BRANCH_BARS), strict=True
            )
        ],
        padding=3,
        fontsize=8,
    )
    ax.set_xlim(0, 115)
    ax.set_xlabel("detractors contacted within SLA (%)")
    image = charts.save_png(figure, ctx.images_dir, "followup")
    rows = "".join(
        f"<tr{' class=is-low' if lo else ''}><td>{escape(str(r.branch))}</td>"
        f'<td class="num">{_fmt_int(r.cases)}</td>'
        f'<td class="num">{"–" if pd.isna(r.share_pct) else f"{r.share_pct:.0f}%"}</td>'
        f'<td class="num">{"–" if pd.isna(r.median_hours) else f"{float(r.median_hours):.1f}"}'
        f'</td><td class="num">{_fmt_int(r.overdue)}</td></tr>'
        for r, lo in zip(frame.itertuples(index=False), low, strict=True)
    )
    body = (
        f"<p>Share of detractors contacted within the survey's SLA, per branch "
        f"({escape(period_label)}), worst first.</p>"
        + _figure_html(image, "Detractor follow-up within SLA per branch")
        + '<table class="followup"><thead><tr><th>Branch</th><th class="num">Detractors</th>'
        '<th class="num">Within SLA</th><th class="num">Median hours to contact</th>'
        '<th class="num">Overdue</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )
    notes = []
    if low.any():
        notes.append(
            f"{int(low.sum())} branches have fewer than {ctx.min_sample} detractors to follow "
            "up: hatched bars labelled “low”, grey rows in the table."
        )
    return Section("followup", SLA_TITLE, body, [image], notes)


SECTIONS: list[tuple[str, str, SectionBuilder]] = [
    ("trend", TREND_TITLE, trend_section),
    ("mix", MIX_TITLE, mix_section),
    ("hierarchy", HIERARCHY_TITLE, hierarchy_section),
    ("enps", ENPS_TITLE, enps_section),
    ("themes", THEMES_TITLE, themes_section),
    ("followup", SLA_TITLE, followup_section),
]
