"""Load landing files into the raw schema exactly once.

A manifest (`raw.landing_manifest`) remembers each file's checksum: an unchanged file is skipped, a
changed file replaces the rows its previous version loaded, a deleted file's rows stay. Each file is
loaded in its own transaction, so a file that fails leaves nothing half-loaded and the other files
still load. Every attempt is appended to `raw.landing_load_log`.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import duckdb

from orchestration.landing.feeds import LINEAGE_COLUMNS, Feed
from orchestration.landing.readers import (
    FileLoadError,
    SourceRelation,
    diagnose,
    source_relation,
    sql_literal,
)
from orchestration.privacy import ensure_privacy_tables, erase_tombstoned_rows

log = logging.getLogger(__name__)

# DuckDB resources, for the loader's connection and dbt's (profiles.yml reads the same variables)
MEMORY_LIMIT_ENV = "NPS_DUCKDB_MEMORY_LIMIT"
THREADS_ENV = "NPS_DUCKDB_THREADS"
# leaves room for the Python processes around DuckDB within a 4 GiB budget; DuckDB spills
# sorts, joins and aggregates to disk beyond it
DEFAULT_MEMORY_LIMIT = "2GB"

MANIFEST_TABLE = "raw.landing_manifest"
LOAD_LOG_TABLE = "raw.landing_load_log"

LOADED, REPLACED, UNCHANGED, FAILED = "loaded", "replaced", "unchanged", "failed"


@dataclass(frozen=True)
class FileOutcome:
    source_file: str
    outcome: str  # loaded | replaced | unchanged | failed
    rows: int = 0
    error: str | None = None
    dropped_columns: tuple[str, ...] = ()


@dataclass
class LoadReport:
    feed: str
    load_id: str
    files: list[FileOutcome] = field(default_factory=list)

    @property
    def written(self) -> list[FileOutcome]:
        return [f for f in self.files if f.outcome in (LOADED, REPLACED)]

    @property
    def failed(self) -> list[FileOutcome]:
        return [f for f in self.files if f.outcome == FAILED]

    @property
    def rows_written(self) -> int:
        return sum(f.rows for f in self.written)


def ensure_raw_schema(conn: duckdb.DuckDBPyConnection, feeds: Iterable[Feed]) -> None:
    conn.execute("create schema if not exists raw")
    ensure_privacy_tables(conn)  # the tombstones the loader honours, read by dbt too
    conn.execute(
        f"""
        create table if not exists {MANIFEST_TABLE} (
            source_file varchar primary key,
            feed varchar not null,
            file_checksum varchar,
            file_size bigint,
            file_mtime_ns bigint,
            row_count bigint,
            file_received_at timestamptz,
            loaded_at timestamptz,
            load_id varchar,
            status varchar not null,
            error varchar,
            last_attempt_at timestamptz
        )
        """
    )
    conn.execute(
        f"""
        create table if not exists {LOAD_LOG_TABLE} (
            load_id varchar not null,
            feed varchar not null,
            source_file varchar not null,
            file_checksum varchar,
            outcome varchar not null,
            row_count bigint,
            error varchar,
            attempted_at timestamptz not null
        )
        """
    )
    for feed in feeds:
        columns = [(name, "varchar") for name in feed.columns] + list(LINEAGE_COLUMNS)
        conn.execute(
            f"create table if not exists raw.{feed.table} ("
            + ", ".join(f"{name} {kind}" for name, kind in columns)
            + ")"
        )
        existing = {
            row[0]
            for row in conn.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'raw' and table_name = ?",
                [feed.table],
            ).fetchall()
        }
        for name, kind in columns:
            if name not in existing:  # the contract grew a column since this warehouse was made
                conn.execute(f"alter table raw.{feed.table} add column {name} {kind}")


def duckdb_settings() -> dict[str, str]:
    """`memory_limit` and `threads` from NPS_DUCKDB_MEMORY_LIMIT (e.g. `2GB`, `50%`; default
    2GB) and NPS_DUCKDB_THREADS (default: the machine's CPU count)."""
    return {
        "memory_limit": os.environ.get(MEMORY_LIMIT_ENV) or DEFAULT_MEMORY_LIMIT,
        "threads": os.environ.get(THREADS_ENV) or str(os.cpu_count() or 1),
    }


def apply_duckdb_settings(conn: duckdb.DuckDBPyConnection) -> None:
    for name, value in duckdb_settings().items():
        conn.execute(f"set {name} = {sql_literal(value)}")


def pending_files(
    conn: duckdb.DuckDBPyConnection, landing_dir: Path, feeds: Iterable[Feed]
) -> list[str]:
    """The landing files `load_feed` would read: new, failed before, or changed in size or
    modification time since their loaded version (as its own first test). Read-only."""
    exists = conn.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'raw' and table_name = 'landing_manifest'"
    ).fetchall()[0][0]
    loaded = {}
    if exists:
        loaded = {
            row[0]: (row[1], row[2])
            for row in conn.execute(
                f"select source_file, file_size, file_mtime_ns from {MANIFEST_TABLE} "
                "where status = 'loaded'"
            ).fetchall()
        }
    pending = []
    for feed in feeds:
        for path in discover_files(landing_dir, feed):
            source_file = path.relative_to(landing_dir).as_posix()
            stat = path.stat()
            if loaded.get(source_file) != (stat.st_size, stat.st_mtime_ns):
                pending.append(source_file)
    return pending


