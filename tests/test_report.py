"""The static report: rendered from real marts, opened in headless Chromium (Debian's chromium).

The browser is driven over its DevTools protocol (a websocket on 127.0.0.1): console messages,
exceptions, failed loads and every network request are recorded while the page loads from a
local http.server, then each <img> is asked for its naturalWidth and a full-page screenshot is
saved under the test's tmp dir.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

from orchestration.report import default_min_sample, render_report
from tests.conftest import CliRun

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAS_CHROMIUM = Path(CHROMIUM).exists()
needs_chromium = pytest.mark.skipif(
    not HAS_CHROMIUM,
    reason="Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)",
)
ALL_SECTIONS = ["trend", "mix", "hierarchy", "enps", "themes", "followup"]


# -- fixtures: marts -----------------------------------------------------------------------------


def _columns(conn: duckdb.DuckDBPyConnection, mart: str) -> set[str]:
    return {
        c
        for (c,) in conn.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'marts' and table_name = ?",
            [mart],
        ).fetchall()
    }


def _ensure_rows(
    conn: duckdb.DuckDBPyConnection, mart: str, create: str, columns: list[str], rows: list[tuple]
) -> None:
    """Tiny rows for a mart not built (or empty) in the fixture run: created with `create` when
    absent, else inserted by column name into the real (empty) table."""
    present = _columns(conn, mart)
    # fully qualified, so the name stays unambiguous whatever the file (catalog) is called
    (catalog,) = conn.execute("select current_database()").fetchall()[0]
    name = f'"{catalog}".marts.{mart}'
    if not present:
        conn.execute(f"create table {name} ({create})")
    elif conn.execute(f"select count(*) from {name}").fetchall()[0][0]:
        return  # the real mart has data: the report must read it as built
    elif missing := set(columns) - present:
        pytest.fail(f"marts.{mart} exists without columns {missing}: adapt the report and test")
    placeholders = ", ".join("?" for _ in columns)
    conn.executemany(f"insert into {name} ({', '.join(columns)}) values ({placeholders})", rows)


def add_fixture_marts(database: Path) -> None:
    with duckdb.connect(str(database)) as conn:
        (catalog,) = conn.execute("select current_database()").fetchall()[0]
        conn.execute(f'create schema if not exists "{catalog}".marts')
        _ensure_rows(
            conn,
            "enps_by_wave",
            "survey_wave varchar, grouping varchar, department varchar, team varchar, "
            "suppressed boolean, responses integer, enps double",
            ["survey_wave", "grouping", "department", "suppressed", "responses", "enps"],
            [
                ("2025-Q1", "department", "Engineering", False, 42, 31.0),
                ("2025-Q2", "department", "Engineering", False, 45, 24.4),
                ("2025-Q1", "department", "Sales", False, 12, -8.3),
                ("2025-Q2", "department", "Sales", True, None, None),
                ("2025-Q1", "department", "Finance & <Legal>", True, None, None),
                ("2025-Q2", "department", "Finance & <Legal>", False, 6, 16.7),
            ],
        )
        _ensure_rows(
            conn,
            "fct_comment_themes",
            "response_id varchar, theme varchar, category varchar",
            ["response_id", "theme", "category"],
            [
                ("R1", "waiting_time", "detractor"),
                ("R2", "waiting_time", "detractor"),
                ("R2", "price", "detractor"),
                ("R3", "staff_friendliness", "promoter"),
                ("R4", "price", "detractor"),
                ("R5", "waiting_time", "detractor"),
            ],
        )
        _ensure_rows(
            conn,
            "followup_sla",
            "period_grain varchar, period_start date, branch_id varchar, branch_name varchar, "
            "detractors_to_follow_up integer, contacted_within_sla integer, "
            "share_contacted_within_sla double, median_hours_to_contact double, "
            "overdue_open integer",
            [
                "period_grain",
                "period_start",
                "branch_id",
                "branch_name",
                "detractors_to_follow_up",
                "contacted_within_sla",
                "share_contacted_within_sla",
                "median_hours_to_contact",
                "overdue_open",
            ],
            [
                ("month", "2025-03-01", "BR-0001", "Amsterdam Centraal", 40, 34, 0.85, 20.5, 1),
                ("month", "2025-03-01", "BR-0002", "Amsterdam Oost", 3, 1, 1 / 3, 60.0, 2),
                ("month", "2025-02-01", "BR-0001", "Amsterdam Centraal", 10, 10, 1.0, 4.0, 0),
            ],
        )


@pytest.fixture(scope="module")
def report_marts(fixture_run: CliRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture run's published marts plus tiny rows for the marts it does not build yet."""
    published = fixture_run.warehouse.parent / "published" / "nps_warehouse.duckdb"
    assert published.exists(), fixture_run.stdout + fixture_run.stderr
    database = tmp_path_factory.mktemp("report_marts") / "nps_warehouse.duckdb"
    shutil.copy(published, database)
    add_fixture_marts(database)
    return database


