"""PostgreSQL: dbt builds the models there (`--target postgres`); the loader's raw tables are
copied in with COPY (psycopg2, installed with dbt-postgres)."""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from orchestration.engines.base import quote

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
            cursor = conn.execute(sql)
            names = [d.name for d in cursor.description]
            rows = cursor.fetchall()
        columns = {}
        for i, name in enumerate(names):
            column = pa.array([row[i] for row in rows])
            if pa.types.is_decimal(column.type):
                # numeric (e.g. sums of bigints) reads as double, as DuckDB's hugeint sums do
                column = column.cast(pa.float64())
            columns[name] = column
        return pa.table(columns)

    def table_columns(self, schema: str, table: str) -> list[str]:
        return [
            name
            for (name,) in self.fetchall(
                "select column_name from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position",
                [schema, table],
            )
        ]

    def write_raw(self, source: duckdb.DuckDBPyConnection, tables: Sequence[str]) -> dict[str, int]:
        """Replace each PostgreSQL `raw.<table>` by the DuckDB one, all in one transaction, so
        dbt never sees one table new and another old. Columns the contract added later are
        added; the table is never dropped (staging views depend on it)."""
        counts: dict[str, int] = {}
        with tempfile.TemporaryDirectory(prefix="nps-raw-copy-") as tmp, self.connect() as conn:
            conn.execute("create schema if not exists raw")
            for table in tables:
                columns = source.execute(
                    "select column_name, data_type from information_schema.columns "
                    "where table_schema = 'raw' and table_name = ? order by ordinal_position",
                    [table],
                ).fetchall()
                if not columns:
                    continue
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
                            f"alter table raw.{quote(table)} add column {quote(name)} "
                            f"{postgres_type(kind)}"
                        )
                names = ", ".join(quote(n) for n, _ in columns)
                path = Path(tmp) / f"{table}.csv"
                # DuckDB writes NULL unquoted and '' quoted: COPY ... csv reads them back apart
                source.execute(
                    f"copy (select {names} from raw.{quote(table)}) to "
                    f"'{path.as_posix()}' (format csv, header false)"
                )
                conn.execute(f"truncate raw.{quote(table)}")
                with path.open("r", encoding="utf-8") as handle:
                    conn.raw.cursor().copy_expert(
                        f"copy raw.{quote(table)} ({names}) from stdin with (format csv)", handle
                    )
                rows = conn.execute(f"select count(*) from raw.{quote(table)}").fetchall()
                counts[table] = rows[0][0]
        log.info("raw tables copied to PostgreSQL: %s", counts)
        return counts
