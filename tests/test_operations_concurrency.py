"""Two overlapping runs never write the warehouse at once (issue 6): a run in another process
holds the writer lock, a run started meanwhile waits for it, both succeed."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from orchestration.definitions import PIPELINE_JOB, defs
from orchestration.locking import lock_path
from orchestration.partitions import RANGE_END_TAG, RANGE_START_TAG
from orchestration.pipeline import ensure_dagster_home
from tests.conftest import REPO

RAW = dg.AssetKey(["raw", "nps_responses"])
TAGS = {RANGE_START_TAG: "2025-03-01", RANGE_END_TAG: "2025-03-02"}
OTHER_RUN = f"""
import dagster as dg
from orchestration.definitions import defs
job = defs.resolve_job_def({PIPELINE_JOB!r})
with dg.DagsterInstance.get() as instance:
    result = job.execute_in_process(
        instance=instance, asset_selection=[dg.AssetKey(["raw", "nps_responses"])],
        tags={TAGS!r}, raise_on_error=False,
    )
print("RUN", result.run_id, result.success, flush=True)
"""


def lock_is_held(path: Path) -> bool:
    if not path.exists():
        return False
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def event_time(instance: dg.DagsterInstance, run_id: str, kind: dg.DagsterEventType) -> float:
    records = instance.get_records_for_run(run_id, of_type=kind).records
    return records[0].event_log_entry.timestamp


def step_failures(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """Why a run failed, for the assertion message (the other run's output is not shown)."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    return [
        f"{r.event_log_entry.step_key}: {r.event_log_entry.dagster_event.step_failure_data.error}"
        for r in records.records
    ]


@pytest.mark.timeout(600)
def test_overlapping_runs_are_serialised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "warehouse.duckdb"
    daily = landing / "nps" / "daily"
    daily.mkdir(parents=True)
    for day in ("2025-03-01", "2025-03-02"):
        path = daily / f"{day}.csv"
        path.write_text(
            "response_id,survey_id,submitted_at,score\n"
            + "".join(f"{day}-{i},SRV-STORE,{day}T10:00:00Z,{i % 11}\n" for i in range(60))
        )
        os.utime(path, (time.time() - 3600, time.time() - 3600))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv("NPS_LANDING_DIR", str(landing))
    monkeypatch.setenv("NPS_WAREHOUSE", str(warehouse))
    ensure_dagster_home()
    # a script file, not `python -c`: with pyspark installed, GX imports pyspark's connect
    # module, which takes a main module without a file for its doctest runner and exits
    script = tmp_path / "other_run.py"
    script.write_text(OTHER_RUN)
    other = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=REPO,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 300
        while not lock_is_held(lock_path(warehouse)):
            assert other.poll() is None, "the other run ended before taking the lock"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        # the other run writes: this one starts now and has to wait
        with dg.DagsterInstance.get() as instance:
            mine = defs.resolve_job_def(PIPELINE_JOB).execute_in_process(
                instance=instance, asset_selection=[RAW], tags=TAGS, raise_on_error=False
            )
            out, _ = other.communicate(timeout=300)
            other_run_id, other_success = out.split("RUN ")[-1].split()
            assert other_success == "True", step_failures(instance, other_run_id)
            assert mine.success
            other_done = event_time(instance, other_run_id, dg.DagsterEventType.STEP_SUCCESS)
            my_load = event_time(instance, mine.run_id, dg.DagsterEventType.STEP_START)
            assert my_load >= other_done
            # the other run loaded both files; this one found nothing left to load
            loaded = [
                m.event_specific_data.materialization.metadata["files_loaded"].value
                for m in mine.get_asset_materialization_events()
            ]
            assert set(loaded) == {0}
    finally:
        if other.poll() is None:
            other.kill()
            other.wait()
