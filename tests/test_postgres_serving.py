"""PostgreSQL target, raw copy: a run copies only the files it loaded or replaced, in one
transaction, and the result equals a fresh full copy.

Uses the loader on the fixture landing folder (no Dagster, no dbt) and a private PostgreSQL
server (tests/test_postgres.py's fixture: skipped without binaries unless
NPS_REQUIRE_POSTGRES=1).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from orchestration.assets.raw import raw_tables_to_copy
from orchestration.engines import PostgresEngine, postgres_settings_from_env
from orchestration.landing.feeds import FEEDS, NPS_RESPONSES
from orchestration.landing.loader import load_feed
from tests.conftest import build_fixture_landing
from tests.test_postgres import _pg_connect, postgres  # noqa: F401 - the server fixture

FEED_TABLE = NPS_RESPONSES.table


def _new_database(postgres: dict[str, str]) -> dict[str, str]:  # noqa: F811
    """NPS_PG_* of another empty database on the same server."""
    conn = _pg_connect(postgres)
    conn.autocommit = True
    name = f"nps_test_{uuid.uuid4().hex[:8]}"
    conn.cursor().execute(f'create database "{name}"')
    conn.close()
    return {**postgres, "NPS_PG_DATABASE": name}


def _engine(env: dict[str, str]) -> PostgresEngine:
    return PostgresEngine(postgres_settings_from_env(env))


def _load(cache: Path, landing: Path, load_id: str) -> dict[str, list[str]]:
    """Load every feed into the landing cache; the raw tables to copy per feed."""
    conn = duckdb.connect(str(cache))
    try:
        tables = {}
        for feed in FEEDS:
            load_feed(conn, landing, feed, load_id)
            tables[feed.name] = raw_tables_to_copy(conn, feed)
        return tables
    finally:
        conn.close()


def _copy(cache: Path, engine: PostgresEngine, tables: dict[str, list[str]]) -> dict[str, int]:
    conn = duckdb.connect(str(cache))
    try:
        counts: dict[str, int] = {}
        for feed_tables in tables.values():
            counts.update(engine.write_raw(conn, feed_tables))
        return counts
    finally:
        conn.close()


def _raw_state(env: dict[str, str], tables: list[str]) -> dict[str, list[tuple]]:
    """Every row of each raw table, sorted (instants in UTC)."""
    conn = _pg_connect(env)
    try:
        cursor = conn.cursor()
        state = {}
        for table in tables:
            cursor.execute(f'select * from raw."{table}"')
            rows = [
                tuple(v.astimezone(dt.UTC) if isinstance(v, dt.datetime) else v for v in row)
                for row in cursor.fetchall()
            ]
            state[table] = sorted(rows, key=lambda row: tuple(str(v) for v in row))
        return state
    finally:
        conn.close()


def _files(env: dict[str, str]) -> dict[str, tuple[str, int]]:
    conn = _pg_connect(env)
    try:
        cursor = conn.cursor()
        cursor.execute(
            f"select _source_file, min(_load_id), count(*) from raw.{FEED_TABLE} group by 1"
        )
        return {f: (load_id, rows) for f, load_id, rows in cursor.fetchall()}
    finally:
        conn.close()


@pytest.fixture
def landing_and_cache(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    yield build_fixture_landing(tmp_path / "landing"), tmp_path / "landing_cache.duckdb"


def test_second_copy_sends_only_changed_files_and_equals_a_fresh_full_copy(
    postgres: dict[str, str],  # noqa: F811
    landing_and_cache: tuple[Path, Path],
) -> None:
    landing, cache = landing_and_cache
    incremental = _new_database(postgres)
    tables = _load(cache, landing, "load-1")
    _copy(cache, _engine(incremental), tables)
    first = _files(incremental)
    assert first and all(load_id == "load-1" for load_id, _ in first.values())

    changed = landing / "nps" / "daily" / "store_2025-03-01.csv"
    lines = changed.read_text(encoding="utf-8").splitlines()
    changed.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")  # one response fewer
    added = landing / "nps" / "daily" / "store_2025-03-09.csv"
    added.write_text("\n".join(lines[:3]) + "\n", encoding="utf-8")
    tables = _load(cache, landing, "load-2")
    _copy(cache, _engine(incremental), tables)

    second = _files(incremental)
    changed_key, added_key = "nps/daily/store_2025-03-01.csv", "nps/daily/store_2025-03-09.csv"
    assert second[changed_key] == ("load-2", first[changed_key][1] - 1)
    assert second[added_key][0] == "load-2"
    # the files this run did not load keep the rows of the first copy
    assert {f: v for f, v in second.items() if f not in (changed_key, added_key)} == {
        f: v for f, v in first.items() if f != changed_key
    }

    fresh = _new_database(postgres)
    _copy(cache, _engine(fresh), tables)
    every_table = sorted({t for feed_tables in tables.values() for t in feed_tables})
    assert _raw_state(incremental, every_table) == _raw_state(fresh, every_table)


def test_copy_repairs_a_mismatch_and_never_leaves_half_a_copy(
    postgres: dict[str, str],  # noqa: F811
    landing_and_cache: tuple[Path, Path],
) -> None:
    landing, cache = landing_and_cache
    env = _new_database(postgres)
    tables = _load(cache, landing, "load-1")
    _copy(cache, _engine(env), tables)
    expected = _raw_state(env, [FEED_TABLE, "landing_manifest"])

    # PostgreSQL lost rows behind the pipeline's back: the per-file check copies them again
    conn = _pg_connect(env)
    with conn, conn.cursor() as cursor:
        cursor.execute(f"delete from raw.{FEED_TABLE} where _source_row = 1")
    conn.close()
    _copy(cache, _engine(env), tables)
    assert _raw_state(env, [FEED_TABLE, "landing_manifest"]) == expected

    # a copy that fails half-way (a column type PostgreSQL cannot take, after the feed's table
    # was already synced in the same transaction) leaves the previous state whole
    source = duckdb.connect(str(cache))
    try:
        source.execute(f"delete from raw.{FEED_TABLE} where _source_row = 2")
        source.execute("create table raw.not_copyable (x interval)")
        with pytest.raises(ValueError, match="no PostgreSQL type"):
            _engine(env).write_raw(source, [FEED_TABLE, "not_copyable"])
    finally:
        source.close()
    assert _raw_state(env, [FEED_TABLE, "landing_manifest"]) == expected


def test_results_read_as_arrow_and_frames_keep_their_values_and_types(
    postgres: dict[str, str],  # noqa: F811
) -> None:
    import numpy as np
    import pyarrow as pa

    engine = _engine(postgres)
    sql = (
        "select 'AP-001'::text as id, 12::bigint as n, 2.5::numeric as ratio, "
        "date '2025-03-05' as day, timestamptz '2025-03-05 10:00+01' as at, "
        "null::text as nothing, '{\"a\": 1}'::jsonb as doc, "
        "'8c1f6d0c-3a8e-4b5e-9d55-1b2a4f0f0e6a'::uuid as uid "
        "from generate_series(1, 3)"
    )
    table = engine.read_arrow(sql)
    assert table.num_rows == 3
    assert table.schema.field("n").type == pa.int64()
    assert table.schema.field("ratio").type == pa.float64()
    assert table.schema.field("day").type == pa.date32()
    assert table.schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("nothing").type == pa.string()
    row = table.to_pylist()[0]
    assert row["id"] == "AP-001" and row["n"] == 12 and row["ratio"] == 2.5
    assert row["at"] == dt.datetime(2025, 3, 5, 9, tzinfo=dt.UTC)
    assert row["doc"] == '{"a": 1}' and row["uid"] == "8c1f6d0c-3a8e-4b5e-9d55-1b2a4f0f0e6a"
    assert engine.read_arrow(sql + " where false").schema == table.schema

    with engine.snapshot("public") as conn:
        # a value read back from a frame (a numpy scalar) works as a parameter
        frame = engine.read_frame(conn, "select ?::bigint + 1 as next", [np.int64(41)])
    assert frame["next"].tolist() == [42]
