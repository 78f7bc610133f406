"""Load landing files into the raw tables with Apache Spark, for the `spark` dbt target.

The same contract as the DuckDB loader (docs/contracts.md, `orchestration/landing/loader.py`): every
contract column as landed text, `extra_columns` as JSON, `_source_file`, `_source_row`,
`_file_checksum`, `_file_received_at`, `_loaded_at`, `_load_id`; a manifest
(`raw.landing_manifest`) so each file is loaded exactly once, a changed file replaces its previous
rows, a deleted file's rows stay, a file that cannot be read fails alone; every attempt is appended
to `raw.landing_load_log`; rows of forgotten respondents (`raw.privacy_tombstones`) are dropped at
load and counted in `raw.privacy_erasures`.

Spark itself lists, checksums and reads the files (CSV, Parquet, JSON lines), so they can live on
any file system Spark reads (a local folder, HDFS, S3, ...) and no single machine holds the data:
only file names, headers and per-block row counts reach the driver. The raw tables are Parquet,
partitioned by `_source_file`: (re)loading a file overwrites exactly its partition (dynamic
partition overwrite), so a load interrupted between the table and the manifest is simply redone.

This module writes `raw.batch_validations` empty; the pipeline's raw load on Spark
(orchestration/quality/spark_batches.py) validates each written file and records its verdict
there, so a file its suite blocks is held back on Spark as on DuckDB. The command below loads
without validating.

Use it from Python with a session (`load_landing(spark, landing)`, e.g. from a Dagster asset or a
`spark-submit` job on a cluster) or as a command that starts a local session with the settings of
the `spark` target in profiles.yml and exits, releasing the embedded metastore for dbt:

    python -m orchestration.landing.spark_loader --landing data/landing

On a cluster, submit it with the landing folder's URI and `--cluster` (the session then comes
from spark-submit's configuration: its master, metastore and warehouse):

    spark-submit --py-files nps_warehouse.zip orchestration/landing/spark_loader.py \
        --cluster --landing s3a://bucket/landing
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pyspark.errors import AnalysisException, PySparkException
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from orchestration.landing.feeds import FEEDS, LINEAGE_COLUMNS, Feed
from orchestration.landing.loader import (
    FAILED,
    LOADED,
    REPLACED,
    UNCHANGED,
    FileOutcome,
    LoadReport,
    split_columns,
)
from orchestration.landing.readers import (
    FileLoadError,
    diagnose,
    file_format,
    normalise_header,
)
from orchestration.privacy import EMAIL_SHA256, RESPONDENT_ID, RESPONSE_ID

log = logging.getLogger(__name__)

DEFAULT_WAREHOUSE_DIR = "data/spark"
RAW_SCHEMA = "raw"
MANIFEST_TABLE = f"{RAW_SCHEMA}.landing_manifest"
LOAD_LOG_TABLE = f"{RAW_SCHEMA}.landing_load_log"
TOMBSTONES_TABLE = f"{RAW_SCHEMA}.privacy_tombstones"
ERASURES_TABLE = f"{RAW_SCHEMA}.privacy_erasures"
BATCH_VALIDATIONS_TABLE = f"{RAW_SCHEMA}.batch_validations"

# DuckDB type names of the contract (feeds.LINEAGE_COLUMNS) -> Spark SQL types
_SPARK_TYPES = {"varchar": "string", "bigint": "bigint", "timestamptz": "timestamp"}

_MANIFEST_COLUMNS = (
    ("source_file", "string"),
    ("feed", "string"),
    ("file_checksum", "string"),
    ("file_size", "bigint"),
    ("file_mtime_ns", "bigint"),
    ("row_count", "bigint"),
    ("file_received_at", "timestamp"),
    ("loaded_at", "timestamp"),
    ("load_id", "string"),
    ("status", "string"),
    ("error", "string"),
    ("last_attempt_at", "timestamp"),
)
_BOOKKEEPING_TABLES = {
    MANIFEST_TABLE: _MANIFEST_COLUMNS,
    LOAD_LOG_TABLE: (
        ("load_id", "string"),
        ("feed", "string"),
        ("source_file", "string"),
        ("file_checksum", "string"),
        ("outcome", "string"),
        ("row_count", "bigint"),
        ("error", "string"),
        ("attempted_at", "timestamp"),
    ),
    TOMBSTONES_TABLE: (
        ("request_id", "string"),
        ("kind", "string"),
        ("value", "string"),
        ("forgotten_at", "timestamp"),
    ),
    ERASURES_TABLE: (
        ("request_id", "string"),
        ("reason", "string"),
        ("feed", "string"),
        ("source_file", "string"),
        ("file_checksum", "string"),
        ("load_id", "string"),
        ("rows_erased", "bigint"),
        ("erased_at", "timestamp"),
    ),
    BATCH_VALIDATIONS_TABLE: (
        ("feed", "string"),
        ("suite", "string"),
        ("source_file", "string"),
        ("load_id", "string"),
        ("validated_at", "timestamp"),
        ("row_count", "bigint"),
        ("success", "boolean"),
        ("blocked", "boolean"),
        ("blocking_expectations", "string"),
        ("failed_expectations", "string"),
    ),
}

# Rows of forgotten respondents (orchestration/privacy.py, same rules): by respondent_id; an
# address or a response id only reaches rows without a respondent_id.
_TOMBSTONED = {
    "nps_responses": f"""(
        trim(respondent_id) in (
            select value from {TOMBSTONES_TABLE} where kind = '{RESPONDENT_ID}'
        )
        or (
            nullif(trim(respondent_id), '') is null
            and (
                sha2(lower(trim(respondent_email)), 256) in (
                    select value from {TOMBSTONES_TABLE} where kind = '{EMAIL_SHA256}'
                )
                or trim(response_id) in (
                    select value from {TOMBSTONES_TABLE} where kind = '{RESPONSE_ID}'
                )
            )
        )
    )""",
    "followup_events": f"""(
        trim(response_id) in (select value from {TOMBSTONES_TABLE} where kind = '{RESPONSE_ID}')
    )""",
}


def spark_settings(warehouse_dir: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """The session settings of the `spark` target in profiles.yml (keep the two in step).

    `warehouse_dir` (default env NPS_SPARK_WAREHOUSE_DIR, else data/spark) holds the tables
    (`warehouse/`) and the embedded Derby metastore (`metastore_db/`)."""
    root = str(warehouse_dir or os.environ.get("NPS_SPARK_WAREHOUSE_DIR", DEFAULT_WAREHOUSE_DIR))
    return {
        "spark.master": os.environ.get("NPS_SPARK_MASTER", "local[2]"),
        "spark.sql.warehouse.dir": f"{root}/warehouse",
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={root}/metastore_db;create=true"
        ),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={root}",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": os.environ.get("NPS_SPARK_SHUFFLE_PARTITIONS", "2"),
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        "spark.ui.enabled": "false",
        # the console progress bar would break into dbt's JSON log lines, which dagster-dbt reads
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.host": "127.0.0.1",
        "spark.log.structuredLogging.enabled": "false",
        # the driver keeps every query's plan for the UI's history: a build runs hundreds
        "spark.driver.memory": os.environ.get("NPS_SPARK_DRIVER_MEMORY", "2g"),
        "spark.sql.ui.retainedExecutions": "20",
        "spark.ui.retainedJobs": "50",
        "spark.ui.retainedStages": "50",
        # the complementary suppression unit test nests 12 rounds of CTEs: more than the
        # analyzer's default 100 passes
        "spark.sql.analyzer.maxIterations": "1000",
    }


def spark_session(warehouse_dir: str | os.PathLike[str] | None = None) -> SparkSession:
    """A local session with the `spark` target's settings (or the running one: dbt's session
    method calls getOrCreate too, so a loader and dbt in one process share one session)."""
    builder = SparkSession.builder.appName("nps-warehouse").enableHiveSupport()
    for key, value in spark_settings(warehouse_dir).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


@dataclass(frozen=True)
class _LandedFile:
    path: str  # as Spark names it, e.g. file:/srv/landing/nps/a.csv
    source_file: str  # relative to the landing folder, forward slashes
    size: int
    mtime_ns: int


def ensure_raw_tables(spark: SparkSession, feeds: Iterable[Feed] = FEEDS) -> None:
    """Create the raw schema, the feeds' tables and the bookkeeping tables the models read."""
    spark.sql(f"create schema if not exists {RAW_SCHEMA}")
    for table, columns in _BOOKKEEPING_TABLES.items():
        spark.sql(
            f"create table if not exists {table} ("
            + ", ".join(f"{name} {kind}" for name, kind in columns)
            + ") using parquet"
        )
    for feed in feeds:
        spark.sql(
            f"create table if not exists {RAW_SCHEMA}.{feed.table} ("
            + ", ".join(f"{name} {kind}" for name, kind in _raw_columns(feed))
            + ") using parquet partitioned by (_source_file)"
        )


