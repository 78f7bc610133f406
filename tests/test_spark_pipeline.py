"""The Dagster pipeline on the Spark target: `nps-warehouse run --target spark` over the shared
fixtures plus a file its raw suite blocks. The Spark run's published marts equal those of the
DuckDB run over the same folder (counts exactly, ratios to 1e-9), the bad file is held back on
Spark with its Great Expectations verdict recorded, and the model suites ran as asset checks on
Spark DataFrames. Skipped, with the reason, without Java or the `spark` extra, unless
NPS_REQUIRE_SPARK=1 (CI), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import REPO, CliRun, build_fixture_landing, run_cli
from tests.test_quality_blocking import check_evaluation, responses, write_csv
from tests.test_spark import (
    _canonical,
    _compared_columns,
    _duckdb_marts,
    _equal,
    _missing_requirement,
)

BAD = "nps/daily/store_2025-03-03.csv"  # a third of its scores are "n/a": a broken export
SPARK_RUN_TIMEOUT_SECONDS = 2400


def _spark_cli(landing: Path, warehouse: Path, dagster_home: Path) -> CliRun:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "orchestration.cli",
            "run",
            "--target",
            "spark",
            "--landing",
            str(landing),
            "--warehouse",
            str(warehouse),
        ],
        cwd=REPO,
        env={
            **os.environ,
            "DAGSTER_HOME": str(dagster_home),
            "NPS_REPORT_DIR": str(warehouse.parent / "reports"),
            "NPS_SPARK_WAREHOUSE_DIR": str(warehouse.parent / "spark"),
        },
        capture_output=True,
        text=True,
        timeout=SPARK_RUN_TIMEOUT_SECONDS,
    )
    return CliRun(
        completed.returncode, completed.stdout, completed.stderr, warehouse, landing, dagster_home
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CliRun]:
    missing = _missing_requirement()
    if missing:
        if os.environ.get("NPS_REQUIRE_SPARK") == "1":
            pytest.fail(f"NPS_REQUIRE_SPARK=1 but {missing}")
        pytest.skip(missing)
    root = tmp_path_factory.mktemp("spark_pipeline")
    landing = build_fixture_landing(root / "landing")
    bad = responses("B", "2025-03-03", 60)
    for i in range(0, 60, 3):
        bad[i]["score"] = "n/a"
    write_csv(landing / BAD, bad)
    return {
        "duckdb": run_cli(landing, root / "duckdb" / "warehouse.duckdb", root / "duckdb_home"),
        "spark": _spark_cli(landing, root / "spark_run" / "warehouse.duckdb", root / "spark_home"),
    }


def _published(run: CliRun) -> Path:
    return run.warehouse.parent / "published" / "parquet"


def test_the_spark_run_holds_the_bad_file_back(runs: dict[str, CliRun]) -> None:
    spark = runs["spark"]
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


def test_the_model_suites_ran_on_spark_dataframes(runs: dict[str, CliRun]) -> None:
    spark = runs["spark"]
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
        on_duckdb = check_evaluation(runs["duckdb"], asset, check)
        verdict = (evaluation.passed, evaluation.metadata["failed"].value)
        assert verdict == (on_duckdb.passed, on_duckdb.metadata["failed"].value), check
        verdicts.append(verdict)
    assert any(passed for passed, _ in verdicts)


def test_the_spark_runs_marts_equal_the_duckdb_runs(runs: dict[str, CliRun]) -> None:
    marts = _duckdb_marts(runs["duckdb"].warehouse).items()
    # what is published: the `marts` schema (people_restricted stays in the warehouse)
    duck = {table: rows for (schema, table), rows in marts if schema == "marts"}
    published = {path.stem for path in _published(runs["spark"]).glob("*.parquet")}
    assert set(duck) == published, set(duck) ^ published
    assert len(published) >= 15
    differences = []
    for table, (columns, duck_rows) in sorted(duck.items()):
        spark_rows = pq.read_table(_published(runs["spark"]) / f"{table}.parquet").to_pylist()
        compared = _compared_columns(columns, duck_rows, spark_rows)
        left, right = _canonical(duck_rows, compared), _canonical(spark_rows, compared)
        if len(left) != len(right):
            differences.append(f"{table}: {len(left)} rows on DuckDB, {len(right)} on Spark")
            continue
        differences += [
            f"{table} row {index} {column}: {x!r} != {y!r}"
            for index, (a, b) in enumerate(zip(left, right, strict=True))
            for column, x, y in zip(compared, a, b, strict=True)
            if not _equal(x, y)
        ][:1]
    assert not differences, "\n".join(differences[:40])


def test_the_report_is_rendered_from_sparks_parquet(runs: dict[str, CliRun]) -> None:
    out = runs["spark"].stdout
    report = next(line for line in out.splitlines() if line.startswith("Report: "))
    index = Path(report.removeprefix("Report: "))
    assert index.is_file(), out
    assert "<img" in index.read_text(encoding="utf-8")  # charts drawn from the marts
