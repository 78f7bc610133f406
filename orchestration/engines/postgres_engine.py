"""PostgreSQL: dbt builds the models there (`--target postgres`); the loader's raw tables are
copied in with COPY (psycopg2, installed with dbt-postgres)."""

from __future__ import annotations

import logging
import os
import re
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from orchestration.engines.base import information_schema_columns, quote

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

# DuckDB column types of the raw schema -> PostgreSQL
_TYPES = {
    "VARCHAR": "varchar",
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "SMALLINT": "smallint",
    "BOOLEAN": "boolean",
    "DOUBLE": "double precision",
    "FLOAT": "real",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "UUID": "uuid",
    "JSON": "jsonb",
}


@dataclass(frozen=True)
class PostgresSettings:
    """Where the PostgreSQL warehouse is: NPS_PG_* (the same variables as profiles.yml)."""

    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    password: str = ""
    database: str = "nps_warehouse"

    def dsn(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "dbname": self.database,
        }

    def sqlalchemy_url(self) -> str:
        from urllib.parse import quote_plus

        password = f":{quote_plus(self.password)}" if self.password else ""
        return (
            f"postgresql+psycopg2://{quote_plus(self.user)}{password}@{self.host}:{self.port}/"
            f"{quote_plus(self.database)}"
        )

    def __repr__(self) -> str:  # never print the password
        return (
            f"PostgresSettings(host={self.host!r}, port={self.port}, user={self.user!r}, "
            f"database={self.database!r})"
        )


def postgres_settings_from_env(environ: Mapping[str, str] | None = None) -> PostgresSettings:
    env = os.environ if environ is None else environ
    return PostgresSettings(
        host=env.get("NPS_PG_HOST") or "127.0.0.1",
        port=int(env.get("NPS_PG_PORT") or 5432),
        user=env.get("NPS_PG_USER") or "postgres",
        password=env.get("NPS_PG_PASSWORD") or "",
        database=env.get("NPS_PG_DATABASE") or "nps_warehouse",
    )


def postgres_type(duckdb_type: str) -> str:
    kind = duckdb_type.upper()
    if kind in _TYPES:
        return _TYPES[kind]
    if re.fullmatch(r"DECIMAL\(\d+,\d+\)", kind):
        return kind.lower().replace("decimal", "numeric")
    raise ValueError(f"no PostgreSQL type for the DuckDB type {duckdb_type!r}")


