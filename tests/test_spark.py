"""The same dbt project on Apache Spark: the marts built on a local Spark session from the shared
fixtures equal the DuckDB marts of the real pipeline run (counts exactly, ratios to 1e-9).

One Spark process does everything (Spark is slow to start, and its embedded Derby metastore
admits one process at a time): the Spark loader reads the fixture landing folder into the raw
tables, `dbt build --target spark` runs every seed, model, data test and unit test in the same
session, and the marts are exported to Parquet for this test to compare. Then a changed, a late
and a new file land, the loader loads them and an incremental `dbt build` (no --full-refresh)
updates the warehouse: its marts must equal the DuckDB pipeline's over the same files. Skipped,
with the reason, when Java or the `spark` extra is missing, unless NPS_REQUIRE_SPARK=1 (CI),
which turns the skip into a failure.
"""

from __future__ import annotations

import importlib.util
import math
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from tests.conftest import (
    REPO,
    CliRun,
    build_fixture_landing,
    evaluation_day_columns,
    run_cli,
)

MART_SCHEMAS = ("marts", "people_restricted")
# Left out on Spark: the unit test of an incremental run of int_nps_responses_validated (on
# Spark the model also reads its own table's columns, which a unit test's fixture has not), and
# the unit test of complementary suppression, whose fixture inputs keep the 12 rounds as nested
# CTEs (the model itself materialises them): it passes, but analysing it takes Spark minutes.
NOT_ON_SPARK = (
    "unit_test:test_validated_incremental_changed_file",
    "unit_test:test_enps_wave_groups_primary_and_complementary_suppression",
)
# when and by which load the row was loaded, when the mart was built: differ between any two
# runs, on any engine
INCREMENTAL_RUN_MARK = "--- incremental run ---"
INCREMENTAL_CHECKS = "intermediate"
RUN_TIME_COLUMNS = {"loaded_at", "evaluated_at", "_file_received_at", "_loaded_at", "_load_id"}
RELATIVE_TOLERANCE = 1e-9
SPARK_TIMEOUT_SECONDS = 2100
# landed after the first build (tests/test_incremental.py covers more cases on DuckDB): the
# changed file loses a response (its day keeps others) and changes a score; the late file holds
# an earlier day and a re-sent response with another score (a duplicate: received later, and
# named after the original should a pipeline receive both at once); the new file a later day
# with respondents who answered before
STORE_HEADER = (
    "response_id,survey_id,respondent_id,respondent_email,submitted_at,score,comment,language,"
    "channel,touchpoint,branch_id,product,consent_contact,consent_testimonial"
)
CHANGED_FILES = {
    "nps/daily/store_2025-03-02.csv": (
        "response_id;survey_id;respondent_id;respondent_email;submitted_at;score;comment;language;"
        "channel;touchpoint;branch_id;product;consent_contact;consent_testimonial\n"
        "F0002;SRV-STORE;C002;bob@example.com;2025-03-01T10:00:00+01:00;3;resent with another "
        "score;en;in_store;visit;BR-0001;groceries;no;true\n"
        "F0101;SRV-DELIVERY;C001;ann@example.com;2025-03-02T08:00:00Z;2;Slow delivery;en;email;"
        "delivery;BR-0001;furniture;yes;yes\n"
        "F0103;SRV-LEGACY;C021;yu@example.com;2025-03-02T10:00:00Z;8;old survey;en;email;"
        "delivery;BR-0004;furniture;no;no\n"
    ),
    "nps/late/store_2025-02-27.csv": (
        f"{STORE_HEADER}\n"
        "F0301,SRV-STORE,C004,di@example.com,2025-02-27T09:00:00Z,9,,en,in_store,visit,BR-0002,"
        "groceries,yes,no\n"
        "F0302,SRV-STORE,C040,al@example.com,2025-02-27T10:00:00Z,4,Too busy,en,in_store,visit,"
        "BR-0001,groceries,no,no\n"
        "F0003,SRV-STORE,C003,cy@example.com,2025-03-01T11:30:00Z,2,resent,en,in_store,visit,"
        "BR-0002,groceries,no,no\n"
    ),
    "nps/daily/store_2025-03-05.csv": (
        f"{STORE_HEADER}\n"
        "F0501,SRV-STORE,C001,ann@example.com,2025-03-05T09:00:00Z,6,,en,in_store,visit,BR-0001,"
        "groceries,yes,yes\n"
        "F0502,SRV-STORE,C005,ed@example.com,2025-03-05T10:00:00Z,10,Better,en,in_store,visit,"
        "BR-0003,groceries,yes,no\n"
        "F0503,SRV-STORE,C041,bo@example.com,2025-03-05T11:00:00Z,8,,en,in_store,visit,BR-0003,"
        "groceries,no,no\n"
    ),
}