# -- the report itself ---------------------------------------------------------------------------


def test_run_renders_the_report(fixture_run: CliRun) -> None:
    # run_cli points NPS_REPORT_DIR beside the test's warehouse
    index = (fixture_run.warehouse.parent / "reports").resolve() / "index.html"
    assert f"Report: {index}" in fixture_run.stdout, fixture_run.stdout
    assert index.exists()


def test_every_section_renders_from_fixture_marts(report_marts: Path, tmp_path: Path) -> None:
    report = render_report(report_marts, tmp_path / "reports")
    assert report.sections == ALL_SECTIONS, report.skipped
    assert report.skipped == {}
    html = report.index.read_text()
    # suppressed eNPS groups are shown as such; data text is escaped, never markup
    assert "suppressed" in html
    assert "<Legal>" not in html
    # fixture marts are tiny: the page says what is drawn from fewer than the minimum sample
    assert report.low_sample_notes >= 3
    assert html.count('class="note low-sample-note"') == report.low_sample_notes
    assert f"minimum sample {default_min_sample()} responses" in html
    for image in report.images:
        assert image.read_bytes().startswith(b"\x89PNG"), image
    # offline: nothing is fetched from elsewhere
    assert "http://" not in html and "https://" not in html and "<script" not in html


def test_enps_themes_and_followup_from_tiny_marts(tmp_path: Path) -> None:
    database = tmp_path / "tiny.duckdb"
    add_fixture_marts(database)
    report = render_report(database, tmp_path / "reports", min_sample=30)
    assert report.sections == ["enps", "themes", "followup"], report.skipped
    html = report.index.read_text()
    # worst first, with its share; Oost has 3 detractors to follow up: below the minimum
    assert html.index("Amsterdam Oost") < html.index("Amsterdam Centraal")
    assert '<td class="num">85%</td>' in html and '<td class="num">33%</td>' in html
    assert "1 branches have fewer than 30 detractors to follow up" in html
    # Q2 Sales and Q1 Finance are suppressed; Sales Q1 (12) and Finance Q2 (6) are low samples
    assert "2 cells suppressed for anonymity" in html
    assert "2 cells marked * have fewer than 30 responses" in html
    # detractor comments only: the promoter's theme is not counted
    assert "4 tagged detractor comments in all" in html


def _daily_only_marts(database: Path, region: str, branch: str) -> None:
    with duckdb.connect(str(database)) as conn:
        conn.execute("create schema marts")
        conn.execute(
            "create table marts.nps_daily as select * from (values "
            "(date '2025-01-05', 'S', 'B1', ?, 'D1', ?, 'NL', 40, 20, 10, 10, 25.0), "
            "(date '2025-02-05', 'S', 'B1', ?, 'D1', ?, 'NL', 4, 1, 1, 2, -25.0)) as t("
            "response_date, survey_id, branch_id, branch_name, district, region, country, "
            "responses, promoters, passives, detractors, nps)",
            [branch, region, branch, region],
        )


