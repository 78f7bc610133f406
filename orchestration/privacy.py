"""Right to erasure: forget a respondent everywhere, and keep them forgotten.

`nps-warehouse forget --respondent ID [--warehouse FILE]` (see `forget_respondent`):

1. finds the respondent's rows in `raw.nps_responses`: every row whose trimmed `respondent_id`
   is ID, plus rows that carry **no** respondent_id but one of the email addresses seen on
   those rows (the same person, exported without an id). An email never reaches a row that
   has another respondent_id: a shared family address must not erase someone else;
2. records a **tombstone** in `raw.privacy_tombstones`: the respondent_id, the SHA-256 of each
   of those emails (lower-cased, trimmed; never the address itself) and their response ids;
3. deletes those rows from raw (and the follow-up events of their responses from
   `raw.followup_events`), logging how many rows of which file version were erased in
   `raw.privacy_erasures` (no identifiers), so the row accounting still reconciles:
   `nps_load_reconciliation.manifest_rows = landed_rows + erased_rows`;
4. deletes every row about the respondent from the tables the models built (every schema but
   raw and reference: rows with that respondent_id, one of their response ids or emails).
   Staging models are views over raw, so they forget at step 3. Aggregates (counts, NPS) hold
   no personal data and are corrected by the next `nps-warehouse run`.

On the PostgreSQL target (`forget --target postgres`), the DuckDB file is the landing cache that
keeps the tombstones for the loader; steps 3 and 4 also run in PostgreSQL, in one PostgreSQL
transaction committed just before the cache's: the raw files that lost rows are copied again
(the engine's per-file sync) and the models' tables lose the respondent's rows. If PostgreSQL
fails, the cache rolls back too and the command can simply be repeated.

The loader calls `erase_tombstoned_rows` on every file it loads, inside the file's transaction
and after counting its rows: a re-sent or changed file cannot bring a forgotten respondent
back (their rows are dropped and counted as erased).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

if TYPE_CHECKING:
    from orchestration.engines.postgres_engine import PostgresEngine

log = logging.getLogger(__name__)

TOMBSTONES_TABLE = "raw.privacy_tombstones"
ERASURES_TABLE = "raw.privacy_erasures"
RESPONDENT_ID, EMAIL_SHA256, RESPONSE_ID = "respondent_id", "email_sha256", "response_id"
# schemas never rewritten by forget: not derived from raw, or employee (eNPS) data whose
# response ids are another id space
UNTOUCHED_SCHEMAS = ("raw", "reference", "information_schema", "pg_catalog", "people_restricted")


def ensure_privacy_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """Create the tombstone and erasure tables (the loader calls this with the raw schema)."""
    conn.execute("create schema if not exists raw")
    conn.execute(
        f"""
        create table if not exists {TOMBSTONES_TABLE} (
            request_id varchar not null,
            kind varchar not null,
            value varchar not null,
            forgotten_at timestamptz not null
        )
        """
    )
    conn.execute(
        f"""
        create table if not exists {ERASURES_TABLE} (
            request_id varchar,
            reason varchar not null,
            feed varchar not null,
            source_file varchar not null,
            file_checksum varchar,
            load_id varchar,
            rows_erased bigint not null,
            erased_at timestamptz not null
        )
        """
    )


# SQL predicates on a raw row (alias r) matching a tombstone. Email and response id only reach
# rows without a respondent_id (see the module docstring).
_NPS_TOMBSTONED = f"""
(
    trim(r.respondent_id) in (
        select value from {TOMBSTONES_TABLE} where kind = '{RESPONDENT_ID}'
    )
    or (
        nullif(trim(r.respondent_id), '') is null
        and (
            sha256(lower(trim(r.respondent_email))) in (
                select value from {TOMBSTONES_TABLE} where kind = '{EMAIL_SHA256}'
            )
            or trim(r.response_id) in (
                select value from {TOMBSTONES_TABLE} where kind = '{RESPONSE_ID}'
            )
        )
    )
)
"""
_FOLLOWUP_TOMBSTONED = f"""
trim(r.response_id) in (select value from {TOMBSTONES_TABLE} where kind = '{RESPONSE_ID}')
"""
# raw table -> (feed name, predicate on its rows)
TOMBSTONE_PREDICATES: dict[str, tuple[str, str]] = {
    "nps_responses": ("nps", _NPS_TOMBSTONED),
    "followup_events": ("followups", _FOLLOWUP_TOMBSTONED),
}


def erase_tombstoned_rows(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    feed: str,
    source_file: str,
    load_id: str,
    now: datetime,
) -> int:
    """Loader hook: drop the just-loaded rows of forgotten respondents; returns how many.

    Runs inside the loader's transaction for the file, after its rows were counted for the
    manifest, and logs the count per file version in raw.privacy_erasures."""
    predicate = TOMBSTONE_PREDICATES.get(table)
    if predicate is None:
        return 0
    rows = conn.execute(
        f"""
        select count(*), any_value(r._file_checksum) from raw.{table} as r
        where r._source_file = ? and r._load_id = ? and {predicate[1]}
        """,
        [source_file, load_id],
    ).fetchall()[0]
    if not rows[0]:
        return 0
    conn.execute(
        f"delete from raw.{table} as r where r._source_file = ? and r._load_id = ? "
        f"and {predicate[1]}",
        [source_file, load_id],
    )
    conn.execute(
        f"insert into {ERASURES_TABLE} values (null, 'tombstone_at_load', ?, ?, ?, ?, ?, ?)",
        [feed, source_file, rows[1], load_id, rows[0], now],
    )
    log.info("%s: %d row(s) of forgotten respondents dropped at load", source_file, rows[0])
    return rows[0]


@dataclass
class ForgetReport:
    request_id: str
    respondent_id: str
    raw_rows: dict[str, int] = field(default_factory=dict)  # raw table -> rows erased
    derived_rows: dict[str, int] = field(default_factory=dict)  # schema.table -> rows erased
    # on the PostgreSQL target: schema.table in PostgreSQL -> rows erased (raw files recopied)
    engine_rows: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.raw_rows.values()) + sum(self.derived_rows.values())


def forget_respondent(
    warehouse: Path,
    respondent_id: str,
    now: datetime | None = None,
    engine: PostgresEngine | None = None,
) -> ForgetReport:
    """Erase a respondent from every schema of `warehouse` and record their tombstone; with
    `engine` (the PostgreSQL target), from PostgreSQL's schemas as well, at once."""
    respondent_id = respondent_id.strip()
    if not respondent_id:
        raise ValueError("respondent id is blank")
    now = now or datetime.now(UTC)
    report = ForgetReport(request_id=str(uuid.uuid4()), respondent_id=respondent_id)
    conn = duckdb.connect(str(warehouse))
    try:
        conn.execute("set TimeZone = 'UTC'")
        ensure_privacy_tables(conn)
        conn.execute("begin transaction")
        try:
            _record_tombstone(conn, report.request_id, respondent_id, now)
            for table, (feed, predicate) in TOMBSTONE_PREDICATES.items():
                if _table_exists(conn, "raw", table):
                    report.raw_rows[table] = _erase_raw(
                        conn, report.request_id, table, feed, predicate, now
                    )
            tombstone = _tombstone_values(conn, report.request_id)
            report.derived_rows = _erase_derived(conn, tombstone, DUCKDB_EMAIL_DIGEST)
            if engine is not None:
                # PostgreSQL commits first: should the cache's commit then fail, a repeated
                # `forget` finds the rows in the cache again and erases them everywhere
                report.engine_rows = _forget_on_postgres(engine, conn, tombstone)
            conn.execute("commit")
        except BaseException:
            conn.execute("rollback")
            raise
    finally:
        conn.close()
    return report


