"""Validation results kept in a file-backed GX project, and the static Data Docs site."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from orchestration.quality.data_docs import strip_external_resources
from orchestration.quality.gx_engine import DEFAULT_EXPECTATIONS_DIR, Validator, build_data_docs
from orchestration.quality.runtime import data_docs_index

ALL_SUITES = sorted(p.stem for p in DEFAULT_EXPECTATIONS_DIR.glob("*.json"))


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> tuple[Path, Path]:
    """Two runs of validations in one GX project, then the site; yields (project, index)."""
    project = tmp_path_factory.mktemp("gx_project")
    earlier = datetime(2025, 5, 1, tzinfo=UTC)
    daily = pd.DataFrame({"responses": [2], "promoters": [1], "passives": [0], "detractors": [1]})
    for offset, responses in ((0, 2), (1, 0)):
        validator = Validator(project_dir=project, run_time=earlier + timedelta(days=offset))
        validator.validate(
            "nps_daily", daily.assign(responses=[responses]), batch="marts.nps_daily"
        )
        validator.validate(
            "branches",
            pd.DataFrame(
                {"branch_id": ["B"], "district": ["D"], "region": ["R"], "country": [None]}
            ),
            batch="reference/branches.csv",
        )
    return project, build_data_docs(project)


def test_results_are_kept_as_json_under_the_project(site):
    project, _ = site
    results = sorted((project / "gx" / "uncommitted" / "validations" / "nps_daily").rglob("*.json"))
    assert len(results) == 2
    newest = json.loads(results[-1].read_text())
    assert newest["success"] is False  # responses 0 on the second run


def test_index_lists_every_suite_and_the_latest_results(site):
    project, index = site
    assert index == data_docs_index(project)
    page = index.read_text(encoding="utf-8")
    for suite in ALL_SUITES:
        assert f"id='{suite}'" in page, suite
        assert (index.parent / "expectations" / f"{suite}.html").is_file(), suite
    assert "responses_positive" in page  # the failed expectation of the newest nps_daily run
    assert "reference~branches.csv" in page  # batches are named after what was validated
    links = re.findall(r"href='(validations/[^']+)'", page)
    assert links and all((index.parent / link).is_file() for link in links)


def test_pages_work_offline(site):
    _, index = site
    for page in index.parent.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"<(script|link)\b[^>]*(src|href)=[\"']?(https?:)?//", text), page


def test_suite_pages_render_parameterised_thresholds(site):
    _, index = site
    page = (index.parent / "expectations" / "raw_nps_responses.html").read_text(encoding="utf-8")
    assert "score_value" in page and "95" in page  # mostly from meta.score_mostly.default


def _result_pages(project: Path) -> dict[str, Path]:
    """The site's validation result pages by run time (one batch per run here)."""
    site = project / "gx" / "uncommitted" / "data_docs" / "local_site" / "validations"
    return {page.parent.name: page for page in site.rglob("*.html")}


def test_only_the_newest_runs_are_kept(tmp_path):
    frame = pd.DataFrame({"responses": [1], "promoters": [1], "passives": [0], "detractors": [0]})
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for day in range(3):
        validator = Validator(project_dir=tmp_path, run_time=start + timedelta(days=day))
        validator.validate("nps_daily", frame, batch="marts.nps_daily")
        build_data_docs(tmp_path, keep_runs=2)
    kept = sorted((tmp_path / "gx" / "uncommitted" / "validations").rglob("*.json"))
    assert len(kept) == 2
    assert "20250101" not in " ".join(str(p) for p in kept)
    # the dropped run's page goes with its result
    assert sorted(run[:8] for run in _result_pages(tmp_path)) == ["20250102", "20250103"]


def test_a_results_page_is_rendered_once(tmp_path):
    """A rebuild renders the new results' pages and keeps the others as they are; a page that
    went missing is rendered again."""
    frame = pd.DataFrame({"responses": [1], "promoters": [1], "passives": [0], "detractors": [0]})
    start = datetime(2025, 1, 1, tzinfo=UTC)
    Validator(project_dir=tmp_path, run_time=start).validate(
        "nps_daily", frame, batch="marts.nps_daily"
    )
    build_data_docs(tmp_path)
    (first,) = _result_pages(tmp_path).values()
    first.write_text("rendered before", encoding="utf-8")
    Validator(project_dir=tmp_path, run_time=start + timedelta(days=1)).validate(
        "nps_daily", frame.assign(responses=[0]), batch="marts.nps_daily"
    )
    index = build_data_docs(tmp_path)
    pages = _result_pages(tmp_path)
    assert len(pages) == 2
    assert first.read_text(encoding="utf-8") == "rendered before"
    (second,) = (page for page in pages.values() if page != first)
    assert "expect_column_values_to_be_between" in second.read_text(encoding="utf-8")
    assert second.relative_to(index.parent).as_posix() in index.read_text(encoding="utf-8")
    first.unlink()
    build_data_docs(tmp_path)
    assert "rendered before" not in first.read_text(encoding="utf-8")


def test_strip_external_resources():
    page = (
        "<html><head><link rel='stylesheet' href='https://cdn.example/x.css'>"
        '<script src="//cdn.example/x.js"></script><link href="local.css"></head></html>'
    )
    stripped = strip_external_resources(page)
    assert "cdn.example" not in stripped
    assert 'href="local.css"' in stripped and "<style>" in stripped
