"""What the pipeline needs from a warehouse engine."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    import pyarrow as pa

# the raw tables every feed shares that dbt or the run summary read: loader bookkeeping,
# verdicts and erasure counts (the tombstones stay with the loader, which honours them)
SHARED_RAW_TABLES = (
    "landing_manifest",
    "landing_load_log",
    "batch_validations",
    "privacy_erasures",
)


class Connection(Protocol):
    """A DB-API-like connection of either engine, reduced to what callers use."""

    def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> Any: ...

    def close(self) -> None: ...


class Engine(Protocol):
    """One warehouse engine: where dbt builds the models and the checks read them."""

    name: str  # "duckdb" | "postgres" | "spark": also the dbt target
    publishes_duckdb_file: bool  # whether serving writes the read-only DuckDB copy

    @property
    def label(self) -> str:
        """What people call this warehouse: the file's name, or the PostgreSQL database."""
        ...

    def connect(self, read_only: bool = False) -> AbstractContextManager[Any]:
        """A short-lived connection; SQL placeholders are `?` on both engines."""
        ...

    def fetchall(self, sql: str, parameters: Sequence[Any] | None = None) -> list[tuple]:
        """Run one query and return its rows."""
        ...

    def read_arrow(self, sql: str) -> pa.Table:
        """Read a batch (a query's result) as an Arrow table."""
        ...

    def snapshot(self, schema: str) -> AbstractContextManager[Any]:
        """A read-only connection whose queries all see one state of the warehouse, unqualified
        names resolving in `schema` (the report reads the marts this way)."""
        ...

    def read_frame(self, conn: Any, sql: str, parameters: Sequence[Any] = ()) -> pd.DataFrame:
        """A query on a connection of this engine as a pandas DataFrame (numeric as double,
        dates and instants as pandas datetimes on both engines)."""
        ...

    def table_columns(self, schema: str, table: str) -> list[str]:
        """The columns of `schema.table` in order; empty when it does not exist."""
        ...

    def write_raw(self, source: duckdb.DuckDBPyConnection, tables: Sequence[str]) -> dict[str, int]:
        """Make the engine's `raw.<table>` equal to the loader's DuckDB `raw.<table>` for each
        table (a no-op when the engine is that DuckDB file). Returns rows per table."""
        ...


def information_schema_columns(engine: Engine, schema: str, table: str) -> list[str]:
    """`Engine.table_columns` for engines with an SQL-standard `information_schema` (DuckDB and
    PostgreSQL alike)."""
    return [
        name
        for (name,) in engine.fetchall(
            "select column_name from information_schema.columns "
            "where table_schema = ? and table_name = ? order by ordinal_position",
            [schema, table],
        )
    ]


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
