"""Scheduled operation without dbt: the landing sensor, the daily schedule, the alert sink, the
writer lock and the run queue (issue 6). Real DuckDB files, a real Dagster instance."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.alerts import RunFailureAlert, StepFailure, send_alert
from orchestration.definitions import defs
from orchestration.landing.feeds import NPS_RESPONSES
from orchestration.landing.loader import load_feed
from orchestration.locking import WarehouseLockTimeout, warehouse_lock
from orchestration.partitions import (
    RANGE_END_TAG,
    RANGE_START_TAG,
    DayRange,
    file_day_range,
    partition_key_range,
)
from orchestration.pipeline import ensure_dagster_home
from orchestration.schedules import daily_pipeline_schedule
from orchestration.sensors import landing_files_sensor
from tests.conftest import REPO

HEADER = "response_id,survey_id,submitted_at,score\n"


def write(path: Path, rows: list[tuple[str, str]], mtime: float | None = None) -> Path:
    """rows: (response_id, submitted_at); files are dated in the past unless told otherwise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "".join(f"{r},SRV-STORE,{t},9\n" for r, t in rows))
    stamp = mtime if mtime is not None else time.time() - 3600
    os.utime(path, (stamp, stamp))
    return path


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    paths = {
        "landing": tmp_path / "landing",
        "warehouse": tmp_path / "warehouse.duckdb",
        "home": tmp_path / "dagster_home",
    }
    paths["landing"].mkdir()
    monkeypatch.setenv("NPS_LANDING_DIR", str(paths["landing"]))
    monkeypatch.setenv("NPS_WAREHOUSE", str(paths["warehouse"]))
    monkeypatch.setenv("DAGSTER_HOME", str(paths["home"]))
    monkeypatch.delenv("NPS_ALERT_LOG", raising=False)
    monkeypatch.delenv("NPS_ALERT_WEBHOOK_URL", raising=False)
    return paths


def evaluate_sensor(instance: dg.DagsterInstance, cursor: str | None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs)
    return landing_files_sensor(context)


def load_into_warehouse(env: dict[str, Path]) -> None:
    with duckdb.connect(str(env["warehouse"])) as conn:
        load_feed(conn, env["landing"], NPS_RESPONSES, load_id="test-load")


def test_sensor_requests_exactly_the_new_and_changed_files(env: dict[str, Path]) -> None:
    nps = env["landing"] / "nps"
    write(nps / "a.csv", [("A1", "2025-03-01T10:00:00Z"), ("A2", "2025-03-02T23:30:00Z")])
    write(nps / "b.csv", [("B1", "2025-03-05T08:00:00+02:00")])
    with dg.DagsterInstance.ephemeral() as instance:
        first = evaluate_sensor(instance, None)
        assert isinstance(first, dg.SensorResult)
        [request] = first.run_requests
        assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == (
            "2025-03-01",
            "2025-03-05",
        )
        # the same files again: already requested, nothing to launch
        again = evaluate_sensor(instance, first.cursor)
        assert isinstance(again, dg.SkipReason)

        # the run loads them (the manifest now knows them); a late file arrives
        load_into_warehouse(env)
        write(nps / "late" / "c.csv", [("C1", "2025-01-15T12:00:00Z")])
        late = evaluate_sensor(instance, first.cursor)
        [request] = late.run_requests
        assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == (
            "2025-01-15",
            "2025-01-15",
        )
        load_into_warehouse(env)

        # a changed file: the days of its old rows (03-01, 03-02) and of its new ones (03-10)
        write(nps / "a.csv", [("A1", "2025-03-10T10:00:00Z")])
        changed = evaluate_sensor(instance, late.cursor)
        [request] = changed.run_requests
        assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == (
            "2025-03-01",
            "2025-03-10",
        )
        assert request.run_key != late.run_requests[0].run_key