def _record_tombstone(
    conn: duckdb.DuckDBPyConnection, request_id: str, respondent_id: str, now: datetime
) -> None:
    conn.execute(
        f"insert into {TOMBSTONES_TABLE} values (?, '{RESPONDENT_ID}', ?, ?)",
        [request_id, respondent_id, now],
    )
    if not _table_exists(conn, "raw", "nps_responses"):
        return
    # the addresses seen on the respondent's rows, as hashes; then the responses of every row
    # the tombstone now matches (rows without an id carrying one of those addresses included)
    conn.execute(
        f"""
        insert into {TOMBSTONES_TABLE}
        select distinct ?, '{EMAIL_SHA256}', sha256(lower(trim(respondent_email))), ?
        from raw.nps_responses
        where trim(respondent_id) = ? and nullif(trim(respondent_email), '') is not null
        """,
        [request_id, now, respondent_id],
    )
    conn.execute(
        f"""
        insert into {TOMBSTONES_TABLE}
        select distinct ?, '{RESPONSE_ID}', trim(r.response_id), ?
        from raw.nps_responses as r
        where {_NPS_TOMBSTONED} and nullif(trim(r.response_id), '') is not null
            and trim(r.response_id) not in (
                select value from {TOMBSTONES_TABLE} where kind = '{RESPONSE_ID}'
            )
        """,
        [request_id, now],
    )


