"""Read-only access to the marts the report draws from, and what they look like.

Marts are built by several models that evolve on their own schedule, so every section asks
first: which marts exist (information_schema), and which of the columns it understands do they
carry. A section whose mart is absent, or whose columns it cannot recognise, is left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import duckdb
import pandas as pd

MARTS_SCHEMA = "marts"


class MartSource:
    """One read-only connection to a DuckDB file holding schema `marts`."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self._conn = duckdb.connect(str(database), read_only=True)
        self._conn.execute("set TimeZone = 'UTC'")
        rows = self._conn.execute(
            "select table_name, column_name from information_schema.columns "
            "where table_schema = ? order by table_name, ordinal_position",
            [MARTS_SCHEMA],
        ).fetchall()
        self.columns: dict[str, list[str]] = {}
        for table, column in rows:
            self.columns.setdefault(table, []).append(column)
        if self.columns:
            # unqualified names from here on: the published file is itself called `marts`, so
            # `marts.x` would be ambiguous between the catalog and the schema
            (catalog,) = self._conn.execute("select current_database()").fetchall()[0]
            self._conn.execute(f"use {ident(catalog)}.{ident(MARTS_SCHEMA)}")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> MartSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def has(self, mart: str) -> bool:
        return mart in self.columns

    def pick(self, mart: str, *candidates: str) -> str | None:
        """The first of `candidates` that `mart` has (marts may name a concept differently)."""
        present = set(self.columns.get(mart, ()))
        return next((c for c in candidates if c in present), None)

    def missing(self, mart: str, required: Iterable[str]) -> list[str]:
        present = set(self.columns.get(mart, ()))
        return [c for c in required if c not in present]

    def query(self, sql: str, params: Sequence[object] = ()) -> pd.DataFrame:
        return self._conn.execute(sql, list(params)).df()


def table(mart: str) -> str:
    """A mart's name in SQL (MartSource makes schema `marts` the default)."""
    return ident(mart)


def ident(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'
