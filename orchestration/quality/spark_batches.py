"""The raw load on Spark: load a feed with the Spark loader, validate each new file, keep verdicts.

The same judgement as on DuckDB (orchestration/quality/raw_validation.py): one batch per file
written by the load, the same batch builders and suite parameters, the same verdicts, stored in
Spark's `raw.batch_validations` before dbt runs, so the models quarantine a blocked file's rows
(`batch_failed_validation`) on Spark as on DuckDB.

How a batch is made: the derived columns (trimmed ids, parsed timestamps, scales, ...) and the
row-count band are DuckDB SQL (raw_batch_sql.py, raw_parameters.py). Rather than a second copy
of that SQL in Spark's dialect, Spark hands an in-memory DuckDB what that SQL reads: the rows of
this load's files (one load's files; the DuckDB route also holds one file's batch at a time),
the two columns the band compares for every other row of the feed (its history), and the
earlier verdicts. Great Expectations then validates each file's batch as a Spark DataFrame
through its Spark datasource. A Spark SQL version of the derivations would keep the history on
the cluster too; until then the history's two text columns reach this process.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from orchestration.landing.feeds import Feed
from orchestration.landing.loader import LoadReport

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import SparkSession

    from orchestration.engines.spark_engine import SparkEngine
    from orchestration.quality.gx_engine import BatchValidation, Validator
    from orchestration.quality.verdicts import Verdict

# Per raw table: the columns the row-count band reads from the feed's other files (the band
# SQL of raw_parameters.py); a feed without a band needs only the load's own rows.
BAND_HISTORY_COLUMNS = {
    "nps_responses": ("survey_id", "submitted_at"),
    "enps_responses": ("survey_wave", "submitted_at"),
}
_LINEAGE = ("_source_file", "_load_id")


def load_and_validate(
    engine: SparkEngine,
    landing_dir: str | os.PathLike[str],
    feed: Feed,
    load_id: str,
    project_dir: Path | None = None,
) -> tuple[LoadReport, list[Verdict]]:
    """Load the feed's new or changed files into Spark's raw tables (the Spark loader), then
    validate each written file and record its verdict (see the module docstring)."""
    from orchestration.landing.spark_loader import ensure_raw_tables, load_feed

    spark = engine.session()
    ensure_raw_tables(spark)  # dbt reads every feed's table, loaded or not
    report = load_feed(spark, os.fspath(landing_dir), feed, load_id, datetime.now(UTC))
    return report, validate_written_files(spark, feed, report, project_dir, load_id)


def validate_written_files(
    spark: SparkSession,
    feed: Feed,
    report: LoadReport,
    project_dir: Path | None = None,
    run_id: str = "",
) -> list[Verdict]:
    """Validate, judge and record (in Spark's raw.batch_validations) each file the load wrote."""
    if not report.written:
        return []
    from orchestration.assets.raw import batch_builders
    from orchestration.quality.raw_validation import validate_load
    from orchestration.quality.runtime import validator_for
    from orchestration.quality.verdicts import BATCH_VALIDATIONS_TABLE

    files = [f.source_file for f in report.written]
    with duckdb.connect() as conn:
        conn.execute("set TimeZone = 'UTC'")
        _stage(spark, conn, feed, report.load_id)
        verdicts = validate_load(
            conn,
            feed.name,
            feed.suite,
            files,
            report.load_id,
            batch_builders()[feed.name],
            SparkFrameValidator(validator_for(project_dir, run_id or report.load_id), spark),
        )
        # earlier verdicts plus this load's, with DuckDB's replace-per-file-and-load rule
        verdict_rows = conn.execute(f"select * from {BATCH_VALIDATIONS_TABLE}").fetchall()
    _replace_verdicts(spark, verdict_rows)
    return verdicts


class SparkFrameValidator:
    """What validate_load asks of a Validator, with each batch validated as a Spark DataFrame
    through GX's Spark datasource."""

    def __init__(self, validator: Validator, spark: SparkSession) -> None:
        self.validator = validator
        self.spark = spark

    def validate(
        self,
        suite_name: str,
        frame: pa.Table,
        batch: str,
        suite_parameters: dict[str, Any] | None = None,
    ) -> BatchValidation:
        spark_frame = self.spark.createDataFrame(frame)
        return self.validator.validate_spark(
            suite_name, spark_frame, batch, suite_parameters, rows=frame.num_rows
        )


def _stage(
    spark: SparkSession,
    conn: duckdb.DuckDBPyConnection,
    feed: Feed,
    load_id: str,
) -> None:
    """Give the in-memory DuckDB `raw.<feed table>` (this load's rows whole, the other rows'
    band columns) and `raw.batch_validations` (the earlier verdicts)."""
    from pyspark.sql import functions as F

    from orchestration.landing.spark_loader import BATCH_VALIDATIONS_TABLE
    from orchestration.quality.verdicts import ensure_batch_validations_table

    table = spark.table(f"raw.{feed.table}")
    # every row of this load is a row of one of its written files; a filter on the partition
    # column (_source_file) would go to the Derby metastore, which fails on it
    this_load = F.col("_load_id") == F.lit(load_id)
    kept = BAND_HISTORY_COLUMNS.get(feed.table)
    if kept is None:
        rows = table.where(this_load)
    else:
        rows = table.select(
            *[
                F.col(name)
                if name in kept or name in _LINEAGE
                else F.when(this_load, F.col(name)).alias(name)
                for name in table.columns
            ]
        )
    conn.execute("create schema raw")
    staged = rows.toArrow()  # noqa: F841 - read by name by DuckDB below
    conn.execute(f"create table raw.{feed.table} as select * from staged")
    ensure_batch_validations_table(conn)
    earlier = spark.table(BATCH_VALIDATIONS_TABLE).toArrow()  # noqa: F841 - read by name
    conn.execute(f"insert into {BATCH_VALIDATIONS_TABLE} select * from earlier")


def _replace_verdicts(spark: SparkSession, rows: list[tuple]) -> None:
    from orchestration.landing.spark_loader import BATCH_VALIDATIONS_TABLE

    schema = spark.table(BATCH_VALIDATIONS_TABLE).schema
    # from rows on the driver, not from the table itself: Spark cannot overwrite what it reads
    spark.createDataFrame(rows, schema).write.insertInto(BATCH_VALIDATIONS_TABLE, overwrite=True)
