"""Publish the marts for readers: a read-only DuckDB file swapped in by rename, Parquet per mart.

BI tools never open the warehouse itself: DuckDB lets one process write a file, and a reader
holding it would block the pipeline. They open the published copy instead. Each publication is
written beside the old one and renamed over it, so a reader sees the old marts or the new ones,
never a mix; a reader that still holds the old file keeps reading it (POSIX rename semantics).

With $NPS_PARQUET_LAYOUT=monthly (DuckDB target) each mart's Parquet is a folder with a file
per month of its first date column instead of one file, so a new day rewrites the files of the
months it changed and hard-links the others (`_write_monthly`).

On PostgreSQL, BI tools query the database itself (its readers never block a writer), so only
the Parquet files are written, read from PostgreSQL's marts (`publish_parquet`).

On Spark, Spark writes the Parquet files itself (`publish_spark_marts`), and the DuckDB file
holds views over them: the marts never pass through this process.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow.parquet as pq

from orchestration.engines.postgres_engine import PostgresEngine, arrow_batches
from orchestration.landing.loader import apply_duckdb_settings
from orchestration.landing.readers import quote_identifier, sql_literal
from orchestration.settings import FILE_LAYOUT, MONTHLY_LAYOUT, PARQUET_LAYOUTS

if TYPE_CHECKING:
    from orchestration.engines.spark_engine import SparkEngine

log = logging.getLogger(__name__)

PUBLISHED_SCHEMA = "marts"
# not "marts.duckdb": its catalog name would clash with the schema `marts`
PUBLISHED_DATABASE = "nps_warehouse.duckdb"
PARQUET_DIR = "parquet"
# the monthly layout's folders: `parquet/<mart>` is a symbolic link to
# `.parquet_versions/<mart>/<run id>`, swapped by rename like the files of the file layout
PARQUET_VERSIONS_DIR = ".parquet_versions"
# the monthly layout's file for a mart's rows without a day (all rows of a mart with no date
# column; the empty file of an empty mart, so its folder still tells readers its columns)
UNDATED = "undated"


@dataclass(frozen=True)
class Publication:
    database: Path | None  # None on an engine BI tools query directly (PostgreSQL)
    parquet_dir: Path
    tables: dict[str, int]  # mart -> rows
    # marts whose content changed since the last publication (all of them on a fresh one)
    changed: tuple[str, ...] = ()


# the published file's own record of what it holds, one row per mart and per day of a mart:
# the next publication compares it with the warehouse and rewrites only what differs
FINGERPRINT_SCHEMA = "publication"
_FINGERPRINT_TABLES = f"""
    create table {{db}}.{FINGERPRINT_SCHEMA}.marts (
        mart varchar primary key, columns_signature varchar, day_column varchar
    );
    create table {{db}}.{FINGERPRINT_SCHEMA}.partitions (
        mart varchar, day date, row_count bigint, fingerprint hugeint
    );
"""
# the marts whose dbt runs log the first day they rewrote (intermediate.nps_rebuilt_from,
# macros/nps_rebuilt_from.sql), with the day column that day is of: a publication fingerprints
# their days from the first day rebuilt since the last publication on, and carries the earlier
# days' fingerprints over from it (nps_rolling's 17M rows took 6 s to hash on every new day)
LOGGED_DAY_COLUMNS = {
    "nps_rolling": "calendar_date",
    "fct_nps_responses": "response_date",
    "fct_comment_themes": "response_date",
}
# per logged mart, the newest logged build the publication's fingerprints include
_REBUILT_THROUGH_TABLE = f"""
    create table if not exists {{db}}.{FINGERPRINT_SCHEMA}.rebuilt_through (
        mart varchar primary key, processed_at timestamp with time zone
    )
"""


# one hash over the row's columns as arguments: a third faster than hashing the row as a
# struct, `hash(t)` (nps_rolling's 17M rows: 1.5 s instead of 2.2 s)
ROW_HASH = "hash({columns})"


@dataclass(frozen=True)
class _MartState:
    """What a mart holds: its columns and, per day of its first date column (one partition
    keyed None when it has none), the row count and the sum of its rows' hashes."""

    columns_signature: str
    day_column: str | None
    partitions: dict[object, tuple[int, int]]

    @property
    def rows(self) -> int:
        return sum(count for count, _ in self.partitions.values())


