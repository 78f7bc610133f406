"""Several simulated days of scheduled operation, run in-process through the real definitions:
the landing sensor decides each run (a late file, a changed file), the marts then equal a full
refresh and a backfill of the whole range; a failing run raises its alert (issue 6)."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pytest

# through the definitions, which parse the dbt project first when it has no manifest yet
from orchestration.definitions import NPS_DBT_ASSETS, PIPELINE_JOB, defs
from orchestration.partitions import RANGE_END_TAG, RANGE_START_TAG
from orchestration.pipeline import ensure_dagster_home
from orchestration.project import nps_dbt_project
from orchestration.sensors import FAILURE_SENSOR, landing_files_sensor, run_failure_alerts

RAW = dg.AssetKey(["raw", "nps_responses"])
FACT = dg.AssetKey(["marts", "fct_nps_responses"])
COMPARED_MARTS = ("fct_nps_responses", "nps_daily", "nps_rolling")
# the incremental models between the facts and nps_rolling (_processed_at: when, not what)
COMPARED_INTERMEDIATES = (
    "int_nps_responses_aggregated",
    "int_nps_segment_days_rolled_up",
    "int_nps_responses_sequenced",
    "int_nps_latest_changes_rolled_up",
)
HEADER = "response_id,survey_id,respondent_id,submitted_at,score,branch_id\n"


def write(path: Path, rows: list[tuple[str, str, int]], fresh: bool = False) -> None:
    """rows: (response_id, submitted_at, score). Files are dated an hour ago unless `fresh`
    (just written: the loader waits for it to settle)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "".join(f"{r},SRV-STORE,C-{r},{t},{s},BR-0001\n" for r, t, s in rows))
    if not fresh:
        stamp = time.time() - 3600
        os.utime(path, (stamp, stamp))


@dataclass
class Scenario:
    root: Path
    landing: Path
    warehouse: Path
    instance: dg.DagsterInstance
    selection: list[dg.AssetKey]
    requests: list[dg.RunRequest]
    results: list[dg.ExecuteInProcessResult]
    incremental: dict[str, list[tuple]]
    full_refresh: dict[str, list[tuple]]
    backfill: dict[str, list[tuple]]
    failure: dg.ExecuteInProcessResult
    full_refresh_run: dg.ExecuteInProcessResult
    backfill_run: dg.ExecuteInProcessResult