def load_landing(
    spark: SparkSession,
    landing_dir: str | os.PathLike[str],
    feeds: Sequence[Feed] = FEEDS,
    load_id: str | None = None,
    now: datetime | None = None,
) -> list[LoadReport]:
    """Load every new or changed file of every feed; never raises for a bad file."""
    load_id = load_id or uuid.uuid4().hex
    now = now or datetime.now(UTC)
    ensure_raw_tables(spark, feeds)
    return [load_feed(spark, landing_dir, feed, load_id, now) for feed in feeds]


def load_feed(
    spark: SparkSession,
    landing_dir: str | os.PathLike[str],
    feed: Feed,
    load_id: str,
    now: datetime,
) -> LoadReport:
    """Load the new or changed files of one feed (see the module docstring)."""
    ensure_raw_tables(spark, [feed])
    report = LoadReport(feed=feed.name, load_id=load_id)
    manifest = {row["source_file"]: row.asDict() for row in spark.table(MANIFEST_TABLE).collect()}
    files = _discover(spark, landing_dir, feed)
    candidates = [
        landed
        for landed in files
        if not _unchanged_stat(manifest.get(landed.source_file), landed, feed)
    ]
    checksums = _checksums(spark, [landed.path for landed in candidates])
    has_tombstones = spark.table(TOMBSTONES_TABLE).limit(1).count() > 0
    log_rows = []
    for landed in files:
        previous = manifest.get(landed.source_file)
        if landed not in candidates:
            report.files.append(FileOutcome(landed.source_file, UNCHANGED))
            continue
        checksum, valid_utf8 = checksums[landed.path]
        if previous and previous["status"] == LOADED and previous["file_checksum"] == checksum:
            previous.update(file_size=landed.size, file_mtime_ns=landed.mtime_ns)
            report.files.append(FileOutcome(landed.source_file, UNCHANGED))
            continue
        received_at = (previous or {}).get("file_received_at") or now
        outcome = _load_file(
            spark, feed, landed, checksum, valid_utf8, received_at, now, load_id, has_tombstones
        )
        replaced = previous is not None
        if outcome.outcome == FAILED:
            log.warning("landing file not loaded: %s", outcome.error)
            manifest[landed.source_file] = {
                **(previous or {"source_file": landed.source_file, "feed": feed.name}),
                "status": FAILED,
                "error": outcome.error,
                "last_attempt_at": now,
            }
        else:
            outcome = FileOutcome(
                outcome.source_file,
                REPLACED if replaced else LOADED,
                outcome.rows,
                None,
                outcome.dropped_columns,
            )
            log.info("%s %s: %d rows", outcome.outcome, landed.source_file, outcome.rows)
            manifest[landed.source_file] = {
                "source_file": landed.source_file,
                "feed": feed.name,
                "file_checksum": checksum,
                "file_size": landed.size,
                "file_mtime_ns": landed.mtime_ns,
                "row_count": outcome.rows,
                "file_received_at": received_at,
                "loaded_at": now,
                "load_id": load_id,
                "status": LOADED,
                "error": None,
                "last_attempt_at": now,
            }
        report.files.append(outcome)
        log_rows.append(
            (
                load_id,
                feed.name,
                landed.source_file,
                checksum,
                outcome.outcome,
                outcome.rows,
                outcome.error,
                now,
            )
        )
    _write_rows(spark, MANIFEST_TABLE, [_manifest_row(row) for row in manifest.values()], True)
    _write_rows(spark, LOAD_LOG_TABLE, log_rows, False)
    return report


