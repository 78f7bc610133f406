"""The whole pipeline, run for real through the CLI (Dagster + dbt + Great Expectations)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.conftest import REPO, CliRun, run_cli

EXPECTED_FILES = {
    # source_file: (landed, accepted, quarantined, duplicates)
    "nps/app/2025-W09.jsonl": (3, 2, 1, 0),
    "nps/backfill/2025-02.parquet": (3, 3, 0, 0),
    "nps/daily/store_2025-03-01.csv": (15, 6, 8, 1),
    "nps/daily/store_2025-03-02.csv": (5, 4, 0, 1),
}
EXPECTED_REASONS = {
    "future_submitted_at": 1,
    "missing_response_id": 1,
    "missing_score": 1,
    "missing_submitted_at": 1,
    "missing_survey_id": 1,
    "score_not_integer": 1,
    "score_out_of_scale": 2,
    "unparseable_submitted_at": 1,
}


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def test_broken_file_fails_the_run_but_good_files_reach_the_marts(fixture_run: CliRun) -> None:
    assert fixture_run.returncode == 1, fixture_run.stdout + fixture_run.stderr
    assert "FAILED nps/broken/latin1.csv (line 3, column 38): undecodable bytes" in (
        fixture_run.stdout
    )
    assert "CHECK FAILED raw/nps_responses:landing_files_readable" in fixture_run.stdout
    assert fixture_run.stdout.rstrip().endswith("FAILED")
    assert query(fixture_run.warehouse, "select count(*) from marts.fct_nps_responses") == [(15,)]


def test_every_landed_row_is_accounted_for_per_file(fixture_run: CliRun) -> None:
    rows = query(
        fixture_run.warehouse,
        "select source_file, landed_rows, accepted_rows, quarantined_rows, duplicate_rows "
        "from marts.nps_load_reconciliation where file_status = 'loaded'",
    )
    assert {r[0]: r[1:] for r in rows} == EXPECTED_FILES
    failed = query(
        fixture_run.warehouse,
        "select source_file, landed_rows, file_error from marts.nps_load_reconciliation "
        "where file_status = 'failed'",
    )
    assert [f[:2] for f in failed] == [("nps/broken/latin1.csv", 0)]
    assert "line 3" in failed[0][2]


def test_quarantine_reasons_and_summary(fixture_run: CliRun) -> None:
    reasons = dict(
        query(
            fixture_run.warehouse,
            "select quarantine_reason, count(*) from marts.nps_quarantine group by 1",
        )
    )
    assert reasons == EXPECTED_REASONS
    out = fixture_run.stdout
    # every feed's files: nps 4 (26 rows), enps 3 (87), followups 1 (4), action_plans 2 (4)
    assert "Files loaded this run: 10 (121 rows)" in out
    assert "26 rows landed = 15 accepted + 9 quarantined + 2 duplicates" in out
    assert "quarantined score_out_of_scale: 2" in out
    nps = query(
        fixture_run.warehouse,
        "select round(100.0 * (count_if(score >= 9) - count_if(score <= 6)) / count(*), 1) "
        "from marts.fct_nps_responses",
    )[0][0]
    assert f"Overall NPS: {nps:+.1f}" in out
    assert f"Warehouse: {fixture_run.warehouse}" in out


def test_first_received_wins_and_categories(fixture_run: CliRun) -> None:
    accepted = dict(
        query(fixture_run.warehouse, "select response_id, score from marts.fct_nps_responses")
    )
    assert accepted["F0001"] == 10 and accepted["F0002"] == 9  # not the later resent 3
    assert accepted["F0006"] == 7  # "7.0"
    assert accepted["F0401"] == 8  # Parquet double 8.0
    assert query(
        fixture_run.warehouse,
        "select response_id, duplicate_of_source_file, duplicate_of_source_row "
        "from marts.nps_duplicates order by 1",
    ) == [
        ("F0001", "nps/daily/store_2025-03-01.csv", 1),
        ("F0002", "nps/daily/store_2025-03-01.csv", 2),
    ]
    unknown = query(
        fixture_run.warehouse,
        "select response_id, branch_id, district, region, is_registered_branch, "
        "is_registered_survey from marts.fct_nps_responses "
        "where response_id in ('F0102', 'F0103', 'F0104') order by 1",
    )
    assert unknown == [
        ("F0102", "BR-9999", "unknown", "unknown", False, True),
        (
            "F0103",
            "BR-0004",
            *query(
                fixture_run.warehouse,
                "select district, region from reference.branches where branch_id = 'BR-0004'",
            )[0],
            True,
            False,
        ),
        ("F0104", "unknown", "unknown", "unknown", False, True),
    ]
    # 23:30 at -02:00 is the next day in UTC
    assert query(
        fixture_run.warehouse,
        "select response_date::varchar from marts.fct_nps_responses where response_id = 'F0104'",
    ) == [("2025-03-03",)]


def test_marts_carry_no_email(fixture_run: CliRun) -> None:
    columns = query(
        fixture_run.warehouse,
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'marts' and column_name like '%email%'",
    )
    # the follow-up queue is the one mart allowed to name whom to call back
    assert {table for table, _ in columns} <= {"detractor_followup_queue"}


def test_nps_daily_rolls_up_fct(fixture_run: CliRun) -> None:
    daily = query(
        fixture_run.warehouse,
        "select sum(responses), sum(promoters), sum(passives), sum(detractors) "
        "from marts.nps_daily",
    )
    fct = query(
        fixture_run.warehouse,
        "select count(*), count_if(is_promoter), count_if(is_passive), count_if(is_detractor) "
        "from marts.fct_nps_responses",
    )
    assert daily == fct
    assert query(
        fixture_run.warehouse,
        "select responses, promoters, detractors, nps from marts.nps_daily "
        "where response_date = '2025-03-01' and branch_id = 'BR-0001'",
    ) == [(2, 2, 0, 100.0)]


def _check_metadata(dagster_home: Path, asset: list[str], check: str) -> tuple[bool, dict]:
    import dagster as dg

    os.environ["DAGSTER_HOME"] = str(dagster_home)
    with dg.DagsterInstance.get() as instance:
        key = dg.AssetCheckKey(dg.AssetKey(asset), check)
        record = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[key]
        evaluation = record.event.dagster_event.event_specific_data
        return evaluation.passed, {k: v.value for k, v in evaluation.metadata.items()}


def test_checks_are_recorded_in_the_dagster_instance(fixture_run: CliRun) -> None:
    passed, metadata = _check_metadata(
        fixture_run.dagster_home, ["marts", "fct_nps_responses"], "unregistered_reference_ids"
    )
    assert not passed
    assert metadata["unregistered_surveys"] == {"SRV-LEGACY": 1}
    assert metadata["unregistered_branches"] == {"BR-9999": 1, "unknown": 1}
    passed, metadata = _check_metadata(
        fixture_run.dagster_home, ["raw", "nps_responses"], "raw_nps_responses_suite"
    )
    assert not passed
    failures = metadata["failures"]
    assert set(failures) == {"nps/daily/store_2025-03-01.csv", "nps/app/2025-W09.jsonl"}
    store = failures["nps/daily/store_2025-03-01.csv"]
    assert "response_id_unique" in json.dumps(store)


def test_rerun_loads_nothing_and_changes_nothing(fixture_run: CliRun, tmp_path: Path) -> None:
    # a copy and a Dagster home of its own, so the session's warehouse and event log stay as
    # the first run left them (other modules read its latest materializations)
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(fixture_run.warehouse, warehouse)
    before = query(warehouse, "select * from marts.nps_load_reconciliation order by 1")
    second = run_cli(fixture_run.landing, warehouse, tmp_path / "dagster_home")
    assert "Files loaded this run: 0 (0 rows)" in second.stdout, second.stdout
    assert second.returncode == 1  # the broken file is still there, and still reported
    after = query(warehouse, "select * from marts.nps_load_reconciliation order by 1")
    assert [r[:2] + r[4:] for r in after] == [r[:2] + r[4:] for r in before]


@pytest.mark.timeout(600)
def test_dbt_build_with_unit_tests_on_fixture_warehouse(
    fixture_run: CliRun, tmp_path: Path
) -> None:
    """`dbt build` as an analytics engineer runs it: every model, data test and unit test."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(fixture_run.warehouse, warehouse)
    target = tmp_path / "target"
    completed = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "build", "--target-path", str(target)],
        cwd=REPO,
        env={**os.environ, "NPS_WAREHOUSE": str(warehouse), "DBT_PROFILES_DIR": str(REPO)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout[-4000:]
    results = json.loads((target / "run_results.json").read_text())["results"]
    unit_tests = [r for r in results if r["unique_id"].startswith("unit_test.")]
    assert len(unit_tests) >= 4
    assert all(r["status"] == "pass" for r in unit_tests)


@pytest.mark.timeout(900)
def test_demo_data_end_to_end_reconciles_exactly(tmp_path: Path) -> None:
    """What `make run` does on a fresh machine, at a small size: every count as generated."""
    from orchestration.demo_data import write_demo_data

    landing = tmp_path / "landing"
    summary = write_demo_data(landing, responses=4000, seed=7)
    run = run_cli(landing, tmp_path / "warehouse.duckdb", tmp_path / "dagster_home")
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.rstrip().endswith("OK")
    warehouse = run.warehouse
    assert query(warehouse, "select count(*) from marts.fct_nps_responses") == [
        (summary.expected_accepted,)
    ]
    assert query(warehouse, "select count(*) from marts.nps_duplicates") == [
        (summary.expected_duplicates,)
    ]
    reasons = dict(
        query(warehouse, "select quarantine_reason, count(*) from marts.nps_quarantine group by 1")
    )
    assert reasons == {k: v for k, v in summary.expected_quarantined.items() if v}
    assert query(
        warehouse, "select count(*), sum(landed_rows) from marts.nps_load_reconciliation"
    ) == [(len(summary.files), summary.rows)]
    unregistered = query(
        warehouse,
        "select distinct branch_id from marts.fct_nps_responses where not is_registered_branch",
    )
    assert {b for (b,) in unregistered} >= set(summary.expected_unregistered_branches)
    assert f"Files loaded this run: {len(summary.files)} ({summary.rows} rows)" in run.stdout

    # nothing changed: the re-run starts no Dagster run (no dbt, GX, publishing) and says so
    again = run_cli(landing, warehouse, tmp_path / "dagster_home")
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.startswith("Skipped: no landing file changed"), again.stdout
    assert "Files loaded this run: 0 (0 rows)" in again.stdout
    assert again.stdout.rstrip().endswith("OK")
    from orchestration.pipeline import unchanged_since
    from orchestration.settings import Settings

    settings = Settings(landing_dir=landing.resolve(), warehouse_path=warehouse.resolve())
    assert unchanged_since(settings) is not None
    touched = landing / summary.files[-1]
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    assert unchanged_since(settings) is None  # a changed (or new) file: the next run runs


def test_no_change_fast_path_decision(tmp_path: Path) -> None:
    """When a re-run may skip (no Dagster run), and what makes it run again; no pipeline run."""
    from orchestration.landing.feeds import FEEDS
    from orchestration.landing.loader import load_feed
    from orchestration.pipeline import PipelineOutcome, _remember_complete_run, unchanged_since
    from orchestration.settings import Settings

    landing = tmp_path / "landing"
    (landing / "nps").mkdir(parents=True)
    day = landing / "nps" / "day.csv"
    day.write_text("response_id,survey_id,submitted_at,score\nr1,SRV-STORE,2025-01-01,9\n")
    warehouse = tmp_path / "warehouse.duckdb"
    settings = Settings(landing_dir=landing.resolve(), warehouse_path=warehouse.resolve())
    published = tmp_path / "published.duckdb"
    published.write_bytes(b"")
    with duckdb.connect(str(warehouse)) as conn:
        for feed in FEEDS:
            load_feed(conn, landing, feed, load_id="run-1")
    assert unchanged_since(settings) is None  # never completed: run
    _remember_complete_run(settings, PipelineOutcome("run-1", True, published=str(published)))
    assert unchanged_since(settings)["run_id"] == "run-1"
    with duckdb.connect(str(warehouse)) as conn:  # forget erased rows: aggregates must rebuild
        conn.execute(
            "insert into raw.privacy_erasures (reason, feed, source_file, rows_erased, "
            "erased_at) values ('forget', 'nps', 'nps/day.csv', 1, now())"
        )
    assert unchanged_since(settings) is None
    _remember_complete_run(settings, PipelineOutcome("run-2", True, published=str(published)))
    assert unchanged_since(settings)["run_id"] == "run-2"
    (landing / "nps" / "new.csv").write_text(day.read_text().replace("r1", "r2"))
    assert unchanged_since(settings) is None  # a new file
    (landing / "nps" / "new.csv").unlink()
    published.unlink()
    assert unchanged_since(settings) is None  # nothing to show BI tools: run
