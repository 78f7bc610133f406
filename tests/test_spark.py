"""The warehouse on Apache Spark: the whole pipeline (`nps-warehouse run --target spark`) and
the dbt project, compared with DuckDB over the same files (counts exactly, ratios to 1e-9).

The pipeline runs on the shared fixtures plus a file its raw suite blocks, once on DuckDB and
once on a local Spark session. On Spark the bad file is held back with its Great Expectations
verdict recorded, the model suites run as asset checks on Spark DataFrames, the checks fail
where DuckDB's fail, and the published marts (and the people_restricted tables) equal DuckDB's.

Then, in one Spark process on the warehouse the pipeline built (Spark is slow to start, and its
embedded Derby metastore admits one process at a time), dbt runs the unit tests the pipeline
leaves to `make test`; a changed, a late and a new file land, the Spark loader loads them and an
incremental `dbt build` (no --full-refresh) updates the warehouse: its marts must equal the
DuckDB pipeline's over the same files. One Spark warehouse serves both parts: a Spark build of
the project takes CI many minutes.

Skipped, with the reason, when Java or the `spark` extra is missing, unless NPS_REQUIRE_SPARK=1
(CI), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import REPO, CliRun, build_fixture_landing, run_cli
from tests.spark_support import (
    INCREMENTAL_CHECKS,
    INCREMENTAL_RUN_MARK,
    SPARK_RUN_TIMEOUT_SECONDS,
    duckdb_marts,
    exported_tables,
    land_changed_files,
    marts_differences,
    missing_requirement,
    spark_environment,
)
from tests.test_quality_blocking import check_evaluation, responses, write_csv

BAD = "nps/daily/store_2025-03-03.csv"  # a third of its scores are "n/a": a broken export


def _landing_with_bad_file(target: Path) -> Path:
    landing = build_fixture_landing(target)
    bad = responses("B", "2025-03-03", 60)
    for i in range(0, 60, 3):
        bad[i]["score"] = "n/a"
    write_csv(landing / BAD, bad)
    return landing


@dataclass(frozen=True)
class PipelineRuns:
    duckdb: CliRun
    spark: CliRun
    spark_dir: Path  # the Spark run's tables and metastore (NPS_SPARK_WAREHOUSE_DIR)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> PipelineRuns:
    missing = missing_requirement()
    if missing:
        if os.environ.get("NPS_REQUIRE_SPARK") == "1":
            pytest.fail(f"NPS_REQUIRE_SPARK=1 but {missing}")
        pytest.skip(missing)
    root = tmp_path_factory.mktemp("spark_pipeline")
    landing = _landing_with_bad_file(root / "landing")
    spark_dir = root / "spark"
    return PipelineRuns(
        duckdb=run_cli(landing, root / "duckdb" / "warehouse.duckdb", root / "duckdb_home"),
        spark=run_cli(
            landing,
            root / "spark_run" / "warehouse.duckdb",
            root / "spark_home",
            target="spark",
            env=spark_environment(spark_dir),
            timeout=SPARK_RUN_TIMEOUT_SECONDS,
        ),
        spark_dir=spark_dir,
    )


@pytest.fixture(scope="module")
def spark_dbt(runs: PipelineRuns) -> dict:
    """The unit tests and the incremental build on the pipeline's Spark warehouse."""
    spark_dir = runs.spark_dir
    export = spark_dir.parent / "restricted"
    incremental_export = spark_dir.parent / "incremental"
    started = time.monotonic()
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.spark_support",
            str(runs.spark.landing),
            str(spark_dir),
            str(export),
            str(incremental_export),
        ],
        cwd=REPO,
        env=spark_environment(spark_dir),
        capture_output=True,
        text=True,
        timeout=SPARK_RUN_TIMEOUT_SECONDS,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-20000:]
    unit_tests_output, _, incremental_output = completed.stdout.partition(INCREMENTAL_RUN_MARK)
    return {
        "export": export,
        "incremental_export": incremental_export,
        "unit_tests_output": unit_tests_output,
        "incremental_output": incremental_output,
        "seconds": time.monotonic() - started,
    }


