"""Demo follow-up events and action items: reproducible, consistent with the survey demo data,
and loadable by the real loader (no pipeline run: the marts are covered on the fixtures)."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from orchestration.demo_data import write_demo_data
from orchestration.demo_feedback import write_demo_feedback
from orchestration.landing.feeds import ACTION_ITEMS, FOLLOWUP_EVENTS
from orchestration.landing.loader import load_feed

END = date(2026, 6, 30)
SEEDS = Path(__file__).resolve().parent.parent / "seeds"


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    landing = tmp_path_factory.mktemp("voice_demo") / "landing"
    write_demo_data(landing, responses=2000, seed=3, end_date=END)
    write_demo_feedback(landing, seed=3, end_date=END)
    return landing


def read_csvs(folder: Path) -> list[dict[str, str]]:
    rows = []
    for path in sorted(folder.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            rows += list(csv.DictReader(handle))
    return rows


def test_same_seed_same_bytes(landing: Path, tmp_path: Path) -> None:
    again = tmp_path / "landing"
    write_demo_data(again, responses=2000, seed=3, end_date=END)
    summary = write_demo_feedback(again, seed=3, end_date=END)
    assert summary.followup_events > 0 and summary.action_items > 0
    for name in summary.files:
        assert (again / name).read_bytes() == (landing / name).read_bytes(), name


def test_followups_are_about_consenting_detractors_and_in_order(landing: Path) -> None:
    events = read_csvs(landing / "followups")
    assert {e["event"] for e in events} == {"contacted", "resolved"}
    with duckdb.connect() as conn:
        from orchestration.demo_feedback import DETRACTOR_SQL
        from orchestration.landing.feeds import NPS_RESPONSES

        load_feed(conn, landing, NPS_RESPONSES, load_id="check")
        detractors = {r[0]: r[1] for r in conn.execute(DETRACTOR_SQL).fetchall()}
    cutoff = datetime(END.year, END.month, END.day, 23, 59, tzinfo=UTC)
    contacted: dict[str, datetime] = {}
    for event in events:
        at = datetime.fromisoformat(event["event_at"])
        assert event["response_id"] in detractors
        assert detractors[event["response_id"]] < at <= cutoff
        if event["event"] == "contacted":
            contacted[event["response_id"]] = at
    for event in events:
        if event["event"] == "resolved":
            assert contacted[event["response_id"]] <= datetime.fromisoformat(event["event_at"])
    # most are called back within two days, some later, some not at all
    delays = [at - detractors[r] for r, at in contacted.items()]
    within = sum(d <= timedelta(hours=48) for d in delays)
    assert 0.4 * len(detractors) < within < len(detractors)
    assert any(d > timedelta(hours=48) for d in delays)


def test_action_items_are_valid_and_load(landing: Path) -> None:
    items = read_csvs(landing / "action_plans")
    branches = {r["branch_id"] for r in csv.DictReader((SEEDS / "branches.csv").open())}
    themes = {r["theme"] for r in csv.DictReader((SEEDS / "themes.csv").open())}
    assert len({i["action_id"] for i in items}) == len(items)
    assert {i["status"] for i in items} == {"open", "in_progress", "done", "cancelled"}
    for item in items:
        assert (item["branch_id"] in branches) != bool(item["department"])
        assert item["theme"] in themes
        assert bool(item["done_at"]) == (item["status"] == "done")
        if item["done_at"]:
            assert item["created_at"] <= item["done_at"][:10] <= END.isoformat()
    with duckdb.connect() as conn:
        for feed in (FOLLOWUP_EVENTS, ACTION_ITEMS):
            report = load_feed(conn, landing, feed, load_id="check")
            assert report.written and not report.failed
