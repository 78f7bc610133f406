"""Render the report: sections into a staging folder, then swapped into the output folder.

The page is self-contained for offline reading: inline CSS, no scripts, no web fonts, charts as
PNG files next to `index.html`. Every piece of text that comes from data is HTML-escaped.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import yaml

from orchestration.engines import Engine
from orchestration.report.marts import MartSource
from orchestration.report.sections import SECTIONS, Context, Section, Skipped
from orchestration.settings import PROJECT_DIR

log = logging.getLogger(__name__)

REPORT_DIR_ENV = "NPS_REPORT_DIR"
DEFAULT_MIN_SAMPLE = 30
INDEX = "index.html"


@dataclass
class Report:
    index: Path
    sections: list[str] = field(default_factory=list)  # keys of the sections shown
    skipped: dict[str, str] = field(default_factory=dict)  # key -> why it is not shown
    images: list[Path] = field(default_factory=list)
    low_sample_notes: int = 0


def default_report_dir() -> Path:
    """$NPS_REPORT_DIR, else `reports/` in the project root."""
    configured = os.environ.get(REPORT_DIR_ENV)
    return Path(configured) if configured else PROJECT_DIR / "reports"


def default_min_sample(project_dir: Path = PROJECT_DIR) -> int:
    """The dbt var `nps_min_sample` of dbt_project.yml (the marts' own low-sample threshold)."""
    try:
        config = yaml.safe_load((project_dir / "dbt_project.yml").read_text()) or {}
        return int((config.get("vars") or {}).get("nps_min_sample", DEFAULT_MIN_SAMPLE))
    except (OSError, ValueError, TypeError, yaml.YAMLError):
        return DEFAULT_MIN_SAMPLE


def render_report(
    source: Path | Engine,
    output_dir: Path | None = None,
    min_sample: int | None = None,
    now: datetime | None = None,
) -> Report:
    """Render `<output_dir>/index.html` and its charts from the marts of `source`: a DuckDB
    file (the published copy) or an engine (PostgreSQL's marts schema).

    A section whose marts are missing is listed as not shown; one that fails on unexpected data
    is too (logged with its error), so a changing mart never takes the whole report down."""
    output_dir = output_dir or default_report_dir()
    min_sample = default_min_sample() if min_sample is None else min_sample
    now = now or datetime.now(UTC)
    output_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".render-", dir=output_dir))
    try:
        shown: list[Section] = []
        skipped: list[Skipped] = []
        with MartSource(source) as marts:
            label = marts.engine.label
            context = Context(source=marts, images_dir=staging, min_sample=min_sample)
            for key, title, build in SECTIONS:
                try:
                    outcome = build(context)
                except Exception as exc:  # noqa: BLE001 - one section must not sink the page
                    log.warning("report section %s failed", key, exc_info=True)
                    first_line = str(exc).splitlines()[0] if str(exc) else ""
                    outcome = Skipped(
                        key, title, f"could not be drawn ({type(exc).__name__}: {first_line})"
                    )
                (shown if isinstance(outcome, Section) else skipped).append(outcome)
        page = _page(shown, skipped, label, min_sample, now)
        (staging / INDEX).write_text(page, encoding="utf-8")
        images = [name for section in shown for name in section.images]
        # images first, the page last: a reader never gets a page naming a missing image
        for name in images:
            os.replace(staging / name, output_dir / name)
        os.replace(staging / INDEX, output_dir / INDEX)
        referenced = set(re.findall(r'src="([^"/]+\.png)"', page))
        for stale in output_dir.glob("*.png"):
            if stale.name not in referenced:
                stale.unlink(missing_ok=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    report = Report(
        index=output_dir / INDEX,
        sections=[s.key for s in shown],
        skipped={s.key: s.reason for s in skipped},
        images=[output_dir / name for name in images],
        low_sample_notes=sum(len(s.low_sample_notes) for s in shown),
    )
    log.info("report %s: %d sections, %d not shown", report.index, len(shown), len(skipped))
    return report


CSS = """
:root { --ink: #1f2933; --muted: #616e7c; --line: #d9e2ec; --accent: #253494; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans",
  sans-serif; color: var(--ink); background: #f5f7fa; }
header { background: var(--accent); color: #fff; padding: 18px 32px; }
header h1 { margin: 0 0 4px; font-size: 24px; }
header p { margin: 0; opacity: .85; font-size: 13px; }
nav { padding: 8px 32px; background: #fff; border-bottom: 1px solid var(--line); }
nav a { margin-right: 16px; color: var(--accent); text-decoration: none; font-size: 14px; }
main { max-width: 1080px; margin: 0 auto; padding: 16px 24px 40px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px;
  padding: 16px 24px; margin: 18px 0; }
h2 { margin: 0 0 8px; font-size: 19px; }
figure { margin: 12px 0; }
figure img { display: block; max-width: 100%; height: auto; }
figcaption, .note { color: var(--muted); font-size: 13px; }
.low-sample-note { background: #fff8e1; border-left: 4px solid #f0b429; padding: 6px 10px;
  color: #5c4813; }
table { border-collapse: collapse; width: 100%; font-size: 13.5px; margin-top: 8px; }
th, td { text-align: left; padding: 4px 10px; border-bottom: 1px solid var(--line); }
th { background: #f0f4f8; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.level-all td { font-weight: 700; background: #e6ecf5; }
tr.level-region td { font-weight: 600; background: #f5f7fa; }
tr.level-district td.name { padding-left: 28px; }
tr.level-branch td.name { padding-left: 52px; }
tr.is-low td { color: #8a8a8a; font-style: italic; }
.low { font-size: 11px; font-style: normal; background: #eee; color: #555; border-radius: 3px;
  padding: 0 5px; margin-left: 6px; }
.sig { font-weight: 700; font-style: normal; }
.id { color: var(--muted); font-size: 11px; font-style: normal; margin-left: 4px; }
.sig.up { color: #1a7f37; }
.sig.down { color: #c62828; }
ul.skipped { color: var(--muted); font-size: 13.5px; }
footer { color: var(--muted); font-size: 12px; text-align: center; padding: 12px; }
"""


def _page(
    shown: list[Section], skipped: list[Skipped], source: str, min_sample: int, now: datetime
) -> str:
    nav = "".join(f'<a href="#{escape(s.key)}">{escape(s.title)}</a>' for s in shown)
    sections = "\n".join(
        f'<section id="{escape(s.key)}"><h2>{escape(s.title)}</h2>\n{s.body}\n'
        + "".join(f'<p class="note low-sample-note">{escape(n)}</p>' for n in s.low_sample_notes)
        + "</section>"
        for s in shown
    )
    if not shown:
        sections = "<section><h2>Nothing to show yet</h2><p>No mart the report reads exists."
        sections += "</p></section>"
    not_shown = ""
    if skipped:
        items = "".join(
            f"<li><strong>{escape(s.title)}</strong>: {escape(s.reason)}</li>" for s in skipped
        )
        not_shown = (
            '<section id="not-shown"><h2>Not shown</h2><p class="note">Sections appear once '
            f'the marts they read exist.</p><ul class="skipped">{items}</ul></section>'
        )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>NPS report</title>
<style>{CSS}</style>
</head>
<body>
<header><h1>NPS report</h1>
<p>Generated {escape(f"{now:%Y-%m-%d %H:%M} UTC")} from {escape(source)} ·
minimum sample {min_sample} responses: anything drawn from fewer is marked as low sample.</p>
</header>
<nav>{nav}</nav>
<main>
{sections}
{not_shown}
</main>
<footer>NPS warehouse · static report, works offline</footer>
</body>
</html>
"""