def _load_file(
    spark: SparkSession,
    feed: Feed,
    landed: _LandedFile,
    checksum: str,
    valid_utf8: bool,
    received_at: datetime,
    now: datetime,
    load_id: str,
    has_tombstones: bool,
) -> FileOutcome:
    try:
        fmt = file_format(Path(landed.source_file))
        if fmt is None:
            raise FileLoadError(
                landed.source_file, f"unsupported file type '{Path(landed.source_file).suffix}'"
            )
        if fmt != "parquet" and not valid_utf8:
            raise _diagnosed(landed, None, "undecodable bytes: not valid UTF-8")
        frame, columns = _read(spark, landed, fmt)
        frame, landed_rows = _numbered(spark, frame)
        rows, dropped = _raw_rows(frame, columns, feed, landed.source_file)
        rows = _with_lineage(rows, feed, landed, checksum, received_at, now, load_id)
        erased = 0
        if has_tombstones and feed.table in _TOMBSTONED:
            flagged = rows.withColumn("__erased", F.expr(_TOMBSTONED[feed.table]))
            erased = flagged.where("__erased").count()
            rows = flagged.where("not __erased").drop("__erased")
        # dynamic partition overwrite: exactly this file's partition is replaced
        rows.write.insertInto(f"{RAW_SCHEMA}.{feed.table}", overwrite=True)
        if erased:
            _write_rows(
                spark,
                ERASURES_TABLE,
                [
                    (
                        None,
                        "tombstone_at_load",
                        feed.name,
                        landed.source_file,
                        checksum,
                        load_id,
                        erased,
                        now,
                    )
                ],
                False,
            )
            log.info("%s: %d row(s) of forgotten respondents dropped", landed.source_file, erased)
    except FileLoadError as exc:
        return FileOutcome(landed.source_file, FAILED, 0, str(exc))
    except (PySparkException, ValueError) as exc:
        return FileOutcome(landed.source_file, FAILED, 0, str(_diagnosed(landed, exc)))
    # like the DuckDB loader, the manifest counts the file's rows, erased ones included
    return FileOutcome(landed.source_file, LOADED, landed_rows, None, dropped)


