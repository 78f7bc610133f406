"""What the Spark tests share (tests/test_spark.py): the requirement check, the Spark pipeline
run, the files landed after it, the comparison with DuckDB's marts, and the one Spark process
that runs the dbt unit tests and an incremental build on the warehouse the pipeline built.

Run as `python -m tests.spark_support <landing> <spark dir> <export> <incremental export>`
(after the pipeline run has exited: the embedded Derby metastore admits one process at a time).
"""

from __future__ import annotations

import importlib.util
import math
import os
import shutil
import sys
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from tests.conftest import REPO, evaluation_day_columns

MART_SCHEMAS = ("marts", "people_restricted")
# Left out on Spark: the unit test of an incremental run of int_nps_responses_validated (on
# Spark the model also reads its own table's columns, which a unit test's fixture has not), and
# the unit test of complementary suppression, whose fixture inputs keep the 12 rounds as nested
# CTEs (the model itself materialises them): it passes, but analysing it takes Spark minutes.
NOT_ON_SPARK = (
    "unit_test:test_validated_incremental_changed_file",
    "unit_test:test_enps_wave_groups_primary_and_complementary_suppression",
)
# between the unit tests' output and the incremental build's
INCREMENTAL_RUN_MARK = "--- incremental run ---"
INCREMENTAL_CHECKS = "intermediate"
# when and by which load the row was loaded, when the mart was built: differ between any two
# runs, on any engine
RUN_TIME_COLUMNS = {"loaded_at", "evaluated_at", "_file_received_at", "_loaded_at", "_load_id"}
RELATIVE_TOLERANCE = 1e-9
SPARK_RUN_TIMEOUT_SECONDS = 2400
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


def missing_requirement() -> str | None:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "Java is not installed (Spark needs Java 17)"
    for module in ("pyspark", "dbt.adapters.spark"):
        if importlib.util.find_spec(module) is None:
            return f"the `spark` extra is not installed ({module}): uv sync --extra spark"
    return None


def spark_environment(spark_dir: Path) -> dict[str, str]:
    return {**os.environ, "NPS_SPARK_WAREHOUSE_DIR": str(spark_dir)}


def duckdb_marts(warehouse: Path) -> dict[tuple[str, str], tuple[list[str], list[dict]]]:
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


def exported_tables(export: Path, schemas: tuple[str, ...] = MART_SCHEMAS) -> dict:
    """(schema, table) -> Parquet file of what `export_tables` wrote."""
    return {
        (schema, path.stem): path
        for schema in schemas
        for path in (export / schema).glob("*.parquet")
    }


def marts_differences(
    duck: dict[tuple[str, str], tuple[list[str], list[dict]]],
    spark: dict[tuple[str, str], Path],
) -> list[str]:
    """How Spark's tables (Parquet per (schema, table)) differ from DuckDB's: missing tables,
    row counts, and the first differing value of each table."""
    if set(duck) != set(spark):
        return [f"tables on one engine only: {sorted(set(duck) ^ set(spark))}"]
    differences = []
    for (schema, table), (columns, duck_rows) in sorted(duck.items()):
        spark_rows = pq.read_table(spark[(schema, table)]).to_pylist()
        compared = compared_columns(columns, duck_rows, spark_rows)
        left, right = canonical(duck_rows, compared), canonical(spark_rows, compared)
        if len(left) != len(right):
            differences.append(
                f"{schema}.{table}: {len(left)} rows on DuckDB, {len(right)} on Spark"
            )
            continue
        differences += [
            f"{schema}.{table} row {index} {column}: {x!r} != {y!r}"
            for index, (a, b) in enumerate(zip(left, right, strict=True))
            for column, x, y in zip(compared, a, b, strict=True)
            if not _equal(x, y)
        ][:1]
    return differences


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


def compared_columns(
    columns: list[str], duck_rows: list[dict], spark_rows: list[dict]
) -> list[str]:
    """The columns two builds of a table must agree on: all but the run-time stamps, and but
    the evaluation day's columns when the builds ran on different days."""
    left_out = RUN_TIME_COLUMNS | evaluation_day_columns(
        {row.get("evaluated_on") for row in duck_rows},
        {row.get("evaluated_on") for row in spark_rows},
    )
    return [column for column in columns if column not in left_out]


def canonical(rows: list[dict], columns: list[str]) -> list[tuple]:
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


def _test_and_update_on_spark(
    landing: Path, spark_dir: Path, export: Path, incremental_export: Path
) -> int:
    """In ONE process, on the warehouse the pipeline built: the dbt unit tests (the pipeline
    leaves them to `make test`), the people_restricted tables exported (the pipeline publishes
    only `marts`); then the changed files landed and loaded, an incremental dbt build, and the
    tables exported again."""
    from orchestration.landing.spark_loader import load_landing, spark_session

    spark = spark_session(spark_dir)
    unit_tests_passed = _dbt(["test", "--select", "test_type:unit"], spark_dir)
    export_tables(spark, export, {"people_restricted": None})
    print(INCREMENTAL_RUN_MARK, flush=True)
    land_changed_files(landing)
    started = time.monotonic()
    reports = load_landing(spark, str(landing))
    loaded = sum(len(report.written) for report in reports)
    print(f"spark loader: {loaded} files in {time.monotonic() - started:.0f} s", flush=True)
    built = _dbt(["build", "--select", *CHANGED_NODES], spark_dir)
    export_tables(
        spark,
        incremental_export,
        {
            **{schema: None for schema in MART_SCHEMAS},
            INCREMENTAL_CHECKS: ["nps_incremental_state", "int_nps_responses_validated"],
        },
    )
    spark.stop()
    return 0 if unit_tests_passed and built else 1


def _dbt(command: list[str], spark_dir: Path) -> bool:
    from dbt.cli.main import dbtRunner

    started = time.monotonic()
    # dbt's session method calls SparkSession.builder.getOrCreate(): it gets this session
    result = dbtRunner().invoke(
        [
            *command,
            "--target",
            "spark",
            "--project-dir",
            str(REPO),
            "--profiles-dir",
            str(REPO),
            "--target-path",
            str(spark_dir / "target"),
            "--log-path",
            str(spark_dir / "logs"),
            "--threads",
            os.environ.get("NPS_SPARK_THREADS", "2"),
            "--exclude",
            *NOT_ON_SPARK,
        ]
    )
    print(f"dbt {command[0]} on spark: {time.monotonic() - started:.0f} s", flush=True)
    return result.success


def export_tables(spark: object, export: Path, tables: dict[str, list[str] | None]) -> None:
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
    raise SystemExit(_test_and_update_on_spark(*(Path(argument) for argument in sys.argv[1:5])))
