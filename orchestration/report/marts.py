"""Read-only access to the marts the report draws from, and what they look like.

Marts are built by several models that evolve on their own schedule, so every section asks
first: which marts exist (information_schema), and which of the columns it understands do they
carry. A section whose mart is absent, or whose columns it cannot recognise, is left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from pathlib import Path

import pandas as pd

from orchestration.engines import DuckDBEngine, Engine

MARTS_SCHEMA = "marts"


class MartSource:
    """One read-only snapshot of schema `marts`: a DuckDB file (the published copy or the
    warehouse) or an engine (PostgreSQL's marts, on that target)."""

    def __init__(self, source: Path | str | Engine) -> None:
        self.engine: Engine = (
            DuckDBEngine(Path(source)) if isinstance(source, Path | str) else source
        )
        with ExitStack() as stack:
            # unqualified names from here on (see `table`)
            self._conn = stack.enter_context(self.engine.snapshot(MARTS_SCHEMA))
            rows = self.query(
                "select table_name, column_name from information_schema.columns "
                "where table_schema = ? order by table_name, ordinal_position",
                [MARTS_SCHEMA],
            ).itertuples(index=False)
            self._stack = stack.pop_all()  # kept open until close()
        self.columns: dict[str, list[str]] = {}
        for table, column in rows:
            self.columns.setdefault(table, []).append(column)

    def close(self) -> None:
        self._stack.close()

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
        """SQL both engines read (`?` placeholders) as a DataFrame."""
        return self.engine.read_frame(self._conn, sql, params)


def table(mart: str) -> str:
    """A mart's name in SQL (MartSource makes schema `marts` the default)."""
    return ident(mart)


def ident(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'