def publish_marts(
    warehouse: Path,
    publish_dir: Path,
    run_id: str,
    fresh: bool = False,
    parquet_layout: str = FILE_LAYOUT,
) -> Publication:
    """Publish the warehouse's marts: the read-only DuckDB file and Parquet per mart, one file
    (`parquet_layout` `file`) or a folder of a file per month (`monthly`).

    Only what changed is written. Each mart's rows are fingerprinted per day (a count and a
    sum of row hashes, one scan) while the previous publication is copied beside itself; a
    mart whose builds log the first day they rewrote (LOGGED_DAY_COLUMNS) is hashed only from
    the earliest day logged since that publication on, its earlier days' fingerprints carried
    over from it (every day when a build since rebuilt everything or logged nothing). Only
    the marts that differ are patched in the copy (the changed days deleted and inserted again,
    or the whole table where the columns changed or there is no day column), and only their
    Parquet is written again: the whole file, or the files of the changed months. `fresh`
    writes everything anew instead: after an erasure (`nps-warehouse forget`) no deleted row
    may linger in the file's free blocks or in an earlier Parquet version."""
    if parquet_layout not in PARQUET_LAYOUTS:
        raise ValueError(f"unknown Parquet layout {parquet_layout!r}: {PARQUET_LAYOUTS}")
    publish_dir.mkdir(parents=True, exist_ok=True)
    parquet_dir = publish_dir / PARQUET_DIR
    parquet_dir.mkdir(exist_ok=True)
    database = publish_dir / PUBLISHED_DATABASE
    staged_database = publish_dir / f".{PUBLISHED_DATABASE}.{run_id}"
    staged_parquet = publish_dir / f".{PARQUET_DIR}.{run_id}"
    staged_database.unlink(missing_ok=True)
    shutil.rmtree(staged_parquet, ignore_errors=True)
    staged_parquet.mkdir()
    copy_previous = database.exists() and not fresh
    with ThreadPoolExecutor(max_workers=1) as copier:
        # the copy is disk work and leaves the GIL: it runs while DuckDB fingerprints the marts
        # (the current file itself is never opened: a reader may hold it in any mode)
        copied = (
            copier.submit(shutil.copyfile, database, staged_database) if copy_previous else None
        )
        conn = duckdb.connect(str(warehouse), read_only=True)
        try:
            apply_duckdb_settings(conn)  # big marts stream through within NPS_DUCKDB_MEMORY_LIMIT
            names = _mart_names(conn)
            # the logged marts wait for the previous fingerprints, in the copy
            logged = [n for n in names if n in LOGGED_DAY_COLUMNS] if copy_previous else []
            states = {name: _mart_state(conn, name) for name in names if name not in logged}
            if copied is not None:
                copied.result()
            # a read-only connection attaches read-only unless told otherwise
            conn.execute(
                f"attach {sql_literal(str(staged_database))} as published (read_only false)"
            )
            previous = _published_states(conn)
            if previous is None:  # a new file, or one written before fingerprints: start over
                previous = {}
                for schema in (PUBLISHED_SCHEMA, FINGERPRINT_SCHEMA):
                    conn.execute(f"drop schema if exists published.{schema} cascade")
                conn.execute(f"create schema published.{PUBLISHED_SCHEMA}")
                conn.execute(f"create schema published.{FINGERPRINT_SCHEMA}")
                conn.execute(_FINGERPRINT_TABLES.format(db="published"))
            conn.execute(_REBUILT_THROUGH_TABLE.format(db="published"))
            through = _newest_builds(conn)
            published_through = _published_through(conn)
            for name in logged:
                states[name] = _logged_mart_state(
                    conn, name, previous.get(name), published_through.get(name)
                )
            states = dict(sorted(states.items()))
            changed = [
                name
                for name, state in states.items()
                if previous.get(name) != state
                or not _parquet_published(parquet_dir, name, parquet_layout)
            ]
            for name in changed:
                _patch_mart(conn, name, states[name], previous.get(name))
                _record_state(conn, name, states[name])
                if parquet_layout == MONTHLY_LAYOUT:
                    _write_monthly(
                        conn,
                        name,
                        states[name],
                        previous.get(name),
                        written=publish_dir / PARQUET_VERSIONS_DIR / name / run_id,
                        published=_published_version(parquet_dir, name),
                    )
                else:
                    conn.execute(
                        f"copy (select * from {PUBLISHED_SCHEMA}.{quote_identifier(name)}) to "
                        f"{sql_literal(str(staged_parquet / f'{name}.parquet'))} "
                        "(format parquet)"
                    )
            for gone in sorted(set(previous) - set(states)):  # marts dropped from the project
                conn.execute(f"drop table published.{PUBLISHED_SCHEMA}.{quote_identifier(gone)}")
                _record_state(conn, gone, None)
            _record_through(conn, {n: through.get(n) for n in states if n in LOGGED_DAY_COLUMNS})
            conn.execute("detach published")
        finally:
            conn.close()
    tables = {name: state.rows for name, state in states.items()}
    # the swaps, each rename atomic. The Parquet first: the database holds the fingerprints
    # that say what the Parquet holds, so a publication stopped between the two is written
    # again by the next one instead of leaving Parquet that the fingerprints call current
    if parquet_layout == MONTHLY_LAYOUT:
        shutil.rmtree(staged_parquet, ignore_errors=True)
        _swap_monthly(publish_dir, tables, changed, run_id, keep_previous=not fresh)
    else:
        _swap_parquet(staged_parquet, parquet_dir, tables, changed)
    os.replace(staged_database, database)
    log.info(
        "published %d marts to %s (%d changed: %s)",
        len(tables),
        publish_dir,
        len(changed),
        ", ".join(changed) or "none",
    )
    return Publication(
        database=database, parquet_dir=parquet_dir, tables=tables, changed=tuple(changed)
    )