def marts(warehouse: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        compared = {
            name: conn.execute(f"select * from marts.{name} order by all").fetchall()
            for name in COMPARED_MARTS
        }
        for name in COMPARED_INTERMEDIATES:
            compared[name] = conn.execute(
                "select columns(lambda c: c <> '_processed_at') "
                f"from intermediate.{name} order by all"
            ).fetchall()
        return compared


def selection() -> list[dg.AssetKey]:
    """The response path only (raw -> facts -> rolling marts): the other marts are not
    partitioned and cost run time here."""
    graph = defs.resolve_asset_graph()
    wanted = dg.AssetSelection.assets(
        *(dg.AssetKey(["marts", name]) for name in COMPARED_MARTS)
    ).upstream()
    return [k for k in wanted.resolve(graph) if graph.get(k).is_materializable]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    root = tmp_path_factory.mktemp("operations")
    landing, warehouse = root / "landing", root / "warehouse.duckdb"
    (landing / "nps").mkdir(parents=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(root / "dagster_home"))
        mp.setenv("NPS_LANDING_DIR", str(landing))
        mp.setenv("NPS_WAREHOUSE", str(warehouse))
        mp.setenv("NPS_LANDING_SETTLE_SECONDS", "0")
        mp.delenv("NPS_ALERT_WEBHOOK_URL", raising=False)
        mp.delenv("NPS_ALERT_LOG", raising=False)
        ensure_dagster_home()
        job = defs.resolve_job_def(PIPELINE_JOB)
        keys = selection()
        requests, results = [], []
        with dg.DagsterInstance.get() as instance:
            cursor = None

            def sensor_run(still_written: Path | None = None) -> None:
                nonlocal cursor
                run_id = str(uuid.uuid4())
                tick = landing_files_sensor(
                    dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs)
                )
                assert isinstance(tick, dg.SensorResult), tick
                cursor = tick.cursor
                [request] = tick.run_requests
                requests.append(request)
                writer = None
                if still_written:
                    # the exporter still writes the file as the run starts, until the load has
                    # failed once on it
                    mp.setenv("NPS_LANDING_SETTLE_SECONDS", "1")
                    writer = threading.Thread(
                        target=keep_touching, args=(still_written, instance, run_id)
                    )
                    writer.start()
                results.append(
                    job.execute_in_process(
                        instance=instance,
                        asset_selection=keys,
                        tags=request.tags,
                        raise_on_error=False,
                        run_id=run_id,
                    )
                )
                if writer:
                    writer.join()
                mp.setenv("NPS_LANDING_SETTLE_SECONDS", "0")

            # day 1: two daily files
            daily = landing / "nps" / "daily"
            write(
                daily / "2025-03-01.csv",
                [
                    ("R001", "2025-03-01T09:00:00Z", 10),
                    ("R002", "2025-03-01T10:00:00Z", 3),
                    ("R003", "2025-03-01T11:00:00Z", 8),
                    ("R004", "2025-03-01T12:00:00Z", 9),
                ],
            )
            write(
                daily / "2025-03-02.csv",
                [("R010", "2025-03-02T09:00:00Z", 6), ("R011", "2025-03-02T10:00:00Z", 10)],
            )
            sensor_run()

            # day 2: the next daily file (with R001 sent again: a duplicate) and a late export
            # of February, still being written when the run starts: the load retries
            write(
                daily / "2025-03-03.csv",
                [("R020", "2025-03-03T09:00:00Z", 9), ("R001", "2025-03-03T10:00:00Z", 2)],
            )
            late = landing / "nps" / "late" / "2025-02.csv"
            write(
                late,
                [("R030", "2025-02-20T09:00:00Z", 0), ("R031", "2025-02-21T23:59:00Z", 10)],
            )
            sensor_run(still_written=late)

            # day 3: the first file changes: R001 is gone (its resend on 03-03 becomes the
            # accepted one), R002 changes its score, R004 moves to 03-04
            write(
                daily / "2025-03-01.csv",
                [
                    ("R002", "2025-03-01T10:00:00Z", 7),
                    ("R003", "2025-03-01T11:00:00Z", 8),
                    ("R004", "2025-03-04T12:00:00Z", 9),
                ],
            )
            sensor_run()
            incremental = marts(warehouse)

            # a full refresh of the same warehouse, then a backfill of every day
            full = job.execute_in_process(
                instance=instance,
                asset_selection=keys,
                raise_on_error=False,
                tags={RANGE_START_TAG: "2025-03-04", RANGE_END_TAG: "2025-03-04"},
                run_config={
                    "ops": {
                        assets.op.name: {"config": {"full_refresh": True}}
                        for assets in NPS_DBT_ASSETS
                    }
                },
            )
            assert full.success
            full_refresh = marts(warehouse)
            backfill_run = job.execute_in_process(
                instance=instance,
                asset_selection=keys,
                raise_on_error=False,
                tags={RANGE_START_TAG: "2025-02-20", RANGE_END_TAG: "2025-03-04"},
            )
            assert backfill_run.success
            backfill = marts(warehouse)

            # a run that fails: a file that never settles (4 retries with backoff, ~30 s)
            write(landing / "nps" / "daily" / "2025-03-05.csv", [("R040", "2025-03-05", 9)], True)
            mp.setenv("NPS_LANDING_SETTLE_SECONDS", "3600")
            failure = job.execute_in_process(
                instance=instance,
                asset_selection=[RAW],
                raise_on_error=False,
                tags={RANGE_START_TAG: "2025-03-05", RANGE_END_TAG: "2025-03-05"},
            )
            yield Scenario(
                root,
                landing,
                warehouse,
                instance,
                keys,
                requests,
                results,
                incremental,
                full_refresh,
                backfill,
                failure,
                full,
                backfill_run,
            )


def keep_touching(path: Path, instance: dg.DagsterInstance, run_id: str) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        os.utime(path)
        retried = instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY
        ).records
        if retried:
            return
        time.sleep(0.2)


def ranges(scenario: Scenario) -> list[tuple[str, str]]:
    return [(r.tags[RANGE_START_TAG], r.tags[RANGE_END_TAG]) for r in scenario.requests]


def test_each_day_runs_exactly_the_days_its_files_touch(scenario: Scenario) -> None:
    assert all(r.success for r in scenario.results)
    assert ranges(scenario) == [
        ("2025-03-01", "2025-03-02"),
        ("2025-02-20", "2025-03-03"),
        # the changed file's old days, its new day (03-04) and the day of R001's resend
        ("2025-03-01", "2025-03-04"),
    ]
    materialized = scenario.instance.get_materialized_partitions(FACT)
    assert {"2025-02-20", "2025-03-01", "2025-03-04"} <= materialized
    assert "2025-03-05" not in materialized


def test_a_run_over_many_days_plans_each_asset_once(scenario: Scenario) -> None:
    # day 2's run covers 12 days: one planned event per asset carrying the range, not one per
    # asset and day (a year of files wrote ~3,700 of them, minutes before the first step)
    run = scenario.results[1]
    planned = scenario.instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED, limit=10_000
    ).records
    keys = [record.event_log_entry.dagster_event.asset_key for record in planned]
    assert RAW in keys and FACT in keys
    assert len(keys) == len(set(keys))
    assert set(keys) <= set(scenario.selection)


