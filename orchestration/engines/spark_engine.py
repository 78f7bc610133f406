"""Apache Spark: the `spark` dbt target (a local session, embedded Derby metastore).

The run process and dbt take turns on the metastore. Derby admits one process at a time, and
dagster-dbt runs dbt in a process of its own (whose `method: session` starts its own Spark). So
the run process opens its session when a step needs Spark (the raw load, the GX suites,
publishing) and `release()` stops it, and the JVM holding the metastore with it, right before
dbt starts; the next step that needs Spark starts a fresh JVM (about ten seconds). Everything
else the pipeline asks an engine for (a query, a table as Arrow) goes through the same session.

PySpark is imported when a session is first needed, never at module import (the Dagster
definitions import the engines without the `spark` extra installed).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

SPARK_WAREHOUSE_DIR_ENV = "NPS_SPARK_WAREHOUSE_DIR"
# how long the JVM may take to exit once its gateway is closed
_JVM_EXIT_SECONDS = 60


def default_warehouse_dir(warehouse: Path | str) -> Path:
    """$NPS_SPARK_WAREHOUSE_DIR, else `spark/` beside the DuckDB warehouse path (data/spark for
    the default data/warehouse.duckdb, as the Spark loader's default)."""
    configured = os.environ.get(SPARK_WAREHOUSE_DIR_ENV)
    return Path(configured) if configured else Path(warehouse).resolve().parent / "spark"


class _Result:
    def __init__(self, rows: list[tuple]) -> None:
        self._rows = rows

    def fetchall(self) -> list[tuple]:
        return self._rows


class _Connection:
    """The session with the small `execute(sql, params).fetchall()` surface DuckDB offers; `?`
    placeholders are Spark's own positional parameters."""

    def __init__(self, session: SparkSession) -> None:
        self.session = session

    def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> _Result:
        sql = with_catalog_views(self.session, sql)
        frame = self.session.sql(sql, args=list(parameters) if parameters else None)
        return _Result([tuple(row) for row in frame.collect()])

    def close(self) -> None:  # the session outlives a connection: release() stops it
        pass


_INFORMATION_SCHEMA = re.compile(r"\binformation_schema\.(tables|columns)\b", re.IGNORECASE)


def with_catalog_views(session: SparkSession, sql: str) -> str:
    """`sql` with `information_schema.tables` / `.columns` (which Spark lacks) read from temp
    views of Spark's catalog with the standard's column names, so the checks and the summary
    ask every engine the same question."""
    wanted = {match.lower() for match in _INFORMATION_SCHEMA.findall(sql)}
    if not wanted:
        return sql
    tables, columns = [], []
    for database in session.catalog.listDatabases():
        for entry in session.catalog.listTables(database.name):
            if entry.isTemporary:
                continue
            kind = "VIEW" if entry.tableType == "VIEW" else "BASE TABLE"
            tables.append((database.name, entry.name, kind))
            if "columns" in wanted:
                for position, column in enumerate(
                    session.catalog.listColumns(entry.name, database.name), start=1
                ):
                    columns.append(
                        (database.name, entry.name, column.name, position, column.dataType)
                    )
    session.createDataFrame(
        tables, "table_schema string, table_name string, table_type string"
    ).createOrReplaceTempView("nps_information_schema_tables")
    session.createDataFrame(
        columns,
        "table_schema string, table_name string, column_name string, "
        "ordinal_position int, data_type string",
    ).createOrReplaceTempView("nps_information_schema_columns")
    return _INFORMATION_SCHEMA.sub(
        lambda match: f"nps_information_schema_{match.group(1).lower()}", sql
    )


class SparkEngine:
    name = "spark"
    # BI tools read the Parquet files written per mart (orchestration/publish.py)
    publishes_duckdb_file = False

    def __init__(self, warehouse_dir: Path | str) -> None:
        self.warehouse_dir = Path(warehouse_dir)

    def __repr__(self) -> str:
        return f"SparkEngine({str(self.warehouse_dir)!r})"

    @property
    def label(self) -> str:
        return f"Spark warehouse {self.warehouse_dir}"

    def session(self) -> SparkSession:
        """The process's session with the `spark` target's settings (started when needed)."""
        from orchestration.landing.spark_loader import spark_session

        return spark_session(self.warehouse_dir)

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[_Connection]:
        yield _Connection(self.session())

    def fetchall(self, sql: str, parameters: Sequence[Any] | None = None) -> list[tuple]:
        with self.connect(read_only=True) as conn:
            return conn.execute(sql, parameters).fetchall()

    def read_arrow(self, sql: str) -> pa.Table:
        return self.session().sql(sql).toArrow()

    def table(self, schema: str, table: str) -> DataFrame:
        """`schema.table` as a Spark DataFrame (nothing is read until it is used)."""
        return self.session().table(f"`{schema}`.`{table}`")

    @contextmanager
    def snapshot(self, schema: str) -> Iterator[_Connection]:
        # one process writes at a time (the metastore's rule): nothing changes under a reader
        session = self.session()
        session.catalog.setCurrentDatabase(schema)
        try:
            yield _Connection(session)
        finally:
            session.catalog.setCurrentDatabase("default")

    def read_frame(
        self, conn: _Connection, sql: str, parameters: Sequence[Any] = ()
    ) -> pd.DataFrame:
        values = [v.item() if type(v).__module__ == "numpy" else v for v in parameters]
        frame = conn.session.sql(sql, args=values or None)
        return frame.toArrow().to_pandas(date_as_object=False)

    def table_columns(self, schema: str, table: str) -> list[str]:
        session = self.session()
        if not session.catalog.tableExists(table, schema):
            return []
        return [column.name for column in session.catalog.listColumns(table, schema)]

    def write_raw(self, source: duckdb.DuckDBPyConnection, tables: Sequence[str]) -> dict[str, int]:
        """Nothing to copy: the Spark loader writes the raw tables in Spark itself."""
        return {}

    def release(self) -> None:
        """Stop the session and the JVM holding the metastore, so dbt's process may open it."""
        release_session()


def release_session() -> None:
    """Stop this process's Spark session and its JVM (a no-op when none runs). PySpark keeps
    the JVM of a stopped session for the next one; that JVM still holds the embedded Derby
    metastore, so it is shut down too, and a later session starts a new one."""
    import sys

    if "pyspark" not in sys.modules:
        return
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession() or SparkSession._instantiatedSession
    if session is not None:
        session.stop()
    elif SparkContext._active_spark_context is not None:
        SparkContext._active_spark_context.stop()
    gateway = SparkContext._gateway
    if gateway is None:
        return
    process = getattr(gateway, "proc", None)
    gateway.shutdown()
    if process is not None:
        # the JVM exits when its standard input closes (PySpark's launcher watches it)
        if process.stdin is not None:
            process.stdin.close()
        process.wait(timeout=_JVM_EXIT_SECONDS)
    SparkContext._gateway = None
    SparkContext._jvm = None
    log.info("Spark session and JVM stopped: the metastore is free for dbt")
