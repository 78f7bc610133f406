"""Data Docs are rebuilt at the end of runs launched outside the command line (Dagster UI,
schedules, sensors): real runs of the code location's job in a real instance, then the run
status sensors evaluated in-process as the daemon would (cursor first, then the new runs)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from orchestration.definitions import PIPELINE_JOB, defs
from orchestration.quality.data_docs_sensor import SENSOR_NAMES, data_docs_sensors
from orchestration.quality.gx_engine import DEFAULT_EXPECTATIONS_DIR
from orchestration.quality.runtime import data_docs_index
from orchestration.settings import LANDING_ENV, WAREHOUSE_ENV
from tests.conftest import build_fixture_landing

SUITES = sorted(p.stem for p in DEFAULT_EXPECTATIONS_DIR.glob("*.json"))
RAW_ASSETS = [dg.AssetKey(["raw", "nps_responses"]), dg.AssetKey(["raw", "enps_responses"])]


def sensor(status: dg.DagsterRunStatus) -> dg.RunStatusSensorDefinition:
    (found,) = [s for s in data_docs_sensors if s.name == SENSOR_NAMES[status]]
    return found


def evaluate(status: dg.DagsterRunStatus, instance: dg.DagsterInstance, cursor: str | None):
    """One tick of a run status sensor, as the daemon evaluates it: (cursor, runs it handled)."""
    result = sensor(status).evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor))
    for reaction in result.dagster_run_reactions or []:
        assert reaction.error is None, reaction.error
    return result.cursor, [r.dagster_run.run_id for r in result.dagster_run_reactions or []]


def run_raw_load(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    """A real run of the pipeline job's raw load assets (loader + GX raw suites)."""
    job = defs.resolve_job_def(PIPELINE_JOB)
    return job.execute_in_process(
        instance=instance, asset_selection=RAW_ASSETS, raise_on_error=False
    )


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    landing = build_fixture_landing(tmp_path / "landing")
    monkeypatch.setenv(LANDING_ENV, str(landing))
    monkeypatch.setenv(WAREHOUSE_ENV, str(tmp_path / "warehouse.duckdb"))
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        yield instance


def test_sensors_are_registered_and_start_running() -> None:
    registered = {s.name: s for s in defs.sensors}
    for status, name in SENSOR_NAMES.items():
        assert registered[name].default_status == dg.DefaultSensorStatus.RUNNING, status


@pytest.mark.timeout(600)
def test_site_is_rebuilt_after_a_successful_and_after_a_failed_run(
    instance, tmp_path, monkeypatch
) -> None:
    success, failure = dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE
    start_cursor, handled = evaluate(success, instance, None)  # the daemon's first tick
    failure_cursor, _ = evaluate(failure, instance, None)
    assert handled == []
    index = data_docs_index(Path(instance.root_directory))
    assert not index.exists()

    ok = run_raw_load(instance)
    assert ok.success
    _, handled = evaluate(success, instance, start_cursor)
    assert handled == [ok.run_id]
    page = index.read_text(encoding="utf-8")
    for suite in SUITES:
        assert f"id='{suite}'" in page, suite
    # the batches this run validated are one click away
    assert "enps~2025-Q2~pulse.jsonl" in page and "nps~daily~store_2025-03-01.csv" in page
    failure_cursor, handled = evaluate(failure, instance, failure_cursor)
    assert handled == []  # a successful run is not the failure sensor's

    # a run that ended before the last rebuild is not rendered again
    built = index.stat().st_mtime_ns
    _, handled = evaluate(success, instance, start_cursor)
    assert handled == [ok.run_id]
    assert index.stat().st_mtime_ns == built

    monkeypatch.setenv(WAREHOUSE_ENV, str(tmp_path))  # a directory: the load step fails
    failed = run_raw_load(instance)
    assert not failed.success
    index.unlink()
    _, handled = evaluate(failure, instance, failure_cursor)
    assert handled == [failed.run_id]
    page = index.read_text(encoding="utf-8")
    for suite in SUITES:
        assert f"id='{suite}'" in page, suite