def test_only_the_day_grained_assets_record_one_materialization_per_day(
    scenario: Scenario,
) -> None:
    # day 2's run covers 12 days: the facts record each of them; the raw load and the models
    # the facts are built from (no day grain) one materialization, not one per day
    run = scenario.results[1]
    materialized = Counter(
        record.event_log_entry.dagster_event.asset_key
        for record in scenario.instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION, limit=10_000
        ).records
    )
    days = 12
    assert materialized[FACT] == materialized[dg.AssetKey(["marts", "nps_daily"])] == days
    validated = dg.AssetKey(["intermediate", "int_nps_responses_validated"])
    staging = dg.AssetKey(["staging", "stg_survey__nps_responses"])
    assert materialized[RAW] == materialized[validated] == materialized[staging] == 1
    assert sum(materialized.values()) == 2 * days + len(materialized) - 2


def dbt_logs(run_id: str) -> dict[str, str]:
    """The dbt log of each dbt invocation of a run (each has its own target folder)."""
    target = Path(nps_dbt_project.project_dir) / nps_dbt_project.target_path
    return {
        path.parent.name: path.read_text()
        for path in sorted(target.glob(f"nps_dbt_*-{run_id[:7]}-*/dbt.log"))
    }


def test_dbt_parses_the_project_again_only_when_it_changed(scenario: Scenario) -> None:
    # every run passes another partition range; the first invocation may re-parse (this test
    # session parsed with another warehouse path), every later one starts from that parse
    later_runs = [*scenario.results[1:], scenario.full_refresh_run, scenario.backfill_run]
    for run in later_runs:
        logs = dbt_logs(run.run_id)
        assert len(logs) == len(NPS_DBT_ASSETS), logs.keys()
        for invocation, text in logs.items():
            assert "Unable to do partial parsing" not in text, invocation
            assert "Partial parsing enabled" in text, invocation
    # ... while the range still reached dbt: the backfill rebuilt its days (equal marts above)
    backfill_logs = "".join(dbt_logs(scenario.backfill_run.run_id).values())
    assert "2025-02-20" in backfill_logs


def test_incremental_days_equal_a_full_refresh_and_a_backfill(scenario: Scenario) -> None:
    facts = {row[0]: row for row in scenario.incremental["fct_nps_responses"]}
    assert sorted(facts) == ["R001", "R002", "R003", "R004", "R010", "R011", "R020", "R030", "R031"]
    assert scenario.incremental == scenario.full_refresh
    assert scenario.backfill == scenario.full_refresh


def test_late_file_was_retried_until_it_settled(scenario: Scenario) -> None:
    day2 = scenario.results[1]
    retries = [
        e
        for e in day2.all_events
        if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY
        and e.step_key == "raw__nps_responses"
    ]
    assert retries, "the file written a moment ago should have been retried"
    assert "still being written" in str(retries[0].event_specific_data.error)


def test_marts_carry_numeric_monitoring_metadata(scenario: Scenario) -> None:
    metadata = {}
    for event in scenario.results[-1].get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        metadata[materialization.asset_key.to_user_string()] = {
            k: v.value for k, v in materialization.metadata.items()
        }
    fact = metadata["marts/fct_nps_responses"]
    assert fact["dagster/row_count"] == 9
    for name in ("overall_nps", "rolling_30d_nps", "responses_latest_day"):
        assert isinstance(fact[name], int | float), name
    assert metadata["marts/nps_daily"]["dagster/row_count"] > 0
    assert "overall_nps" in metadata["marts/nps_rolling"]
    freshness = [
        c
        for c in scenario.results[-1].get_asset_check_evaluations()
        if c.check_name == "new_data_arrived"
    ]
    assert freshness and all(c.passed for c in freshness)


def test_failed_run_raises_an_alert_naming_the_step_and_file(scenario: Scenario) -> None:
    failure = scenario.failure
    assert not failure.success
    run = scenario.instance.get_run_by_id(failure.run_id)
    context = dg.build_run_status_sensor_context(
        sensor_name=FAILURE_SENSOR,
        dagster_event=failure.get_run_failure_event(),
        dagster_instance=scenario.instance,
        dagster_run=run,
    ).for_run_failure()
    run_failure_alerts(context)
    lines = (scenario.root / "dagster_home" / "alerts.jsonl").read_text().splitlines()
    alert = json.loads(lines[-1])
    assert alert["run_id"] == failure.run_id
    assert alert["failed_steps"][0]["step"] == "raw__nps_responses"
    assert "nps/daily/2025-03-05.csv" in alert["failed_steps"][0]["error"]
    assert "still being written" in alert["text"]
