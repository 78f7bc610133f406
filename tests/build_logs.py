"""The logs a dbt build of an incremental model writes (macros/nps_incremental.sql and
macros/nps_rebuilt_from.sql), for tests that stand in for a build."""

from __future__ import annotations

from datetime import date, datetime

import duckdb


def create_build_logs(conn: duckdb.DuckDBPyConnection) -> None:
    """The schemas and the two logs: the watermarks and the first days rewritten."""
    conn.execute("set TimeZone = 'UTC'")
    for schema in ("marts", "intermediate"):
        conn.execute(f"create schema if not exists {schema}")
    conn.execute(
        "create table if not exists intermediate.nps_incremental_state "
        "(model_name varchar, processed_at timestamptz)"
    )
    conn.execute(
        "create table if not exists intermediate.nps_rebuilt_from "
        "(model_name varchar, first_day date, processed_at timestamptz)"
    )


def log_build(
    conn: duckdb.DuckDBPyConnection,
    model: str,
    first_day: date | str | None,
    processed_at: datetime | str,
    logged: bool = True,
) -> None:
    """What one build of `model` logs: its watermark and, unless not `logged` (an older model),
    the first day it rewrote (None: a full build)."""
    conn.execute(
        "insert into intermediate.nps_incremental_state values (?, ?)", [model, processed_at]
    )
    if logged:
        conn.execute(
            "insert into intermediate.nps_rebuilt_from values (?, ?, ?)",
            [model, first_day, processed_at],
        )