def test_sections_without_their_marts_are_listed_not_drawn(tmp_path: Path) -> None:
    database = tmp_path / "tiny.duckdb"
    _daily_only_marts(database, region='<script>alert("x")</script>', branch="Tom & Jerry $5")
    report = render_report(database, tmp_path / "reports", min_sample=30)
    assert report.sections == ["trend", "mix"]
    assert set(report.skipped) == {"hierarchy", "enps", "themes", "followup"}
    html = report.index.read_text()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "needs mart nps_by_period" in html
    # February has 4 responses: marked, with its n
    assert "2 monthly points (all charts above) rest on fewer than 30 responses" in html
    assert "1 of 2 months have fewer than 30 responses" in html


def test_rerender_replaces_charts_and_removes_stale_ones(tmp_path: Path) -> None:
    database = tmp_path / "tiny.duckdb"
    _daily_only_marts(database, region="North", branch="One")
    output = tmp_path / "reports"
    first = render_report(database, output, min_sample=30)
    (output / "old-chart.png").write_bytes(b"stale")
    second = render_report(database, output, min_sample=3)
    assert first.images != second.images  # a different minimum draws different charts
    assert sorted(output.glob("*.png")) == sorted(second.images)
    assert not [p for p in output.iterdir() if p.name.startswith(".")], "no staging leftovers"


def test_no_marts_at_all_gives_a_page_that_says_so(tmp_path: Path) -> None:
    database = tmp_path / "empty.duckdb"
    duckdb.connect(str(database)).close()
    report = render_report(database, tmp_path / "reports")
    assert report.sections == [] and len(report.skipped) == len(ALL_SECTIONS)
    assert "Nothing to show yet" in report.index.read_text()


def test_exposures_declare_the_report_and_every_published_mart() -> None:
    from orchestration.project import nps_dbt_project, prepare_manifest

    prepare_manifest()
    manifest = json.loads(Path(nps_dbt_project.manifest_path).read_text())
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    marts = {
        node_id
        for node_id, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and node["fqn"][1] == "marts"
    }
    published = exposures["bi_published_marts"]
    # the publication copies every table of schema marts: BI may read any of them
    assert set(published["depends_on"]["nodes"]) == marts
    report = exposures["nps_report"]
    assert report["type"] == "dashboard" and report["owner"]["name"]
    assert published["owner"]["name"]
    read = {node_id.rsplit(".", 1)[1] for node_id in report["depends_on"]["nodes"]}
    assert {"nps_daily", "nps_rolling", "nps_by_period"} <= read


# -- headless Chromium ---------------------------------------------------------------------------


@dataclass
class PageLoad:
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    images: list[dict] = field(default_factory=list)
    low_sample_notes: int = 0
    screenshot: Path | None = None