def _erase_raw(
    conn: duckdb.DuckDBPyConnection,
    request_id: str,
    table: str,
    feed: str,
    predicate: str,
    now: datetime,
) -> int:
    per_file = conn.execute(
        f"""
        select r._source_file, r._file_checksum, r._load_id, count(*)
        from raw.{table} as r
        where {predicate}
        group by all
        """
    ).fetchall()
    for source_file, checksum, load_id, rows in per_file:
        conn.execute(
            f"insert into {ERASURES_TABLE} values (?, 'forget', ?, ?, ?, ?, ?, ?)",
            [request_id, feed, source_file, checksum, load_id, rows, now],
        )
    conn.execute(f"delete from raw.{table} as r where {predicate}")
    return sum(row[3] for row in per_file)


# the SHA-256 (hex) of a normalised address, as the tombstone stores it, per engine
DUCKDB_EMAIL_DIGEST = "sha256(lower(trim({})))"
POSTGRES_EMAIL_DIGEST = "encode(sha256(convert_to(lower(trim({})), 'UTF8')), 'hex')"


def _tombstone_values(conn: duckdb.DuckDBPyConnection, request_id: str) -> dict[str, list[str]]:
    """kind -> values of one request's tombstone."""
    values: dict[str, list[str]] = {RESPONDENT_ID: [], RESPONSE_ID: [], EMAIL_SHA256: []}
    for kind, value in conn.execute(
        f"select kind, value from {TOMBSTONES_TABLE} where request_id = ? order by all",
        [request_id],
    ).fetchall():
        values.setdefault(kind, []).append(value)
    return values


def _erase_derived(conn: Any, tombstone: dict[str, list[str]], email_digest: str) -> dict[str, int]:
    """Delete the respondent's rows from every table the models built, on a connection of
    either engine (`?` placeholders on both)."""
    columns: dict[tuple[str, str], set[str]] = {}
    for schema, table, column in conn.execute(
        f"""
        select c.table_schema, c.table_name, lower(c.column_name)
        from information_schema.columns as c
        inner join information_schema.tables as t
            on c.table_catalog = t.table_catalog
            and c.table_schema = t.table_schema
            and c.table_name = t.table_name
        where t.table_type = 'BASE TABLE'
            and c.table_catalog = current_database()
            and c.table_schema not in ({", ".join(f"'{s}'" for s in UNTOUCHED_SCHEMAS)})
            and lower(c.column_name) in ('respondent_id', 'response_id', 'respondent_email')
        """
    ).fetchall():
        columns.setdefault((schema, table), set()).add(column)
    matches = (
        ("respondent_id", "trim(respondent_id::varchar)", tombstone[RESPONDENT_ID]),
        ("response_id", "trim(response_id::varchar)", tombstone[RESPONSE_ID]),
        (
            "respondent_email",
            email_digest.format("respondent_email::varchar"),
            tombstone[EMAIL_SHA256],
        ),
    )
    erased: dict[str, int] = {}
    for (schema, table), names in sorted(columns.items()):
        conditions, params = [], []
        for column, expression, values in matches:
            if column in names and values:
                conditions.append(f"{expression} in ({', '.join('?' for _ in values)})")
                params.extend(values)
        if not conditions:
            continue
        relation = f'"{schema}"."{table}"'
        where = " or ".join(conditions)
        rows = conn.execute(f"select count(*) from {relation} where {where}", params).fetchall()
        if rows[0][0]:
            conn.execute(f"delete from {relation} where {where}", params)
            erased[f"{schema}.{table}"] = rows[0][0]
    return erased


def _forget_on_postgres(
    engine: PostgresEngine, cache: duckdb.DuckDBPyConnection, tombstone: dict[str, list[str]]
) -> dict[str, int]:
    """Steps 3 and 4 in PostgreSQL, in one transaction, reading the cache's uncommitted state."""
    raw_tables = [
        table
        for table in (*TOMBSTONE_PREDICATES, ERASURES_TABLE.removeprefix("raw."))
        if _table_exists(cache, "raw", table)
    ]
    with engine.connect() as conn:
        before = _raw_counts(conn, raw_tables)
        after = engine.sync_raw(conn, cache, raw_tables)
        erased = {
            f"raw.{table}": before[table] - after[table]
            for table in TOMBSTONE_PREDICATES
            if table in after and before.get(table, after[table]) > after[table]
        }
        erased.update(_erase_derived(conn, tombstone, POSTGRES_EMAIL_DIGEST))
    log.info("forgotten in PostgreSQL: %s", erased)
    return erased


def _raw_counts(conn: Any, tables: list[str]) -> dict[str, int]:
    present = {
        name
        for (name,) in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'"
        ).fetchall()
    }
    return {
        table: conn.execute(f'select count(*) from raw."{table}"').fetchall()[0][0]
        for table in tables
        if table in present
    }


def _table_exists(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        conn.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = ? and table_catalog = current_database()",
            [schema, table],
        ).fetchall()[0][0]
    )