@pytest.fixture(scope="module")
def changed_fixture_run(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    """The DuckDB pipeline over the same files with the changed files already landed."""
    root = tmp_path_factory.mktemp("changed_fixture_run")
    landing = _landing_with_bad_file(root / "landing")
    land_changed_files(landing)
    run = run_cli(landing, root / "warehouse.duckdb", root / "dagster_home")
    # the run fails on the fixtures' unreadable file, by design: the warehouse is built all the same
    assert "Customer responses in the warehouse" in run.stdout, (
        run.stdout[-5000:] + run.stderr[-5000:]
    )
    return run


def _published(run: CliRun) -> Path:
    return run.warehouse.parent / "published" / "parquet"


def test_loader_session_has_the_spark_targets_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The loader and dbt must open the same warehouse and metastore with the same settings."""
    if missing_requirement():
        pytest.skip(missing_requirement())
    import jinja2
    import yaml

    from orchestration.landing.spark_loader import spark_settings

    monkeypatch.setenv("NPS_SPARK_WAREHOUSE_DIR", str(tmp_path))
    profile = yaml.safe_load((REPO / "profiles.yml").read_text())
    parameters = profile["nps_warehouse"]["outputs"]["spark"]["server_side_parameters"]
    environment = jinja2.Environment()
    environment.globals["env_var"] = lambda name, default=None: os.environ.get(name, default)
    rendered = {
        key: environment.from_string(str(value)).render() for key, value in parameters.items()
    }
    assert rendered == spark_settings()
    assert rendered["spark.sql.warehouse.dir"] == f"{tmp_path}/warehouse"


def test_the_spark_run_holds_the_bad_file_back(runs: PipelineRuns) -> None:
    spark = runs.spark
    out = spark.stdout
    assert "STEP FAILED" not in out, out + spark.stderr[-5000:]
    assert f"BLOCKED {BAD}: " in out, out
    assert "FAILED nps/broken/latin1.csv" in out, out  # an unreadable file fails alone
    evaluation = check_evaluation(spark, ["raw", "nps_responses"], "raw_nps_responses_suite")
    assert not evaluation.passed
    blocked = evaluation.metadata["blocked_files"].value
    assert list(blocked) == [BAD]
    failures = evaluation.metadata["failures"].value[BAD]
    assert failures["datasource"] == "spark"  # validated as a Spark DataFrame
    quarantine = pq.read_table(_published(spark) / "nps_quarantine.parquet").to_pylist()
    reasons = Counter(row["quarantine_reason"] for row in quarantine if row["source_file"] == BAD)
    # every row is held back; the rows with their own defect keep their own reason
    assert reasons == {"batch_failed_validation": 40, "score_not_integer": 20}


def _failed_checks(run: CliRun) -> set[str]:
    return {line.split()[2] for line in run.stdout.splitlines() if line.startswith("CHECK FAILED ")}


def test_the_spark_runs_checks_fail_where_the_duckdb_runs_do(runs: PipelineRuns) -> None:
    """Every dbt data test runs as an asset check: on Spark, the same ones fail (the unreadable
    file and the blocked one), no other."""
    failed = _failed_checks(runs.spark)
    assert failed == _failed_checks(runs.duckdb), runs.spark.stdout
    assert "raw/nps_responses:raw_nps_responses_suite" in failed


def test_the_model_suites_ran_on_spark_dataframes(runs: PipelineRuns) -> None:
    spark = runs.spark
    verdicts = []
    for asset, check in (
        (["marts", "nps_daily"], "nps_daily_suite"),
        (["marts", "fct_nps_responses"], "fct_nps_responses_suite"),
        (["marts", "enps_by_wave"], "enps_by_wave_suite"),
    ):
        evaluation = check_evaluation(spark, asset, check)
        assert evaluation.metadata["gx_datasource"].value == "spark", (check, evaluation)
        assert evaluation.metadata["evaluated_expectations"].value > 0
        # the same verdict as DuckDB's over the same files (the fixtures' newest response is
        # older than the freshness window on both engines: that warning is expected)
        on_duckdb = check_evaluation(runs.duckdb, asset, check)
        verdict = (evaluation.passed, evaluation.metadata["failed"].value)
        assert verdict == (on_duckdb.passed, on_duckdb.metadata["failed"].value), check
        verdicts.append(verdict)
    assert any(passed for passed, _ in verdicts)


def test_the_spark_runs_marts_equal_the_duckdb_runs(runs: PipelineRuns, spark_dbt: dict) -> None:
    """What Spark published (the `marts` schema) and the people_restricted tables it built."""
    published = {("marts", path.stem): path for path in _published(runs.spark).glob("*.parquet")}
    assert len(published) >= 15
    spark_tables = {**published, **exported_tables(spark_dbt["export"], ("people_restricted",))}
    differences = marts_differences(duckdb_marts(runs.duckdb.warehouse), spark_tables)
    assert not differences, "\n".join(differences[:40])


def test_the_report_is_rendered_from_sparks_parquet(runs: PipelineRuns) -> None:
    out = runs.spark.stdout
    report = next(line for line in out.splitlines() if line.startswith("Report: "))
    index = Path(report.removeprefix("Report: "))
    assert index.is_file(), out
    assert "<img" in index.read_text(encoding="utf-8")  # charts drawn from the marts


def test_spark_loader_keeps_the_landing_contract(runs: PipelineRuns) -> None:
    reconciliation = {
        row["source_file"]: row
        for row in pq.read_table(
            _published(runs.spark) / "nps_load_reconciliation.parquet"
        ).to_pylist()
    }
    broken = reconciliation["nps/broken/latin1.csv"]
    assert broken["file_status"] == "failed"
    assert broken["file_error"] == (
        "nps/broken/latin1.csv (line 3, column 38): undecodable bytes: 0xe9 is not valid UTF-8"
    )
    assert reconciliation["nps/daily/store_2025-03-01.csv"]["landed_rows"] == 15
    # the Parquet file: a numeric score column read as text, 8.0 is the integer 8
    assert reconciliation["nps/backfill/2025-02.parquet"]["accepted_rows"] == 3


@pytest.mark.parametrize("run", ["unit_tests_output", "incremental_output"])
def test_dbt_on_spark_passes_every_test(spark_dbt: dict, run: str) -> None:
    output = spark_dbt[run]
    assert "Completed successfully" in output, output[-5000:]
    summary = next(line for line in output.splitlines() if "Done. PASS=" in line)
    assert "ERROR=0" in summary and "SKIP=0" in summary, summary
    assert "PASS=0 " not in summary, summary


def test_incremental_run_on_spark_equals_the_duckdb_marts(
    changed_fixture_run: CliRun, spark_dbt: dict
) -> None:
    export: Path = spark_dbt["incremental_export"]
    # incremental indeed: the validated rows of files the changes did not touch were kept from
    # the pipeline's build, and every incremental model recorded its watermark
    validated = pq.read_table(export / INCREMENTAL_CHECKS / "int_nps_responses_validated.parquet")
    newest: dict[str, datetime] = {}
    for row in validated.to_pylist():
        newest[row["_source_file"]] = max(
            row["_processed_at"], newest.get(row["_source_file"], row["_processed_at"])
        )
    this_run = newest["nps/daily/store_2025-03-05.csv"]
    assert newest["nps/daily/store_2025-03-02.csv"] == this_run
    assert newest["nps/backfill/2025-02.parquet"] < this_run
    watermarks = pq.read_table(export / INCREMENTAL_CHECKS / "nps_incremental_state.parquet")
    models = [row["model_name"] for row in watermarks.to_pylist()]
    assert set(models) >= {
        "fct_nps_responses",
        "nps_daily",
        "int_nps_responses_aggregated",
        "int_nps_segment_days_rolled_up",
        "int_nps_responses_sequenced",
        "int_nps_latest_changes_rolled_up",
        "nps_rolling",
    }
    assert len(models) == len(set(models))
    tables = exported_tables(export)
    assert len(tables) >= 20
    differences = marts_differences(duckdb_marts(changed_fixture_run.warehouse), tables)
    assert not differences, "\n".join(differences[:40])
