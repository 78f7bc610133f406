"""The warehouse engine behind the pipeline: DuckDB (default), PostgreSQL or Spark.

dbt picks its target from `DBT_TARGET` (profiles.yml); the Python side asks `current_engine()`
for the same choice, so the loader, the quality checks and serving never test the target
themselves. The interface is small on purpose: connect, run SQL, read a batch as Arrow, and
write raw rows.

Landing files are always read and typed as text by DuckDB (orchestration/landing/readers.py):
on PostgreSQL the loader keeps working on the local DuckDB file (`NPS_WAREHOUSE`), which then
acts as the landing cache that holds the manifest, the load log, the batch verdicts and the
tombstones with exactly the DuckDB semantics, and the engine brings PostgreSQL's raw schema level
with it after each load, file by file (`write_raw`), where dbt builds every model.

On Spark, Spark itself reads the landing files into its raw tables
(orchestration/landing/spark_loader.py), manifest and verdicts included; the DuckDB path only
names where the run's lock file goes and, unless NPS_SPARK_WAREHOUSE_DIR says otherwise, the
folder beside it that holds the Spark warehouse (orchestration/engines/spark_engine.py).
"""

from __future__ import annotations

import os
from pathlib import Path

from orchestration.engines.base import Engine
from orchestration.engines.duckdb_engine import DuckDBEngine
from orchestration.engines.postgres_engine import PostgresEngine, postgres_settings_from_env
from orchestration.engines.spark_engine import (
    SPARK_WAREHOUSE_DIR_ENV,
    SparkEngine,
    default_warehouse_dir,
)

TARGET_ENV = "DBT_TARGET"
DUCKDB, POSTGRES, SPARK = "duckdb", "postgres", "spark"
TARGETS = (DUCKDB, POSTGRES, SPARK)

__all__ = [
    "DUCKDB",
    "POSTGRES",
    "SPARK",
    "TARGETS",
    "TARGET_ENV",
    "DuckDBEngine",
    "Engine",
    "PostgresEngine",
    "SparkEngine",
    "before_dbt",
    "current_engine",
    "current_target",
    "postgres_settings_from_env",
    "prepare_target_environment",
]


def current_target() -> str:
    """The dbt target the pipeline runs against (`DBT_TARGET`, default duckdb)."""
    target = (os.environ.get(TARGET_ENV) or DUCKDB).strip().lower()
    if target not in TARGETS:
        raise ValueError(f"{TARGET_ENV}={target!r}: expected one of {', '.join(TARGETS)}")
    return target


# PostgreSQL's JIT compiles the complementary-suppression and rolling-window queries for tens of
# seconds each (they run in milliseconds without it); sessions also get UTC, as DuckDB's do
POSTGRES_SESSION_OPTIONS = "-c jit=off -c TimeZone=UTC"


def prepare_target_environment(warehouse: Path | str | None = None) -> None:
    """Session options for every PostgreSQL connection of the run, dbt's included (libpq reads
    PGOPTIONS); an explicit PGOPTIONS is left alone. On Spark, the warehouse folder dbt's
    profile and the run's session share (NPS_SPARK_WAREHOUSE_DIR, absolute: dbt runs elsewhere)."""
    if current_target() == POSTGRES:
        os.environ.setdefault("PGOPTIONS", POSTGRES_SESSION_OPTIONS)
    if current_target() == SPARK and warehouse is not None:
        os.environ[SPARK_WAREHOUSE_DIR_ENV] = str(default_warehouse_dir(warehouse).resolve())


def before_dbt(engine: Engine) -> None:
    """Free what dbt's own process needs: on Spark, the embedded metastore the run's session
    holds (see spark_engine.py); nothing on the other engines."""
    if engine.name == SPARK:
        engine.release()


def current_engine(warehouse: Path | str) -> Engine:
    """The engine holding the models for the configured target; `warehouse` is the DuckDB file
    (the warehouse itself, or the landing cache on PostgreSQL)."""
    if current_target() == POSTGRES:
        return PostgresEngine(postgres_settings_from_env())
    if current_target() == SPARK:
        return SparkEngine(default_warehouse_dir(warehouse))
    return DuckDBEngine(Path(warehouse))
