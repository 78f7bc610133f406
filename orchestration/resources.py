"""Resources shared by the assets: the DuckDB warehouse and the landing folder."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb


class WarehouseResource(dg.ConfigurableResource):
    """The embedded DuckDB warehouse file. Connections are short-lived: DuckDB allows one writer
    process, and dbt runs in its own process between our steps."""

    path: str

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = duckdb.connect(self.path, read_only=read_only)
        try:
            conn.execute("set TimeZone = 'UTC'")
            yield conn
        finally:
            conn.close()


class LandingResource(dg.ConfigurableResource):
    """The landing folder that follows the contract (`<dir>/nps/`, ...)."""

    path: str

    @property
    def directory(self) -> Path:
        return Path(self.path)