def discover_files(landing_dir: Path, feed: Feed) -> list[Path]:
    root = landing_dir / feed.folder
    if not root.is_dir():
        return []
    return sorted(
        (
            path
            for path in root.rglob("*")
            if path.is_file()
            and not any(part.startswith((".", "_")) for part in path.relative_to(root).parts)
        ),
        key=lambda path: path.relative_to(landing_dir).as_posix(),
    )


def file_checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_feed(
    conn: duckdb.DuckDBPyConnection,
    landing_dir: Path,
    feed: Feed,
    load_id: str,
    now: datetime | None = None,
) -> LoadReport:
    """Load every new or changed file of one feed; never raises for a bad file."""
    conn.execute("set TimeZone = 'UTC'")
    apply_duckdb_settings(conn)
    ensure_raw_schema(conn, [feed])
    now = now or datetime.now(UTC)
    report = LoadReport(feed=feed.name, load_id=load_id)
    manifest = {
        row[0]: row[1:]
        for row in conn.execute(
            f"select source_file, file_checksum, file_size, file_mtime_ns, file_received_at, "
            f"status from {MANIFEST_TABLE} where feed = ?",
            [feed.name],
        ).fetchall()
    }
    for path in discover_files(landing_dir, feed):
        source_file = path.relative_to(landing_dir).as_posix()
        stat = path.stat()
        previous = manifest.get(source_file)
        if previous and previous[4] == LOADED and previous[1:3] == (stat.st_size, stat.st_mtime_ns):
            # same size and modification time as the loaded version: skip hashing big files
            report.files.append(FileOutcome(source_file, UNCHANGED))
            continue
        checksum = file_checksum(path)
        if previous and previous[4] == LOADED and previous[0] == checksum:
            _remember_stat(conn, source_file, stat.st_size, stat.st_mtime_ns)
            report.files.append(FileOutcome(source_file, UNCHANGED))
            continue
        received_at = previous[3] if previous and previous[3] else now
        outcome = _load_file(
            conn,
            feed,
            path,
            source_file,
            checksum,
            received_at,
            now,
            load_id,
            replace=bool(previous),
        )
        report.files.append(outcome)
        _log_attempt(conn, feed, load_id, checksum, outcome, now)
        if outcome.outcome == FAILED:
            log.warning("landing file not loaded: %s", outcome.error)
        else:
            log.info("%s %s: %d rows", outcome.outcome, source_file, outcome.rows)
    return report


def _load_file(
    conn: duckdb.DuckDBPyConnection,
    feed: Feed,
    path: Path,
    source_file: str,
    checksum: str,
    received_at: datetime,
    now: datetime,
    load_id: str,
    replace: bool,
) -> FileOutcome:
    stat = path.stat()
    try:
        relation = source_relation(conn, path, source_file)
        select_sql, dropped = _select_for_feed(relation, feed, source_file)
        conn.execute("begin transaction")
        try:
            if replace:
                conn.execute(f"delete from raw.{feed.table} where _source_file = ?", [source_file])
            # the insert returns its row count: no second scan of a raw table that grows with
            # the history
            rows = conn.execute(
                f"insert into raw.{feed.table} by name {select_sql}",
                [source_file, checksum, received_at, now, load_id],
            ).fetchone()[0]
            # privacy: rows of forgotten respondents never stay; counted above as landed, they
            # are logged as erased (orchestration/privacy.py) so the accounting reconciles
            erase_tombstoned_rows(conn, feed.table, feed.name, source_file, load_id, now)
            conn.execute(
                f"""
                insert or replace into {MANIFEST_TABLE}
                    (source_file, feed, file_checksum, file_size, file_mtime_ns, row_count,
                     file_received_at, loaded_at, load_id, status, error, last_attempt_at)
                values (?, ?, ?, ?, ?, ?, ?, ?, ?, 'loaded', null, ?)
                """,
                [
                    source_file,
                    feed.name,
                    checksum,
                    stat.st_size,
                    stat.st_mtime_ns,
                    rows,
                    received_at,
                    now,
                    load_id,
                    now,
                ],
            )
            conn.execute("commit")
        except BaseException:
            conn.execute("rollback")
            raise
    except FileLoadError as exc:
        return _record_failure(conn, feed, source_file, str(exc), now)
    except duckdb.Error as exc:
        return _record_failure(conn, feed, source_file, str(diagnose(path, source_file, exc)), now)
    return FileOutcome(source_file, REPLACED if replace else LOADED, rows, None, dropped)


