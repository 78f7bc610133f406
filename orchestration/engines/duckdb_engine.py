"""DuckDB: the embedded warehouse file (the default target)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from orchestration.engines.base import information_schema_columns, quote


class DuckDBEngine:
    name = "duckdb"
    publishes_duckdb_file = True

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @property
    def label(self) -> str:
        return self.path.name

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = duckdb.connect(str(self.path), read_only=read_only)
        try:
            conn.execute("set TimeZone = 'UTC'")
            yield conn
        finally:
            conn.close()

    def fetchall(self, sql: str, parameters: Sequence[Any] | None = None) -> list[tuple]:
        with self.connect(read_only=True) as conn:
            return conn.execute(sql, list(parameters or ())).fetchall()

    def read_arrow(self, sql: str) -> pa.Table:
        with self.connect(read_only=True) as conn:
            # a relation, not a DB-API result: DuckDB hands Arrow over without an extra copy
            return conn.sql(sql).to_arrow_table()

    @contextmanager
    def snapshot(self, schema: str) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection, unqualified names resolving in `schema` when it exists.

        A read-only connection shares the file with no writer: it sees one state throughout."""
        with self.connect(read_only=True) as conn:
            present = conn.execute(
                "select catalog_name from information_schema.schemata "
                "where catalog_name = current_database() and schema_name = ?",
                [schema],
            ).fetchall()
            if present:
                # qualified by the catalog: a file called `marts.duckdb` makes `marts` ambiguous
                conn.execute(f"use {quote(present[0][0])}.{quote(schema)}")
            yield conn

    def read_frame(
        self, conn: duckdb.DuckDBPyConnection, sql: str, parameters: Sequence[Any] = ()
    ) -> Any:
        """A query's result as a pandas DataFrame."""
        return conn.execute(sql, list(parameters)).df()

    def table_columns(self, schema: str, table: str) -> list[str]:
        return information_schema_columns(self, schema, table)

    def write_raw(self, source: duckdb.DuckDBPyConnection, tables: Sequence[str]) -> dict[str, int]:
        # the loader wrote these very tables: nothing to copy
        return {
            table: source.execute(f"select count(*) from raw.{quote(table)}").fetchall()[0][0]
            for table in tables
        }
