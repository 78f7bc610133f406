"""Make the GX Data Docs site work offline and give it a plain index page.

GX renders its pages with CSS and JavaScript from public CDNs, and its index page draws its
tables with JavaScript: offline (and our rule is that pages we render work offline) that index
shows nothing. So after each build every page loses its external `<script>` / `<link>` tags and
gets a small inline style, and `index.html` is replaced by a static page listing every suite
(what it validates, its severity, a link to its expectations page) and its newest validation
results (pass/fail, link to the result page). GX's own index stays as `gx_index.html`.

No Great Expectations import here: the validation results are read from the store's JSON files.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

LATEST_RESULTS_PER_SUITE = 30

_EXTERNAL_SCRIPT = re.compile(
    r"<script\b[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//[^>]*>\s*</script>", re.IGNORECASE
)
_EXTERNAL_LINK = re.compile(r"<link\b[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//[^>]*>", re.IGNORECASE)
_STYLE = """<style>
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem;color:#222}
table{border-collapse:collapse;margin:0.5rem 0 1.5rem}
td,th{border:1px solid #ccc;padding:0.25rem 0.5rem;text-align:left;vertical-align:top}
.pass{color:#176d2c}.fail{color:#b3261e;font-weight:bold}
.collapse:not(.show){display:block}
</style>"""


def strip_external_resources(text: str) -> str:
    """The page without tags that load scripts or styles from other hosts, plus a local style."""
    text = _EXTERNAL_SCRIPT.sub("", text)
    text = _EXTERNAL_LINK.sub("", text)
    if "</head>" in text and _STYLE not in text:
        text = text.replace("</head>", _STYLE + "</head>", 1)
    return text


def make_offline(site_dir: Path, expectations_dir: Path) -> Path:
    """Post-process a freshly built site in `site_dir`; returns its (static) index page."""
    site_dir = Path(site_dir)
    gx_index = site_dir / "index.html"
    if gx_index.is_file():
        gx_index.replace(site_dir / "gx_index.html")
    for page in site_dir.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        stripped = strip_external_resources(text)
        if stripped != text:
            page.write_text(stripped, encoding="utf-8")
    # <project>/gx/uncommitted/data_docs/local_site -> <project>/gx/uncommitted/validations
    results_dir = site_dir.parent.parent / "validations"
    index = site_dir / "index.html"
    index.write_text(_index_page(site_dir, Path(expectations_dir), results_dir), encoding="utf-8")
    return index


def _index_page(site_dir: Path, expectations_dir: Path, results_dir: Path) -> str:
    suites = []
    for path in sorted(expectations_dir.glob("*.json")):
        definition = json.loads(path.read_text(encoding="utf-8"))
        suites.append(definition)
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        "<title>NPS warehouse: data quality</title>",
        _STYLE,
        "</head><body>",
        "<h1>NPS warehouse: data quality (Great Expectations Data Docs)</h1>",
        "<p>One suite per validated asset, from <code>expectations/</code>. Each suite links to "
        "its expectations; each validation to its full result. Newest first.</p>",
        "<table><tr><th>suite</th><th>validates</th><th>severity</th><th>expectations</th>"
        "<th>latest results</th></tr>",
    ]
    for definition in suites:
        name = str(definition.get("name"))
        meta = definition.get("meta") or {}
        results = _latest_results(results_dir / name, site_dir)
        failed = sum(1 for r in results if not r["success"])
        summary = (
            f"{len(results)} shown, <span class='{'fail' if failed else 'pass'}'>{failed} failed"
            "</span>"
            if results
            else "not validated yet"
        )
        parts.append(
            f"<tr><td id='{html.escape(name)}'><a href='expectations/{html.escape(name)}.html'>"
            f"{html.escape(name)}</a></td><td>{html.escape(str(meta.get('asset', '')))}</td>"
            f"<td>{html.escape(str(meta.get('severity', 'warning')))}</td>"
            f"<td>{len(definition.get('expectations') or [])}</td><td>{summary}</td></tr>"
        )
    parts.append("</table>")
    for definition in suites:
        name = str(definition.get("name"))
        meta = definition.get("meta") or {}
        parts.append(f"<h2>{html.escape(name)}</h2>")
        parts.append(f"<p>{html.escape(str(meta.get('description', '')))}</p>")
        results = _latest_results(results_dir / name, site_dir)
        if not results:
            parts.append("<p>No validation results yet.</p>")
            continue
        parts.append(
            "<table><tr><th>run time</th><th>batch</th><th>result</th><th>failed</th></tr>"
        )
        for r in results:
            label = "passed" if r["success"] else "FAILED"
            link = html.escape(r["page"]) if r["page"] else ""
            batch = html.escape(r["batch"])
            parts.append(
                f"<tr><td>{html.escape(r['run_time'])}</td>"
                f"<td>{f'<a href={chr(39)}{link}{chr(39)}>{batch}</a>' if link else batch}</td>"
                f"<td class='{'pass' if r['success'] else 'fail'}'>{label}</td>"
                f"<td>{html.escape(', '.join(r['failed']))}</td></tr>"
            )
        parts.append("</table>")
    parts.append("<p><a href='gx_index.html'>GX's own index page</a> (needs network).</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _latest_results(suite_dir: Path, site_dir: Path) -> list[dict[str, Any]]:
    """The newest stored results of one suite: {run_time, batch, success, failed, page}."""
    if not suite_dir.is_dir():
        return []
    found = []
    for path in suite_dir.rglob("*.json"):
        relative = path.relative_to(suite_dir)
        if len(relative.parts) < 3:
            continue
        run_name, run_time = relative.parts[0], relative.parts[1]
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        failed = [
            str(
                ((r.get("expectation_config") or {}).get("meta") or {}).get("key")
                or (r.get("expectation_config") or {}).get("type")
            )
            for r in result.get("results") or []
            if not r.get("success")
        ]
        page = site_dir / "validations" / suite_dir.name / relative.with_suffix(".html")
        found.append(
            {
                "run_time": run_time,
                "batch": run_name,
                "success": bool(result.get("success")),
                "failed": failed,
                "page": page.relative_to(site_dir).as_posix() if page.is_file() else None,
            }
        )
    found.sort(key=lambda r: (r["run_time"], r["batch"]), reverse=True)
    return found[:LATEST_RESULTS_PER_SUITE]