# what the changed files can change (the other marts keep the first build's rows, which the
# comparison holds equal to DuckDB's all the same): CI time is short
CHANGED_NODES = ("stg_survey__nps_responses+", "stg_survey__landing_manifest+")


def land_changed_files(landing: Path) -> None:
    for name, text in CHANGED_FILES.items():
        (landing / name).parent.mkdir(parents=True, exist_ok=True)
        (landing / name).write_text(text, encoding="utf-8")


def _missing_requirement() -> str | None:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "Java is not installed (Spark needs Java 17)"
    for module in ("pyspark", "dbt.adapters.spark"):
        if importlib.util.find_spec(module) is None:
            return f"the `spark` extra is not installed ({module}): uv sync --extra spark"
    return None


@pytest.fixture(scope="module")
def spark_build(tmp_path_factory: pytest.TempPathFactory) -> dict:
    missing = _missing_requirement()
    if missing:
        if os.environ.get("NPS_REQUIRE_SPARK") == "1":
            pytest.fail(f"NPS_REQUIRE_SPARK=1 but {missing}")
        pytest.skip(missing)
    root = tmp_path_factory.mktemp("spark")
    landing = build_fixture_landing(root / "landing")
    export = root / "marts"
    incremental_export = root / "incremental"
    started = time.monotonic()
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.test_spark",
            str(landing),
            str(root / "spark"),
            str(export),
            str(incremental_export),
        ],
        cwd=REPO,
        env={**os.environ, "NPS_SPARK_WAREHOUSE_DIR": str(root / "spark")},
        capture_output=True,
        text=True,
        timeout=SPARK_TIMEOUT_SECONDS,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-20000:]
    first_output, _, incremental_output = completed.stdout.partition(INCREMENTAL_RUN_MARK)
    return {
        "export": export,
        "incremental_export": incremental_export,
        "output": first_output,
        "incremental_output": incremental_output,
        "seconds": time.monotonic() - started,
    }