def _raw_columns(feed: Feed) -> list[tuple[str, str]]:
    # the partition column goes last, as Spark stores it
    columns = [(name, "string") for name in feed.columns] + [
        (name, _SPARK_TYPES[kind]) for name, kind in LINEAGE_COLUMNS if name != "_source_file"
    ]
    return [*columns, ("_source_file", "string")]


def _with_lineage(
    rows: DataFrame,
    feed: Feed,
    landed: _LandedFile,
    checksum: str,
    received_at: datetime,
    now: datetime,
    load_id: str,
) -> DataFrame:
    lineage = {
        "_file_checksum": F.lit(checksum),
        "_file_received_at": F.lit(received_at).cast("timestamp"),
        "_loaded_at": F.lit(now).cast("timestamp"),
        "_load_id": F.lit(load_id),
        "_source_file": F.lit(landed.source_file),
    }
    return rows.select(
        *[
            lineage[name].alias(name) if name in lineage else F.col(name)
            for name, _ in _raw_columns(feed)
        ]
    )


def _discover(
    spark: SparkSession, landing_dir: str | os.PathLike[str], feed: Feed
) -> list[_LandedFile]:
    """The feed's files, sorted by their path relative to the landing folder; Spark's listing
    already skips names starting with '.' or '_', checked again here for every folder level."""
    root = _qualified(spark, f"{os.fspath(landing_dir).rstrip('/')}/{feed.folder}")
    landing = root.rsplit("/", 1)[0]
    try:
        listing = (
            spark.read.format("binaryFile")
            .option("recursiveFileLookup", "true")
            .load(root)
            .select("path", "length", "modificationTime")
            .collect()
        )
    except AnalysisException as exc:
        if "PATH_NOT_FOUND" in str(exc) or "Path does not exist" in str(exc):
            return []
        raise
    files = []
    for row in listing:
        path = row["path"]
        relative = path[len(landing) + 1 :] if path.startswith(landing + "/") else path
        parts = relative.split("/")[1:]
        if any(part.startswith((".", "_")) for part in parts):
            continue
        mtime_ns = int(row["modificationTime"].replace(tzinfo=UTC).timestamp() * 1000) * 1_000_000
        files.append(_LandedFile(path, relative, int(row["length"]), mtime_ns))
    return sorted(files, key=lambda landed: landed.source_file)


def _qualified(spark: SparkSession, path: str) -> str:
    jvm = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    fs = hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    return str(fs.makeQualified(hadoop_path).toString()).rstrip("/")