class _Connection:
    """psycopg2 with the small `execute(sql, params).fetchall()` surface DuckDB offers."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> Any:
        """`?` placeholders, as on DuckDB, so callers write one SQL for both engines."""
        cursor = self.raw.cursor()
        if parameters is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql.replace("%", "%%").replace("?", "%s"), list(parameters))
        return cursor

    def close(self) -> None:
        self.raw.close()


class PostgresEngine:
    name = "postgres"
    # BI tools connect to PostgreSQL itself: no DuckDB copy is published
    publishes_duckdb_file = False

    def __init__(self, settings: PostgresSettings) -> None:
        self.settings = settings

    def __repr__(self) -> str:
        return f"PostgresEngine({self.settings!r})"

    @property
    def label(self) -> str:
        return f"PostgreSQL database {self.settings.database}"

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[_Connection]:
        import psycopg2

        raw = psycopg2.connect(**self.settings.dsn(), options="-c jit=off -c TimeZone=UTC")
        raw.set_session(readonly=read_only)
        conn = _Connection(raw)
        try:
            yield conn
            raw.commit()
        except BaseException:
            raw.rollback()
            raise
        finally:
            conn.close()

    def fetchall(self, sql: str, parameters: Sequence[Any] | None = None) -> list[tuple]:
        with self.connect(read_only=True) as conn:
            return conn.execute(sql, parameters).fetchall()

    def read_arrow(self, sql: str) -> pa.Table:
        with self.connect(read_only=True) as conn:
            schema, batches = arrow_batches(conn, sql)
            return pa.Table.from_batches(list(batches), schema)

    @contextmanager
    def snapshot(self, schema: str) -> Iterator[_Connection]:
        """A read-only connection whose queries all see one state of the database (a run
        committing meanwhile never mixes in), unqualified names resolving in `schema`."""
        with self.connect(read_only=True) as conn:
            conn.execute("set transaction isolation level repeatable read")
            conn.execute(f"set local search_path to {quote(schema)}")
            yield conn

    def read_frame(self, conn: _Connection, sql: str, parameters: Sequence[Any] = ()) -> Any:
        """A query's result as a pandas DataFrame, typed as DuckDB's `.df()` types it."""
        # values read back from an earlier frame are numpy scalars, which psycopg2 cannot adapt
        values = [v.item() if type(v).__module__ == "numpy" else v for v in parameters]
        cursor = conn.execute(sql, values)
        schema = arrow_schema(cursor.description)
        table = pa.Table.from_batches([_record_batch(schema, cursor.fetchall())], schema)
        return table.to_pandas(date_as_object=False)

    def table_columns(self, schema: str, table: str) -> list[str]:
        return information_schema_columns(self, schema, table)

    def write_raw(self, source: duckdb.DuckDBPyConnection, tables: Sequence[str]) -> dict[str, int]:
        """Bring each PostgreSQL `raw.<table>` level with the DuckDB one in one transaction, so
        dbt never sees one table new and another old, nor a file half copied."""
        with self.connect() as conn:
            counts = self.sync_raw(conn, source, tables)
        log.info("raw tables in PostgreSQL: %s", counts)
        return counts

    def sync_raw(
        self, conn: _Connection, source: duckdb.DuckDBPyConnection, tables: Sequence[str]
    ) -> dict[str, int]:
        """`write_raw` inside the caller's transaction (`forget` erases the models' rows in the
        same one). Returns the rows of each table in PostgreSQL afterwards.

        A feed's table (one with `_source_file` and `_load_id`) is synced per file: a file is
        copied again when its signature, its load ids with their row counts, differs between
        the two engines, and files PostgreSQL holds but DuckDB no longer does are deleted. A
        run thus copies the files it loaded or replaced and nothing else; the first run, a
        copy that died half-way or rows erased by `forget` show up as differing signatures
        and are repaired the same way. The bookkeeping tables (a row per file or attempt) are
        replaced whole. Columns the contract added later are added; a table is never dropped
        (staging views depend on it)."""
        counts: dict[str, int] = {}
        conn.execute("create schema if not exists raw")
        with tempfile.TemporaryDirectory(prefix="nps-raw-copy-") as tmp:
            for table in tables:
                columns = source.execute(
                    "select column_name, data_type from information_schema.columns "
                    "where table_schema = 'raw' and table_name = ? order by ordinal_position",
                    [table],
                ).fetchall()
                if not columns:
                    continue
                _ensure_table(conn, table, columns)
                names = [name for name, _ in columns]
                csv = Path(tmp) / f"{table}.csv"
                if FILE_COLUMNS <= set(names):
                    _sync_files(conn, source, table, names, csv)
                else:
                    conn.execute(f"truncate raw.{quote(table)}")
                    _copy_rows(conn, source, table, names, csv, where="", parameters=[])
                rows = conn.execute(f"select count(*) from raw.{quote(table)}").fetchall()
                counts[table] = rows[0][0]
        return counts


# the lineage columns that tie a raw row to the version of the file it came from
FILE_COLUMNS = {"_source_file", "_load_id"}


def _ensure_table(conn: _Connection, table: str, columns: Sequence[tuple[str, str]]) -> None:
    definition = ", ".join(f"{quote(n)} {postgres_type(t)}" for n, t in columns)
    conn.execute(f"create table if not exists raw.{quote(table)} ({definition})")
    existing = {
        name
        for (name,) in conn.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'raw' and table_name = ?",
            [table],
        ).fetchall()
    }
    for name, kind in columns:
        if name not in existing:
            conn.execute(
                f"alter table raw.{quote(table)} add column {quote(name)} {postgres_type(kind)}"
            )
    if FILE_COLUMNS <= {name for name, _ in columns}:
        # the per-file deletes of `_sync_files` must not scan the whole history
        conn.execute(
            f"create index if not exists {quote(table + '__source_file')} "
            f"on raw.{quote(table)} (_source_file)"
        )


FileSignature = tuple[tuple[str | None, int], ...]


def _signatures(rows: Sequence[tuple[Any, Any, Any]]) -> dict[str | None, FileSignature]:
    """(source_file, load_id, rows) per file and load -> source_file -> its signature."""
    grouped: dict[str | None, list[tuple[str | None, int]]] = {}
    for source_file, load_id, count in rows:
        grouped.setdefault(source_file, []).append((load_id, int(count)))
    return {
        source_file: tuple(sorted(loads, key=lambda load: (load[0] or "", load[1])))
        for source_file, loads in grouped.items()
    }


def _sync_files(
    conn: _Connection, source: duckdb.DuckDBPyConnection, table: str, names: list[str], csv: Path
) -> None:
    signature_sql = (
        f"select _source_file, _load_id, count(*) from raw.{quote(table)} "
        "group by _source_file, _load_id"
    )
    ours = _signatures(source.execute(signature_sql).fetchall())
    theirs = _signatures(conn.execute(signature_sql).fetchall())
    if None in ours or None in theirs:
        # rows without lineage cannot be matched to a file: copy the table whole
        conn.execute(f"truncate raw.{quote(table)}")
        _copy_rows(conn, source, table, names, csv, where="", parameters=[])
        return
    stale = sorted(f for f, signature in theirs.items() if ours.get(f) != signature)
    fresh = sorted(f for f, signature in ours.items() if theirs.get(f) != signature)
    if stale:
        conn.execute(f"delete from raw.{quote(table)} where _source_file = any(?)", [stale])
    if fresh:
        _copy_rows(
            conn,
            source,
            table,
            names,
            csv,
            where="where list_contains(?, _source_file)",
            parameters=[fresh],
        )
    log.info(
        "raw.%s: %d file(s) copied, %d deleted or replaced, %d unchanged",
        table,
        len(fresh),
        len(stale),
        len(ours) - len(fresh),
    )


def _copy_rows(
    conn: _Connection,
    source: duckdb.DuckDBPyConnection,
    table: str,
    names: list[str],
    csv: Path,
    where: str,
    parameters: list[Any],
) -> None:
    columns = ", ".join(quote(n) for n in names)
    # DuckDB writes NULL unquoted and '' quoted: COPY ... csv reads them back apart
    source.execute(
        f"copy (select {columns} from raw.{quote(table)} {where}) to "
        f"'{csv.as_posix()}' (format csv, header false)",
        parameters,
    )
    with csv.open("r", encoding="utf-8") as handle:
        conn.raw.cursor().copy_expert(
            f"copy raw.{quote(table)} ({columns}) from stdin with (format csv)", handle
        )


# PostgreSQL type oids (pg_type) -> Arrow; numeric reads as double, as DuckDB's sums of bigints
# (hugeint) do; anything else arrives as text
_ARROW_TYPES: dict[int, pa.DataType] = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int16(),
    23: pa.int32(),
    26: pa.int64(),
    700: pa.float32(),
    701: pa.float64(),
    1700: pa.float64(),
    1082: pa.date32(),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"),
    1186: pa.duration("us"),
}
# values psycopg2 hands over as Python objects that Arrow's text or double do not take as is
_JSON_TYPES = {114, 3802}


def arrow_schema(description: Sequence[Any]) -> pa.Schema:
    """The Arrow schema of a psycopg2 cursor's result, from the column types alone (an empty
    result or an all-null column is typed all the same)."""
    return pa.schema(
        pa.field(
            column.name,
            _ARROW_TYPES.get(column.type_code, pa.string()),
            metadata={"pg_type": str(column.type_code)},
        )
        for column in description
    )


def _record_batch(schema: pa.Schema, rows: Sequence[tuple]) -> pa.RecordBatch:
    import json

    arrays = []
    for i, field in enumerate(schema):
        values = [row[i] for row in rows]
        oid = int(field.metadata[b"pg_type"])
        if oid == 1700:
            values = [None if v is None else float(v) for v in values]
        elif oid in _JSON_TYPES:
            values = [None if v is None else json.dumps(v) for v in values]
        elif pa.types.is_string(field.type):
            values = [v if v is None or isinstance(v, str) else str(v) for v in values]
        arrays.append(pa.array(values, type=field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def arrow_batches(
    conn: _Connection, sql: str, batch_rows: int = 50_000
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """(schema, batches) of a query; the batches stream from a server-side cursor, so a big
    mart never sits in memory twice."""
    cursor = conn.raw.cursor(name=f"nps_arrow_{uuid.uuid4().hex[:12]}")
    cursor.itersize = batch_rows
    cursor.execute(sql)
    first = cursor.fetchmany(batch_rows)
    schema = arrow_schema(cursor.description)

    def batches() -> Iterator[pa.RecordBatch]:
        rows = first
        try:
            while rows:
                yield _record_batch(schema, rows)
                rows = cursor.fetchmany(batch_rows)
        finally:
            cursor.close()

    return schema, batches()