# a column's expression: SQL text for DuckDB, a Column for Spark
Expression = TypeVar("Expression")


def split_columns(
    columns: Iterable[tuple[str, str, Expression]], feed: Feed, source_file: str
) -> tuple[dict[str, Expression], list[tuple[str, Expression]], tuple[str, ...]]:
    """A file's (written name, normalised name, expression) columns sorted into the feed's
    contract columns, unknown ones (for extra_columns) and forbidden ones (dropped unread).
    An empty or repeated name, or a missing required column, fails the file. Shared by every
    loader, so each engine reads the landing contract the same way."""
    by_name: dict[str, Expression] = {}
    extra: list[tuple[str, Expression]] = []
    dropped: list[str] = []
    for position, (written, name, expression) in enumerate(columns, start=1):
        if not name:
            raise FileLoadError(source_file, "empty column name in header", line=1, column=position)
        if name in by_name or any(name == other for other, _ in extra):
            raise FileLoadError(
                source_file,
                f"column '{written}' appears twice (names are compared case- and "
                "whitespace-insensitively)",
                line=1,
                column=position,
            )
        if name in feed.forbidden:
            dropped.append(name)
        elif name in feed.columns:
            by_name[name] = expression
        else:
            extra.append((name, expression))
    missing = [name for name in feed.required if name not in by_name]
    if missing:
        raise FileLoadError(
            source_file, f"missing required column(s): {', '.join(missing)}", line=1
        )
    return by_name, extra, tuple(dropped)


def _select_for_feed(
    relation: SourceRelation, feed: Feed, source_file: str
) -> tuple[str, tuple[str, ...]]:
    by_name, extra, dropped = split_columns(relation.columns, feed, source_file)
    select = [f"{by_name.get(name, 'null::varchar')} as {name}" for name in feed.columns]
    if extra:
        pairs = ", ".join(f"{sql_literal(name)}, {expression}" for name, expression in extra)
        select.append(f"json_object({pairs})::varchar as extra_columns")
    else:
        select.append("null::varchar as extra_columns")
    select += [
        "?::varchar as _source_file",
        "__row::bigint as _source_row",
        "?::varchar as _file_checksum",
        "?::timestamptz as _file_received_at",
        "?::timestamptz as _loaded_at",
        "?::varchar as _load_id",
    ]
    return "select " + ", ".join(select) + f" from {relation.from_sql}", dropped


def _record_failure(
    conn: duckdb.DuckDBPyConnection, feed: Feed, source_file: str, error: str, now: datetime
) -> FileOutcome:
    # A failed new version keeps the previous good rows (and their checksum) in place.
    conn.execute(
        f"""
        insert into {MANIFEST_TABLE} (source_file, feed, status, error, last_attempt_at)
        values (?, ?, 'failed', ?, ?)
        on conflict (source_file) do update set
            status = 'failed', error = excluded.error, last_attempt_at = excluded.last_attempt_at
        """,
        [source_file, feed.name, error, now],
    )
    return FileOutcome(source_file, FAILED, 0, error)


def _remember_stat(
    conn: duckdb.DuckDBPyConnection, source_file: str, size: int, mtime_ns: int
) -> None:
    conn.execute(
        f"update {MANIFEST_TABLE} set file_size = ?, file_mtime_ns = ? where source_file = ?",
        [size, mtime_ns, source_file],
    )


def _log_attempt(
    conn: duckdb.DuckDBPyConnection,
    feed: Feed,
    load_id: str,
    checksum: str,
    outcome: FileOutcome,
    now: datetime,
) -> None:
    conn.execute(
        f"insert into {LOAD_LOG_TABLE} values (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            load_id,
            feed.name,
            outcome.source_file,
            checksum,
            outcome.outcome,
            outcome.rows,
            outcome.error,
            now,
        ],
    )