def _unchanged_stat(previous: dict | None, landed: _LandedFile, feed: Feed) -> bool:
    # same size and modification time as the loaded version: skip hashing
    return bool(
        previous
        and previous.get("feed") == feed.name
        and previous.get("status") == LOADED
        and previous.get("file_size") == landed.size
        and previous.get("file_mtime_ns") == landed.mtime_ns
    )


def _checksums(spark: SparkSession, paths: list[str]) -> dict[str, tuple[str, bool]]:
    """sha256 and UTF-8 validity of each file, computed by Spark where the bytes are."""
    if not paths:
        return {}
    rows = (
        spark.read.format("binaryFile")
        .load(paths)
        .select(
            "path",
            F.sha2("content", 256).alias("checksum"),
            F.expr("is_valid_utf8(cast(content as string))").alias("valid_utf8"),
        )
        .collect()
    )
    return {row["path"]: (row["checksum"], bool(row["valid_utf8"])) for row in rows}


def _read(
    spark: SparkSession, landed: _LandedFile, fmt: str
) -> tuple[DataFrame, list[tuple[str, str, Column]]]:
    """The file as a frame with `__row` (1-based data row) and its columns as
    (as written, normalised name, text expression)."""
    if fmt == "csv":
        return _read_csv(spark, landed)
    if fmt == "jsonl":
        return _read_jsonl(spark, landed)
    frame = spark.read.parquet(landed.path)
    columns = [
        (name, normalise_header(name), F.col(f"`{name}`").cast("string")) for name in frame.columns
    ]
    return _scan_positions(frame), columns


def _read_csv(
    spark: SparkSession, landed: _LandedFile
) -> tuple[DataFrame, list[tuple[str, str, Column]]]:
    first = spark.read.text(landed.path).limit(1).collect()
    if not first or not first[0]["value"].strip():
        raise FileLoadError(landed.source_file, "empty file: no header row", line=1)
    header_text = first[0]["value"].removeprefix("\ufeff").rstrip("\r")
    delimiter = ";" if header_text.count(";") > header_text.count(",") else ","
    header = next(csv.reader([header_text], delimiter=delimiter))
    schema = StructType([StructField(f"c{i}", StringType()) for i in range(len(header))])
    frame = (
        spark.read.schema(schema)
        .option("header", "true")
        .option("enforceSchema", "true")
        .option("sep", delimiter)
        .option("quote", '"')
        .option("escape", '"')
        .option("multiLine", "true")  # quoted line breaks, as DuckDB reads them
        .option("mode", "FAILFAST")
        .option("encoding", "UTF-8")
        .csv(landed.path)
    )
    columns = [
        (written, normalise_header(written), F.col(f"c{i}")) for i, written in enumerate(header)
    ]
    return _scan_positions(frame), columns


def _read_jsonl(
    spark: SparkSession, landed: _LandedFile
) -> tuple[DataFrame, list[tuple[str, str, Column]]]:
    # Each object is read as a map of text: `7` stays "7" and a nested value stays JSON, exactly
    # as exported. Blank lines are skipped; a line that is not one JSON object fails the file.
    lines = _scan_positions(spark.read.text(landed.path)).withColumn(
        "value", F.regexp_replace("value", "^\ufeff", "")
    )
    parsed = lines.where(F.trim("value") != "").withColumn(
        "__object", F.from_json("value", "map<string,string>", {"mode": "PERMISSIVE"})
    )
    # one pass: are there lines that are not objects, and which keys do the objects use
    summary = parsed.agg(
        F.count(F.when(F.col("__object").isNull(), 1)).alias("bad"),
        F.array_distinct(F.flatten(F.collect_list(F.map_keys("__object")))).alias("keys"),
    ).collect()[0]
    if summary["bad"]:
        raise _diagnosed(landed, None, "each line must be one JSON object")
    keys = sorted(summary["keys"] or [])
    columns = [(key, normalise_header(key), F.col("__object").getItem(key)) for key in keys]
    return parsed, columns


def _scan_positions(frame: DataFrame) -> DataFrame:
    """Where each row sits in the file: the block (split) it was read from and an id that grows
    with the row's position within that block; taken right at the scan."""
    return frame.select(
        "*",
        F.expr("input_file_block_start()").alias("__block"),
        F.monotonically_increasing_id().alias("__position"),
    )


