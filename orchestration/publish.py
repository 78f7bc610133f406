"""Publish the marts for readers: a read-only DuckDB file swapped in by rename, Parquet per mart.

BI tools never open the warehouse itself: DuckDB lets one process write a file, and a reader
holding it would block the pipeline. They open the published copy instead. Each publication is
written beside the old one and renamed over it, so a reader sees the old marts or the new ones,
never a mix; a reader that still holds the old file keeps reading it (POSIX rename semantics).

On PostgreSQL, BI tools query the database itself (its readers never block a writer), so only
the Parquet files are written, read from PostgreSQL's marts (`publish_parquet`).

On Spark, Spark writes the Parquet files itself (`publish_spark_marts`), and the DuckDB file
holds views over them: the marts never pass through this process.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow.parquet as pq

from orchestration.engines.postgres_engine import PostgresEngine, arrow_batches
from orchestration.landing.loader import apply_duckdb_settings
from orchestration.landing.readers import quote_identifier, sql_literal

if TYPE_CHECKING:
    from orchestration.engines.spark_engine import SparkEngine

log = logging.getLogger(__name__)

PUBLISHED_SCHEMA = "marts"
# not "marts.duckdb": its catalog name would clash with the schema `marts`
PUBLISHED_DATABASE = "nps_warehouse.duckdb"
PARQUET_DIR = "parquet"


@dataclass(frozen=True)
class Publication:
    database: Path | None  # None on an engine BI tools query directly (PostgreSQL)
    parquet_dir: Path
    tables: dict[str, int]  # mart -> rows


def publish_marts(warehouse: Path, publish_dir: Path, run_id: str) -> Publication:
    publish_dir.mkdir(parents=True, exist_ok=True)
    parquet_dir = publish_dir / PARQUET_DIR
    parquet_dir.mkdir(exist_ok=True)
    database = publish_dir / PUBLISHED_DATABASE
    staged_database = publish_dir / f".{PUBLISHED_DATABASE}.{run_id}"
    staged_parquet = publish_dir / f".{PARQUET_DIR}.{run_id}"
    staged_database.unlink(missing_ok=True)
    shutil.rmtree(staged_parquet, ignore_errors=True)
    staged_parquet.mkdir()
    tables: dict[str, int] = {}
    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        apply_duckdb_settings(conn)  # big marts stream through within NPS_DUCKDB_MEMORY_LIMIT
        names = [
            name
            for (name,) in conn.execute(
                "select table_name from information_schema.tables "
                "where table_schema = ? and table_type = 'BASE TABLE' order by 1",
                [PUBLISHED_SCHEMA],
            ).fetchall()
        ]
        # a read-only connection attaches read-only unless told otherwise
        conn.execute(f"attach {sql_literal(str(staged_database))} as published (read_only false)")
        conn.execute(f"create schema published.{PUBLISHED_SCHEMA}")
        for name in names:
            source = f"{PUBLISHED_SCHEMA}.{quote_identifier(name)}"
            conn.execute(
                f"create table published.{PUBLISHED_SCHEMA}.{quote_identifier(name)} as "
                f"select * from {source}"
            )
            conn.execute(
                f"copy (select * from {source}) to "
                f"{sql_literal(str(staged_parquet / f'{name}.parquet'))} (format parquet)"
            )
            tables[name] = conn.execute(f"select count(*) from {source}").fetchall()[0][0]
        conn.execute("detach published")
    finally:
        conn.close()
    # the swap: each rename is atomic; the database first, so SQL readers switch in one step
    os.replace(staged_database, database)
    _swap_parquet(staged_parquet, parquet_dir, tables)
    log.info("published %d marts to %s", len(tables), publish_dir)
    return Publication(database=database, parquet_dir=parquet_dir, tables=tables)


def publish_parquet(engine: PostgresEngine, publish_dir: Path, run_id: str) -> Publication:
    """Parquet per mart, read from `engine` (PostgreSQL, which BI tools query directly, so no
    DuckDB copy is written). Every mart comes from one snapshot of the database, and each file
    is swapped in by rename as on DuckDB."""
    parquet_dir = publish_dir / PARQUET_DIR
    parquet_dir.mkdir(parents=True, exist_ok=True)
    staged_parquet = publish_dir / f".{PARQUET_DIR}.{run_id}"
    shutil.rmtree(staged_parquet, ignore_errors=True)
    staged_parquet.mkdir()
    tables: dict[str, int] = {}
    try:
        with engine.snapshot(PUBLISHED_SCHEMA) as conn:
            names = [
                name
                for (name,) in conn.execute(
                    "select table_name from information_schema.tables "
                    "where table_schema = ? and table_type = 'BASE TABLE' order by 1",
                    [PUBLISHED_SCHEMA],
                ).fetchall()
            ]
            for name in names:
                schema, batches = arrow_batches(
                    conn, f"select * from {PUBLISHED_SCHEMA}.{quote_identifier(name)}"
                )
                rows = 0
                with pq.ParquetWriter(staged_parquet / f"{name}.parquet", schema) as writer:
                    for batch in batches:
                        writer.write_batch(batch)
                        rows += batch.num_rows
                tables[name] = rows
        _swap_parquet(staged_parquet, parquet_dir, tables)
    finally:
        shutil.rmtree(staged_parquet, ignore_errors=True)
    log.info("published %d marts as Parquet to %s", len(tables), parquet_dir)
    return Publication(database=None, parquet_dir=parquet_dir, tables=tables)


def publish_spark_marts(engine: SparkEngine, publish_dir: Path, run_id: str) -> Publication:
    """Parquet per mart written by Spark (one file each, as on the other engines), and the
    read-only DuckDB file with a view per mart over its Parquet file, both swapped in by
    rename."""
    publish_dir.mkdir(parents=True, exist_ok=True)
    parquet_dir = publish_dir / PARQUET_DIR
    parquet_dir.mkdir(exist_ok=True)
    staged_parquet = publish_dir / f".{PARQUET_DIR}.{run_id}"
    shutil.rmtree(staged_parquet, ignore_errors=True)
    staged_parquet.mkdir()
    spark = engine.session()
    tables: dict[str, int] = {}
    try:
        for entry in sorted(spark.catalog.listTables(PUBLISHED_SCHEMA), key=lambda t: t.name):
            if entry.tableType == "VIEW" or entry.isTemporary:
                continue
            frame = engine.table(PUBLISHED_SCHEMA, entry.name)
            written = staged_parquet / f".{entry.name}.spark"
            # one task writes the one file; the rows go from Spark to disk, not through here
            frame.coalesce(1).write.parquet(written.resolve().as_uri())
            (part,) = written.glob("part-*.parquet")
            part.replace(staged_parquet / f"{entry.name}.parquet")
            shutil.rmtree(written)
            tables[entry.name] = pq.ParquetFile(
                staged_parquet / f"{entry.name}.parquet"
            ).metadata.num_rows
        _swap_parquet(staged_parquet, parquet_dir, tables)
    finally:
        shutil.rmtree(staged_parquet, ignore_errors=True)
    database = publish_dir / PUBLISHED_DATABASE
    staged_database = publish_dir / f".{PUBLISHED_DATABASE}.{run_id}"
    staged_database.unlink(missing_ok=True)
    with duckdb.connect(str(staged_database)) as conn:
        conn.execute(f"create schema {PUBLISHED_SCHEMA}")
        for name in tables:
            path = (parquet_dir / f"{name}.parquet").resolve()
            conn.execute(
                f"create view {PUBLISHED_SCHEMA}.{quote_identifier(name)} as "
                f"select * from read_parquet({sql_literal(str(path))})"
            )
    os.replace(staged_database, database)
    log.info("published %d marts from Spark to %s", len(tables), publish_dir)
    return Publication(database=database, parquet_dir=parquet_dir, tables=tables)


def _swap_parquet(staged: Path, parquet_dir: Path, tables: dict[str, int]) -> None:
    for name in tables:
        os.replace(staged / f"{name}.parquet", parquet_dir / f"{name}.parquet")
    for stale in set(p.stem for p in parquet_dir.glob("*.parquet")) - set(tables):
        (parquet_dir / f"{stale}.parquet").unlink()
    shutil.rmtree(staged, ignore_errors=True)