@pytest.fixture(scope="module")
def changed_fixture_run(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    """The DuckDB pipeline over the fixtures with the changed files already landed."""
    root = tmp_path_factory.mktemp("changed_fixture_run")
    landing = build_fixture_landing(root / "landing")
    land_changed_files(landing)
    run = run_cli(landing, root / "warehouse.duckdb", root / "dagster_home")
    # the run fails on the fixtures' unreadable file, by design: the warehouse is built all the same
    assert "Customer responses in the warehouse" in run.stdout, (
        run.stdout[-5000:] + run.stderr[-5000:]
    )
    return run


def test_loader_session_has_the_spark_targets_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The loader and dbt must open the same warehouse and metastore with the same settings."""
    if _missing_requirement():
        pytest.skip(_missing_requirement())
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


@pytest.mark.parametrize("run", ["output", "incremental_output"])
def test_dbt_build_on_spark_passes_every_test(spark_build: dict, run: str) -> None:
    output = spark_build[run]
    assert "Completed successfully" in output, output[-5000:]
    summary = next(line for line in output.splitlines() if "Done. PASS=" in line)
    assert "ERROR=0" in summary and "SKIP=0" in summary, summary


def test_spark_loader_keeps_the_landing_contract(spark_build: dict) -> None:
    reconciliation = _rows_by(
        _spark_rows(spark_build["export"], "marts", "nps_load_reconciliation"), "source_file"
    )
    broken = reconciliation["nps/broken/latin1.csv"]
    assert broken["file_status"] == "failed"
    assert broken["file_error"] == (
        "nps/broken/latin1.csv (line 3, column 38): undecodable bytes: 0xe9 is not valid UTF-8"
    )
    assert reconciliation["nps/daily/store_2025-03-01.csv"]["landed_rows"] == 15
    # the Parquet file: a numeric score column read as text, 8.0 is the integer 8
    assert reconciliation["nps/backfill/2025-02.parquet"]["accepted_rows"] == 3


def test_marts_on_spark_equal_the_duckdb_marts(fixture_run: CliRun, spark_build: dict) -> None:
    _assert_marts_equal(_duckdb_marts(fixture_run.warehouse), spark_build["export"])


def test_incremental_run_on_spark_equals_the_duckdb_marts(
    changed_fixture_run: CliRun, spark_build: dict
) -> None:
    export: Path = spark_build["incremental_export"]
    # incremental indeed: the validated rows of files the changes did not touch were kept from
    # the first build, and every incremental model recorded its watermark
    validated = pq.read_table(export / INCREMENTAL_CHECKS / "int_nps_responses_validated.parquet")
    newest: dict[str, datetime] = {}
    for row in validated.to_pylist():
        newest[row["_source_file"]] = max(
            row["_processed_at"], newest.get(row["_source_file"], row["_processed_at"])
        )
    this_run = newest["nps/daily/store_2025-03-05.csv"]
    assert newest["nps/daily/store_2025-03-02.csv"] == this_run
    assert newest["nps/backfill/2025-02.parquet"] < this_run
    watermarks = _spark_rows(export, INCREMENTAL_CHECKS, "nps_incremental_state")
    assert {row["model_name"] for row in watermarks} >= {
        "fct_nps_responses",
        "nps_daily",
        "int_nps_responses_aggregated",
        "int_nps_segment_days_rolled_up",
        "int_nps_responses_sequenced",
        "int_nps_latest_changes_rolled_up",
        "nps_rolling",
    }
    assert len(watermarks) == len({row["model_name"] for row in watermarks})
    _assert_marts_equal(_duckdb_marts(changed_fixture_run.warehouse), export)


def _assert_marts_equal(
    duck: dict[tuple[str, str], tuple[list[str], list[dict]]], export: Path
) -> None:
    spark_tables = {
        (schema, table.stem)
        for schema in MART_SCHEMAS
        for table in (export / schema).glob("*.parquet")
    }
    assert set(duck) == spark_tables, set(duck) ^ spark_tables
    assert len(spark_tables) >= 20
    differences = []
    for (schema, table), (columns, duck_rows) in sorted(duck.items()):
        spark_rows = _spark_rows(export, schema, table)
        compared = _compared_columns(columns, duck_rows, spark_rows)
        left = _canonical(duck_rows, compared)
        right = _canonical(spark_rows, compared)
        if len(left) != len(right):
            differences.append(
                f"{schema}.{table}: {len(left)} rows on DuckDB, {len(right)} on Spark"
            )
            continue
        # the first difference of each table
        differences += [
            f"{schema}.{table} row {index} {column}: {x!r} != {y!r}"
            for index, (a, b) in enumerate(zip(left, right, strict=True))
            for column, x, y in zip(compared, a, b, strict=True)
            if not _equal(x, y)
        ][:1]
    assert not differences, "\n".join(differences[:40])


def _duckdb_marts(warehouse: Path) -> dict[tuple[str, str], tuple[list[str], list[dict]]]:
    marts = {}
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        conn.execute("set TimeZone = 'UTC'")
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('marts', 'people_restricted') and table_type = 'BASE TABLE'"
        ).fetchall()
        for schema, table in tables:
            cursor = conn.execute(f'select * from {schema}."{table}"')
            columns = [description[0] for description in cursor.description]
            rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
            marts[(schema, table)] = (columns, rows)
    return marts


def _spark_rows(export: Path, schema: str, table: str) -> list[dict]:
    return pq.read_table(export / schema / f"{table}.parquet").to_pylist()


def _rows_by(rows: list[dict], key: str) -> dict:
    return {row[key]: row for row in rows}


def _normalised(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value
    return value


def _sort_key(value: object) -> tuple:
    # rows are matched by their values; floats are rounded so engines' last bits do not reorder
    if value is None:
        return (0, "")
    if isinstance(value, bool):
        return (1, str(value))
    if isinstance(value, int | float):
        return (2, f"{round(float(value), 6):+024.6f}")
    if isinstance(value, datetime | date):
        return (3, value.isoformat())
    return (4, str(value))


def _compared_columns(
    columns: list[str], duck_rows: list[dict], spark_rows: list[dict]
) -> list[str]:
    """The columns two builds of a table must agree on: all but the run-time stamps, and but
    the evaluation day's columns when the builds ran on different days."""
    left_out = RUN_TIME_COLUMNS | evaluation_day_columns(
        {row.get("evaluated_on") for row in duck_rows},
        {row.get("evaluated_on") for row in spark_rows},
    )
    return [column for column in columns if column not in left_out]


def _canonical(rows: list[dict], columns: list[str]) -> list[tuple]:
    normalised = [tuple(_normalised(row[column]) for column in columns) for row in rows]
    return sorted(normalised, key=lambda row: tuple(_sort_key(value) for value in row))


def _equal(x: object, y: object) -> bool:
    if x is None or y is None:
        return x is None and y is None
    if isinstance(x, bool) or isinstance(y, bool):
        return x == y
    if isinstance(x, int) and isinstance(y, int):
        return x == y
    if isinstance(x, int | float) and isinstance(y, int | float):
        return math.isclose(float(x), float(y), rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-9)
    return x == y


def _build_on_spark(
    landing: Path, warehouse_dir: Path, export: Path, incremental_export: Path
) -> int:
    """In ONE process: load the raw tables, dbt build, export the marts; land the changed files,
    load them, incremental dbt build, export again (see the docstring)."""
    from orchestration.landing.spark_loader import spark_session

    spark = spark_session(warehouse_dir)
    if not _load_and_build(spark, landing, warehouse_dir):
        return 1
    _export(spark, export, {schema: None for schema in MART_SCHEMAS})
    print(INCREMENTAL_RUN_MARK, flush=True)
    land_changed_files(landing)
    if not _load_and_build(spark, landing, warehouse_dir, CHANGED_NODES):
        return 1
    _export(
        spark,
        incremental_export,
        {
            **{schema: None for schema in MART_SCHEMAS},
            INCREMENTAL_CHECKS: ["nps_incremental_state", "int_nps_responses_validated"],
        },
    )
    spark.stop()
    return 0


def _load_and_build(
    spark: object, landing: Path, warehouse_dir: Path, select: tuple[str, ...] = ()
) -> bool:
    from dbt.cli.main import dbtRunner

    from orchestration.landing.spark_loader import load_landing

    started = time.monotonic()
    reports = load_landing(spark, str(landing))
    loaded = sum(len(report.written) for report in reports)
    print(f"spark loader: {loaded} files in {time.monotonic() - started:.0f} s", flush=True)
    started = time.monotonic()
    # dbt's session method calls SparkSession.builder.getOrCreate(): it gets this session
    result = dbtRunner().invoke(
        [
            "build",
            "--target",
            "spark",
            "--project-dir",
            str(REPO),
            "--profiles-dir",
            str(REPO),
            "--target-path",
            str(warehouse_dir / "target"),
            "--log-path",
            str(warehouse_dir / "logs"),
            "--threads",
            os.environ.get("NPS_SPARK_THREADS", "2"),
            *(("--select", *select) if select else ()),
            "--exclude",
            *NOT_ON_SPARK,
        ]
    )
    print(f"dbt build on spark: {time.monotonic() - started:.0f} s", flush=True)
    return result.success


def _export(spark: object, export: Path, tables: dict[str, list[str] | None]) -> None:
    """The tables of each schema (None: all but views) as Parquet files."""
    for schema, names in tables.items():
        (export / schema).mkdir(parents=True, exist_ok=True)
        if names is None:
            # dbt's incremental runs leave temporary views (`<model>__dbt_tmp`), listed too
            names = [
                table.name
                for table in spark.catalog.listTables(schema)
                if table.tableType != "VIEW" and not table.isTemporary
            ]
        for name in names:
            frame = spark.table(f"{schema}.{name}")
            pq.write_table(frame.toArrow(), export / schema / f"{name}.parquet")


if __name__ == "__main__":
    raise SystemExit(_build_on_spark(*(Path(argument) for argument in sys.argv[1:5])))
