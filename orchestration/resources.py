"""Resources shared by the assets: the DuckDB warehouse and the landing folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from orchestration.engines import Engine, current_engine
from orchestration.settings import PUBLISH_DIR_ENV


class WarehouseResource(dg.ConfigurableResource):
    """The embedded DuckDB warehouse file. Connections are short-lived: DuckDB allows one writer
    process, and dbt runs in its own process between our steps. On the PostgreSQL target the file
    is the loader's landing cache and `engine` reaches the models."""

    path: str

    @property
    def warehouse_path(self) -> Path:
        return Path(self.path)

    @property
    def publish_path(self) -> Path:
        """Where the read-only copy for BI tools goes: $NPS_PUBLISH_DIR, else `published/` beside
        the warehouse file."""
        configured = os.environ.get(PUBLISH_DIR_ENV)
        return Path(configured) if configured else self.warehouse_path.parent / "published"

    @property
    def engine(self) -> Engine:
        """Where the models live for the configured target (DBT_TARGET): this DuckDB file, or
        PostgreSQL, for which this file is the loader's landing cache (orchestration/engines)."""
        return current_engine(self.path)

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