def _numbered(spark: SparkSession, frame: DataFrame) -> tuple[DataFrame, int]:
    """`__row`: the 1-based row number in the file, without funnelling the file through one
    task: rows are ranked within their block, and blocks offset by the rows of earlier blocks
    (only the count per block reaches the driver). Also returns the file's row count."""
    in_block = frame.withColumn(
        "__in_block", F.row_number().over(Window.partitionBy("__block").orderBy("__position"))
    )
    offsets, total = [], 0
    for row in sorted(frame.groupBy("__block").count().collect()):
        offsets.append((row["__block"], total))
        total += row["count"]
    if not offsets:
        return in_block.withColumn("__row", F.lit(None).cast("bigint")), 0
    offset_frame = spark.createDataFrame(offsets, "__block bigint, __offset bigint")
    numbered = in_block.join(F.broadcast(offset_frame), "__block").withColumn(
        "__row", (F.col("__offset") + F.col("__in_block")).cast("bigint")
    )
    return numbered, total


def _raw_rows(
    frame: DataFrame, columns: list[tuple[str, str, Column]], feed: Feed, source_file: str
) -> tuple[DataFrame, tuple[str, ...]]:
    """The contract columns of a feed from a file's columns (same rules as the DuckDB loader:
    names compared normalised, a repeated or empty name fails the file, forbidden columns are
    dropped unread, unknown ones go to extra_columns)."""
    by_name, extra, dropped = split_columns(columns, feed, source_file)
    selected = [by_name.get(name, F.lit(None).cast("string")).alias(name) for name in feed.columns]
    if extra:
        pairs = F.struct(*[expression.alias(name) for name, expression in extra])
        selected.append(F.to_json(pairs, {"ignoreNullFields": "false"}).alias("extra_columns"))
    else:
        selected.append(F.lit(None).cast("string").alias("extra_columns"))
    selected.append(F.col("__row").alias("_source_row"))
    return frame.select(*selected), dropped


def _diagnosed(
    landed: _LandedFile, error: Exception | None, fallback: str = "unreadable file"
) -> FileLoadError:
    """The DuckDB loader's precise message (line and column) when the file is on this machine,
    else Spark's own."""
    local = Path(landed.path.removeprefix("file:")) if landed.path.startswith("file:") else None
    if local is not None and local.is_file():
        return diagnose(local, landed.source_file, error or ValueError(fallback))
    text = str(error).strip().splitlines()[0] if error else fallback
    return FileLoadError(landed.source_file, text)


def _manifest_row(row: dict) -> tuple:
    return tuple(row.get(name) for name, _ in _MANIFEST_COLUMNS)


def _write_rows(spark: SparkSession, table: str, rows: list[tuple], overwrite: bool) -> None:
    if not rows and not overwrite:
        return
    schema = ", ".join(f"{name} {kind}" for name, kind in _BOOKKEEPING_TABLES[table])
    spark.createDataFrame(rows, schema).write.insertInto(table, overwrite=overwrite)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Load landing files into the raw tables of the local Spark warehouse "
        "(the `spark` dbt target), then exit."
    )
    parser.add_argument(
        "--landing",
        default=os.environ.get("NPS_LANDING_DIR", "data/landing"),
        help="landing folder or URI (default: $NPS_LANDING_DIR or data/landing)",
    )
    parser.add_argument(
        "--warehouse-dir",
        default=None,
        help="Spark warehouse and metastore folder (default: $NPS_SPARK_WAREHOUSE_DIR or "
        f"{DEFAULT_WAREHOUSE_DIR})",
    )
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="use the session spark-submit configured (its master, metastore and warehouse) "
        "instead of the local one; only the UTC session time zone is set",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.cluster:
        spark = SparkSession.builder.enableHiveSupport().getOrCreate()
        spark.conf.set("spark.sql.session.timeZone", "UTC")
        spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
    else:
        spark = spark_session(args.warehouse_dir)
    try:
        reports = load_landing(spark, args.landing)
    finally:
        spark.stop()
    failed = [outcome for report in reports for outcome in report.failed]
    for report in reports:
        log.info(
            "%s: %d file(s) written, %d rows, %d failed",
            report.feed,
            len(report.written),
            report.rows_written,
            len(report.failed),
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