class DevTools:
    """A minimal DevTools protocol client: commands with ids, events collected on the way."""

    def __init__(self, url: str) -> None:
        from websockets.sync.client import connect

        self._stack = contextlib.ExitStack()
        self._ws = self._stack.enter_context(connect(url, max_size=None, open_timeout=20))
        self._next = 0
        self.events: list[dict] = []

    def close(self) -> None:
        self._stack.close()

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next += 1
        message: dict = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._ws.send(json.dumps(message))
        deadline = time.monotonic() + 60
        while True:
            data = json.loads(self._ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if data.get("id") == self._next:
                if "error" in data:
                    raise RuntimeError(f"{method}: {data['error']}")
                return data.get("result", {})
            self.events.append(data)

    def wait_for(self, method: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event.get("method") == method:
                    return event
            self.events.append(json.loads(self._ws.recv(timeout=deadline - time.monotonic())))

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        with contextlib.suppress(TimeoutError):
            while (left := deadline - time.monotonic()) > 0:
                self.events.append(json.loads(self._ws.recv(timeout=left)))


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@contextlib.contextmanager
def chromium(profile: Path) -> Iterator[DevTools]:
    profile.mkdir(parents=True, exist_ok=True)
    log = (profile / "chromium.log").open("w")
    process = subprocess.Popen(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        # chromium writes the port it chose (and the browser's path) into the profile
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and len(port_file.read_text().split()) >= 2):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"chromium did not start: {(profile / 'chromium.log').read_text()}")
            time.sleep(0.1)
        port, path = port_file.read_text().split()[:2]
        client = DevTools(f"ws://127.0.0.1:{port}{path}")
        try:
            yield client
        finally:
            client.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def load_page(browser: DevTools, url: str, screenshot: Path | None = None) -> PageLoad:
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
        "sessionId"
    ]
    for domain in ("Runtime", "Log", "Network", "Page"):
        browser.send(f"{domain}.enable", session=session)
    browser.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": 1200, "height": 900, "deviceScaleFactor": 1, "mobile": False},
        session=session,
    )
    browser.events.clear()
    browser.send("Page.navigate", {"url": url}, session=session)
    browser.wait_for("Page.loadEventFired", timeout=60)
    result = PageLoad()
    result.images = browser.send(
        "Runtime.evaluate",
        {
            "expression": "Array.from(document.images).map(i => ({src: i.getAttribute('src'),"
            " complete: i.complete, naturalWidth: i.naturalWidth}))",
            "returnByValue": True,
        },
        session=session,
    )["result"]["value"]
    result.low_sample_notes = browser.send(
        "Runtime.evaluate",
        {"expression": "document.querySelectorAll('.low-sample-note').length"},
        session=session,
    )["result"]["value"]
    if screenshot:
        height = browser.send("Page.getLayoutMetrics", session=session)["cssContentSize"]["height"]
        browser.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1200, "height": int(height), "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        shot = browser.send("Page.captureScreenshot", {"format": "png"}, session=session)
        import base64

        screenshot.write_bytes(base64.b64decode(shot["data"]))
        result.screenshot = screenshot
    browser.drain(0.5)  # late console messages
    for event in browser.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            result.errors.append(
                "console: " + " ".join(str(a.get("value", a)) for a in params.get("args", []))
            )
        elif method == "Runtime.exceptionThrown":
            result.errors.append("exception: " + params["exceptionDetails"].get("text", ""))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            result.errors.append(f"log: {params['entry'].get('text')} {params['entry'].get('url')}")
        elif method == "Network.loadingFailed":
            result.errors.append(f"network: {params.get('errorText')}")
        elif method == "Network.requestWillBeSent":
            result.requests.append(params["request"]["url"])
    browser.send("Target.closeTarget", {"targetId": target})
    return result


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevTools]:
    if not HAS_CHROMIUM:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as client:
        yield client


@needs_chromium
def test_report_in_headless_chromium(report_marts: Path, tmp_path: Path, browser) -> None:
    report = render_report(report_marts, tmp_path / "reports")
    assert report.sections == ALL_SECTIONS, report.skipped
    screenshot = tmp_path / "report.png"
    with serve(report.index.parent) as base:
        page = load_page(browser, f"{base}/index.html", screenshot)
    assert page.errors == []
    assert len(page.images) == len(report.images) >= 6
    for image in page.images:
        assert image["complete"] and image["naturalWidth"] > 0, image
    assert page.low_sample_notes == report.low_sample_notes > 0
    # offline: every request stays on the local server
    assert page.requests and all(u.startswith(base) for u in page.requests), page.requests
    assert screenshot.read_bytes().startswith(b"\x89PNG") and screenshot.stat().st_size > 20_000
    print(f"screenshot: {screenshot}")


@needs_chromium
def test_browser_check_catches_broken_pages(tmp_path: Path, browser) -> None:
    """The harness must be able to fail: a missing image and a console error are both seen."""
    (tmp_path / "index.html").write_text(
        '<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body>'
        '<img src="missing.png"><script>console.error("boom")</script></body></html>'
    )
    with serve(tmp_path) as base:
        page = load_page(browser, f"{base}/index.html")
    assert any("boom" in e for e in page.errors), page.errors
    assert any("404" in e or "missing.png" in e for e in page.errors), page.errors
    assert page.images == [{"src": "missing.png", "complete": True, "naturalWidth": 0}]