def test_sensor_waits_for_a_file_still_being_written_and_a_busy_warehouse(
    env: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NPS_LANDING_SETTLE_SECONDS", "60")
    write(env["landing"] / "nps" / "new.csv", [("N1", "2025-03-01T10:00:00Z")], time.time())
    with dg.DagsterInstance.ephemeral() as instance:
        assert isinstance(evaluate_sensor(instance, None), dg.SkipReason)
        monkeypatch.setenv("NPS_LANDING_SETTLE_SECONDS", "0")
        load_into_warehouse(env)
        write(env["landing"] / "nps" / "other.csv", [("N2", "2025-03-02T10:00:00Z")])
        # another process writes the warehouse: skip the tick, do not crash
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                "print('held', flush=True); time.sleep(60)",
                str(env["warehouse"]),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout.readline().strip() == "held"
            busy = evaluate_sensor(instance, None)
            assert isinstance(busy, dg.SkipReason)
            assert "writing the warehouse" in busy.skip_message
        finally:
            holder.kill()
            holder.wait()
        assert isinstance(evaluate_sensor(instance, None), dg.SensorResult)


def test_file_days_follow_the_time_zone(tmp_path: Path) -> None:
    path = write(tmp_path / "nps" / "tz.csv", [("T1", "2025-03-01T23:30:00Z"), ("T2", "bad")])
    assert file_day_range(path, "nps/tz.csv", "UTC") == DayRange(date(2025, 3, 1), date(2025, 3, 1))
    assert file_day_range(path, "nps/tz.csv", "Europe/Amsterdam") == DayRange(
        date(2025, 3, 2), date(2025, 3, 2)
    )
    # days before the first partition or after today are clamped to the partitions that exist
    clamped = partition_key_range(DayRange(date(1999, 1, 1), date(2999, 1, 1)))
    assert clamped.start == "2020-01-01"
    assert clamped.end == datetime.now(UTC).date().isoformat()


def test_daily_schedule_runs_the_lookback_days_up_to_yesterday(env: dict[str, Path]) -> None:
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2025, 3, 10, 6, 0, tzinfo=UTC)
    )
    request = daily_pipeline_schedule(context)
    assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == (
        "2025-03-07",
        "2025-03-09",
    )
    assert daily_pipeline_schedule.cron_schedule == "0 6 * * *"
    assert daily_pipeline_schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert landing_files_sensor.default_status == dg.DefaultSensorStatus.RUNNING


class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["content-length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_alert_goes_to_the_log_and_the_webhook_and_a_dead_webhook_is_harmless(
    env: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    alert = RunFailureAlert(
        "run-1", "nps_pipeline", [StepFailure("raw__nps_responses", "boom")], "failed", "cli"
    )
    try:
        monkeypatch.setenv("NPS_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/")
        delivery = send_alert(alert)
        assert delivery.webhook_status == 204
        assert _Hook.received[-1]["failed_steps"] == [
            {"step": "raw__nps_responses", "error": "boom"}
        ]
    finally:
        server.shutdown()
    # the port is closed now: the alert is still logged and nothing raises
    delivery = send_alert(alert)
    assert delivery.webhook_error
    lines = (env["home"] / "alerts.jsonl").read_text().splitlines()
    assert len(lines) == 2
    assert "raw__nps_responses: boom" in json.loads(lines[0])["text"]
    monkeypatch.setenv("NPS_ALERT_LOG", str(env["home"] / "elsewhere.jsonl"))
    send_alert(alert)
    assert (env["home"] / "elsewhere.jsonl").exists()


def test_writer_lock_serialises_processes(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; "
            "from orchestration.locking import warehouse_lock\n"
            "with warehouse_lock(Path(sys.argv[1])):\n"
            "    print('held', flush=True); time.sleep(3)\n"
            "print('released', flush=True)\n",
            str(warehouse),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(WarehouseLockTimeout):
            with warehouse_lock(warehouse, timeout=0.5):
                pass
        started = time.monotonic()
        with warehouse_lock(warehouse, timeout=60):
            # re-entrant in one process (the CLI holds it around the run, the run's resource too)
            with warehouse_lock(warehouse, timeout=0):
                # the holder had finished its work before we got in
                assert holder.stdout.readline().strip() == "released"
        assert time.monotonic() - started > 1
    finally:
        holder.kill()
        holder.wait()


def test_dagster_home_queues_warehouse_writers(env: dict[str, Path]) -> None:
    home = ensure_dagster_home()
    assert home == env["home"].resolve()
    with dg.DagsterInstance.get() as instance:
        config = instance.run_coordinator.inst_data.config_dict
        assert config["max_concurrent_runs"] == 1
        assert {"key": "nps/warehouse_writer", "limit": 1} in config["tag_concurrency_limits"]
    job = defs.resolve_job_def("nps_pipeline")
    assert job.tags.get("nps/warehouse_writer")