def _mart_names(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """The warehouse's marts (not those of the attached publication)."""
    return [
        name
        for (name,) in conn.execute(
            "select table_name from information_schema.tables "
            "where table_catalog = current_database() and table_schema = ? "
            "and table_type = 'BASE TABLE' order by 1",
            [PUBLISHED_SCHEMA],
        ).fetchall()
    ]


def _mart_columns(conn: duckdb.DuckDBPyConnection, name: str) -> list[tuple[str, str]]:
    return conn.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_catalog = current_database() and table_schema = ? and table_name = ? "
        "order by ordinal_position",
        [PUBLISHED_SCHEMA, name],
    ).fetchall()


def _columns_signature(columns: list[tuple[str, str]]) -> tuple[str, str | None]:
    """A mart's columns signature and its day column (its first date column, if any)."""
    # the row hash is part of the signature: a publication fingerprinted another way is
    # replaced whole, once, instead of comparing fingerprints that cannot match
    signature = hashlib.sha256(repr((ROW_HASH, columns)).encode()).hexdigest()
    return signature, next((column for column, kind in columns if kind == "DATE"), None)


def _mart_state(conn: duckdb.DuckDBPyConnection, name: str, where: str | None = None) -> _MartState:
    """A mart's state, its partitions those of its rows matching `where` (SQL; all rows)."""
    columns = _mart_columns(conn, name)
    signature, day_column = _columns_signature(columns)
    day = quote_identifier(day_column) if day_column else "null::date"
    row_hash = ROW_HASH.format(columns=", ".join(quote_identifier(c) for c, _ in columns))
    # the sum does not depend on the order of the rows and, unlike xor, does not cancel a
    # duplicated row
    rows = conn.execute(
        f"select {day} as day, count(*), sum({row_hash}::hugeint) "
        f"from {PUBLISHED_SCHEMA}.{quote_identifier(name)} "
        f"{f'where {where} ' if where else ''}group by all"
    ).fetchall()
    partitions = {day_value: (int(count), int(total or 0)) for day_value, count, total in rows}
    return _MartState(signature, day_column, partitions)


def _newest_builds(conn: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """The newest build of each logged mart (its watermark), logged or not: what this
    publication's fingerprints include ({} without the logs)."""
    from orchestration.quality.rebuilt_rows import STATE_TABLE

    if not _has_build_logs(conn):
        return {}
    return dict(
        conn.execute(
            f"select model_name, max(processed_at) from {'.'.join(STATE_TABLE)} "
            "where model_name in (select unnest(?::varchar[])) group by all",
            [list(LOGGED_DAY_COLUMNS)],
        ).fetchall()
    )


def _logged_mart_state(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    before: _MartState | None,
    published_through: object,
) -> _MartState:
    """The state of a logged mart: the days rebuilt since the last publication (the newest
    build it included: `published_through`) fingerprinted, the earlier days' fingerprints
    carried over from it. Every day is fingerprinted when anything is unknown: no earlier
    publication or record, other columns, another day column, a full build or a build that
    logged nothing since."""
    from orchestration.quality.rebuilt_rows import rebuilds_since

    signature, day_column = _columns_signature(_mart_columns(conn, name))
    if (
        before is None
        or published_through is None
        or before.columns_signature != signature
        or before.day_column != day_column
        or day_column != LOGGED_DAY_COLUMNS[name]
        or not _has_build_logs(conn)
    ):
        return _mart_state(conn, name)
    since = rebuilds_since(_fetchall(conn), name, published_through)
    if since.unlogged:
        return _mart_state(conn, name)
    if since.runs == 0:
        return before
    if since.first_day is None:
        return _mart_state(conn, name)
    first_day = since.first_day
    rebuilt = _mart_state(
        conn,
        name,
        f"{quote_identifier(day_column)} >= {sql_literal(first_day.isoformat())}::date "
        f"or {quote_identifier(day_column)} is null",
    )
    kept = {
        day: value
        for day, value in before.partitions.items()
        if isinstance(day, date) and day < first_day
    }
    return _MartState(signature, day_column, {**kept, **rebuilt.partitions})


def _has_build_logs(conn: duckdb.DuckDBPyConnection) -> bool:
    from orchestration.quality.rebuilt_rows import REBUILT_FROM_TABLE, STATE_TABLE

    ((found,),) = conn.execute(
        "select count(*) from information_schema.tables "
        "where table_catalog = current_database() "
        "and table_schema || '.' || table_name in (?, ?)",
        [".".join(REBUILT_FROM_TABLE), ".".join(STATE_TABLE)],
    ).fetchall()
    return found == 2


def _fetchall(
    conn: duckdb.DuckDBPyConnection,
) -> Callable[[str, list[Any]], list[tuple[Any, ...]]]:
    return lambda sql, parameters: conn.execute(sql, parameters).fetchall()


def _published_through(conn: duckdb.DuckDBPyConnection) -> dict[str, object]:
    return dict(
        conn.execute(
            f"select mart, processed_at from published.{FINGERPRINT_SCHEMA}.rebuilt_through"
        ).fetchall()
    )


def _record_through(conn: duckdb.DuckDBPyConnection, through: dict[str, object]) -> None:
    conn.execute(f"delete from published.{FINGERPRINT_SCHEMA}.rebuilt_through")
    for name, processed_at in sorted(through.items()):
        conn.execute(
            f"insert into published.{FINGERPRINT_SCHEMA}.rebuilt_through values (?, ?)",
            [name, processed_at],
        )


def _published_states(conn: duckdb.DuckDBPyConnection) -> dict[str, _MartState] | None:
    """The states recorded in the attached previous publication; None when it has none."""
    recorded = conn.execute(
        "select count(*) from information_schema.tables "
        "where table_catalog = 'published' and table_schema = ?",
        [FINGERPRINT_SCHEMA],
    ).fetchall()[0][0]
    if recorded < 2:
        return None
    states: dict[str, _MartState] = {}
    for mart, signature, day_column in conn.execute(
        f"select mart, columns_signature, day_column from published.{FINGERPRINT_SCHEMA}.marts"
    ).fetchall():
        states[mart] = _MartState(signature, day_column, {})
    for mart, day, count, fingerprint in conn.execute(
        f"select mart, day, row_count, fingerprint from published.{FINGERPRINT_SCHEMA}.partitions"
    ).fetchall():
        states[mart].partitions[day] = (int(count), int(fingerprint))
    return states


def _changed_days(state: _MartState, before: _MartState | None) -> list[object] | None:
    """The days (None: the rows without one) whose rows differ from `before`; None when the
    whole mart is to be written: no previous copy, other columns, or no day column."""
    if (
        before is None
        or before.columns_signature != state.columns_signature
        or state.day_column is None
        or before.day_column != state.day_column
    ):
        return None
    return [
        day
        for day in set(state.partitions) | set(before.partitions)
        if state.partitions.get(day) != before.partitions.get(day)
    ]


def _patch_mart(
    conn: duckdb.DuckDBPyConnection, name: str, state: _MartState, before: _MartState | None
) -> None:
    """Make the published copy of mart `name` equal the warehouse's: only the changed days
    when the previous copy has the same columns and a day column, the whole table otherwise."""
    source = f"{PUBLISHED_SCHEMA}.{quote_identifier(name)}"
    target = f"published.{source}"
    days = _changed_days(state, before)
    if days is None:
        conn.execute(f"create or replace table {target} as select * from {source}")
        return
    if not days:
        return
    day = quote_identifier(str(state.day_column))
    changed_days = f"published.{FINGERPRINT_SCHEMA}.changed_days"
    dated = [changed for changed in days if changed is not None]
    # one statement per condition: "in" alone is a semi-join, while "in ... or ..." filtered
    # every row of the mart (nps_rolling at 10m: 1.5 s instead of 0.24 s for a new day's
    # insert). "in" never matches a null day: rows without a day are a partition of their own
    matches = [f"{day} is null"] if len(dated) < len(days) else []
    if dated:
        conn.execute(
            f"create or replace table {changed_days} as select unnest(?::date[]) as day", [dated]
        )
        matches.append(f"{day} in (select day from {changed_days})")
    for rows in matches:
        conn.execute(f"delete from {target} where {rows}")
        conn.execute(f"insert into {target} select * from {source} where {rows}")
    if dated:
        conn.execute(f"drop table {changed_days}")


def _month_file(day: object) -> str:
    return f"{day:%Y-%m}.parquet" if isinstance(day, date) else f"{UNDATED}.parquet"


def _parquet_published(parquet_dir: Path, name: str, layout: str) -> bool:
    if layout == MONTHLY_LAYOUT:
        return _published_version(parquet_dir, name) is not None
    return (parquet_dir / f"{name}.parquet").is_file()


def _published_version(parquet_dir: Path, name: str) -> Path | None:
    """The folder the monthly layout's link `parquet/<mart>` points to, None without one."""
    link = parquet_dir / name
    return link.resolve() if link.is_symlink() and link.is_dir() else None


def _write_monthly(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    state: _MartState,
    before: _MartState | None,
    written: Path,
    published: Path | None,
) -> None:
    """Write mart `name` into the new folder `written`, a file per month of its day column:
    the months with a changed day from the warehouse, the others hard-linked from the
    `published` folder (they are the same bytes; a link costs no copy)."""
    shutil.rmtree(written, ignore_errors=True)
    written.mkdir(parents=True)
    changed = _changed_days(state, before) if published is not None else None
    rewritten = None if changed is None else {_month_file(day) for day in changed}
    files: dict[str, list[object]] = {}
    for day in state.partitions:
        files.setdefault(_month_file(day), []).append(day)
    if not files:  # an empty mart: one empty file keeps its columns readable
        files[_month_file(None)] = [None]
    source = f"{PUBLISHED_SCHEMA}.{quote_identifier(name)}"
    for file_name, days in sorted(files.items()):
        target = written / file_name
        kept = published / file_name if published is not None else None
        if rewritten is not None and file_name not in rewritten and kept and kept.is_file():
            os.link(kept, target)
            continue
        if state.day_column is None:
            rows = "true"
        elif days == [None]:
            rows = f"{quote_identifier(state.day_column)} is null"
        else:
            first = min(day for day in days if isinstance(day, date)).replace(day=1)
            following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
            rows = (
                f"{quote_identifier(state.day_column)} >= {sql_literal(first.isoformat())} "
                f"and {quote_identifier(state.day_column)} < "
                f"{sql_literal(following.isoformat())}"
            )
        conn.execute(
            f"copy (select * from {source} where {rows}) to {sql_literal(str(target))} "
            "(format parquet)"
        )


def _swap_monthly(
    publish_dir: Path, tables: dict[str, int], written: list[str], run_id: str, keep_previous: bool
) -> None:
    """Point each `written` mart's link at its new folder (a rename: readers resolve the old
    folder or the new one), keep the folder it pointed to until the next publication (a reader
    may have just resolved it) unless not `keep_previous`, and drop the older folders, the
    file layout's files and the links of marts no longer published."""
    parquet_dir = publish_dir / PARQUET_DIR
    versions = publish_dir / PARQUET_VERSIONS_DIR
    for name in written:
        link = parquet_dir / name
        replaced = _published_version(parquet_dir, name)
        staged_link = parquet_dir / f".{name}.{run_id}"
        staged_link.unlink(missing_ok=True)
        staged_link.symlink_to(os.path.relpath(versions / name / run_id, parquet_dir))
        os.replace(staged_link, link)
        for folder in (versions / name).iterdir():
            if folder.name != run_id and not (keep_previous and folder == replaced):
                shutil.rmtree(folder)
    for entry in parquet_dir.iterdir():
        if entry.is_symlink() and entry.name not in tables:
            entry.unlink()
            shutil.rmtree(versions / entry.name, ignore_errors=True)
        elif entry.suffix == ".parquet" and entry.is_file():  # the file layout's
            entry.unlink()


def _record_state(conn: duckdb.DuckDBPyConnection, name: str, state: _MartState | None) -> None:
    for table in ("marts", "partitions"):
        conn.execute(f"delete from published.{FINGERPRINT_SCHEMA}.{table} where mart = ?", [name])
    if state is None:
        return
    conn.execute(
        f"insert into published.{FINGERPRINT_SCHEMA}.marts values (?, ?, ?)",
        [name, state.columns_signature, state.day_column],
    )
    # one statement, the partitions as lists (executemany inserts row by row: a second a mart);
    # the fingerprints pass as text, since a Python list of them has no 128-bit integer type
    conn.execute(
        f"insert into published.{FINGERPRINT_SCHEMA}.partitions "
        "select ?, unnest(?::date[]), unnest(?::bigint[]), unnest(?::varchar[])::hugeint",
        [
            name,
            list(state.partitions),
            [count for count, _ in state.partitions.values()],
            [str(total) for _, total in state.partitions.values()],
        ],
    )


def publish_parquet(engine: PostgresEngine, publish_dir: Path, run_id: str) -> Publication:
    """Parquet per mart, read from `engine` (PostgreSQL, which BI tools query directly, so no
    DuckDB copy is written). Every mart comes from one snapshot of the database, and each file
    is swapped in by rename as on DuckDB."""
    parquet_dir = publish_dir / PARQUET_DIR
    parquet_dir.mkdir(parents=True, exist_ok=True)
    staged_parquet = publish_dir / f".{PARQUET_DIR}.{run_id}"
    shutil.rmtree(staged_parquet, ignore_errors=True)
    staged_parquet.mkdir()
    tables: dict[str, int] = {}
    try:
        with engine.snapshot(PUBLISHED_SCHEMA) as conn:
            names = [
                name
                for (name,) in conn.execute(
                    "select table_name from information_schema.tables "
                    "where table_schema = ? and table_type = 'BASE TABLE' order by 1",
                    [PUBLISHED_SCHEMA],
                ).fetchall()
            ]
            for name in names:
                schema, batches = arrow_batches(
                    conn, f"select * from {PUBLISHED_SCHEMA}.{quote_identifier(name)}"
                )
                rows = 0
                with pq.ParquetWriter(staged_parquet / f"{name}.parquet", schema) as writer:
                    for batch in batches:
                        writer.write_batch(batch)
                        rows += batch.num_rows
                tables[name] = rows
        _swap_parquet(staged_parquet, parquet_dir, tables)
    finally:
        shutil.rmtree(staged_parquet, ignore_errors=True)
    log.info("published %d marts as Parquet to %s", len(tables), parquet_dir)
    return Publication(database=None, parquet_dir=parquet_dir, tables=tables, changed=tuple(tables))


def publish_spark_marts(engine: SparkEngine, publish_dir: Path, run_id: str) -> Publication:
    """Parquet per mart written by Spark (one file each, as on the other engines), and the
    read-only DuckDB file with a view per mart over its Parquet file, both swapped in by
    rename."""
    publish_dir.mkdir(parents=True, exist_ok=True)
    parquet_dir = publish_dir / PARQUET_DIR
    parquet_dir.mkdir(exist_ok=True)
    staged_parquet = publish_dir / f".{PARQUET_DIR}.{run_id}"
    shutil.rmtree(staged_parquet, ignore_errors=True)
    staged_parquet.mkdir()
    spark = engine.session()
    tables: dict[str, int] = {}
    try:
        for entry in sorted(spark.catalog.listTables(PUBLISHED_SCHEMA), key=lambda t: t.name):
            if entry.tableType == "VIEW" or entry.isTemporary:
                continue
            frame = engine.table(PUBLISHED_SCHEMA, entry.name)
            written = staged_parquet / f".{entry.name}.spark"
            # one task writes the one file; the rows go from Spark to disk, not through here
            frame.coalesce(1).write.parquet(written.resolve().as_uri())
            (part,) = written.glob("part-*.parquet")
            part.replace(staged_parquet / f"{entry.name}.parquet")
            shutil.rmtree(written)
            tables[entry.name] = pq.ParquetFile(
                staged_parquet / f"{entry.name}.parquet"
            ).metadata.num_rows
        _swap_parquet(staged_parquet, parquet_dir, tables)
    finally:
        shutil.rmtree(staged_parquet, ignore_errors=True)
    database = publish_dir / PUBLISHED_DATABASE
    staged_database = publish_dir / f".{PUBLISHED_DATABASE}.{run_id}"
    staged_database.unlink(missing_ok=True)
    with duckdb.connect(str(staged_database)) as conn:
        conn.execute(f"create schema {PUBLISHED_SCHEMA}")
        for name in tables:
            path = (parquet_dir / f"{name}.parquet").resolve()
            conn.execute(
                f"create view {PUBLISHED_SCHEMA}.{quote_identifier(name)} as "
                f"select * from read_parquet({sql_literal(str(path))})"
            )
    os.replace(staged_database, database)
    log.info("published %d marts from Spark to %s", len(tables), publish_dir)
    return Publication(
        database=database, parquet_dir=parquet_dir, tables=tables, changed=tuple(tables)
    )


def _swap_parquet(
    staged: Path, parquet_dir: Path, tables: dict[str, int], written: list[str] | None = None
) -> None:
    """Move the `written` marts' files (default: all of `tables`) into place; drop files of
    marts no longer published."""
    for name in tables if written is None else written:
        os.replace(staged / f"{name}.parquet", parquet_dir / f"{name}.parquet")
    for stale in set(p.stem for p in parquet_dir.glob("*.parquet")) - set(tables):
        (parquet_dir / f"{stale}.parquet").unlink()
    for link in (entry for entry in parquet_dir.iterdir() if entry.is_symlink()):
        link.unlink()  # the monthly layout's folders, after a switch back to files
    shutil.rmtree(parquet_dir.parent / PARQUET_VERSIONS_DIR, ignore_errors=True)
    shutil.rmtree(staged, ignore_errors=True)
