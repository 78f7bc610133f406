"""Publishing writes only what changed (real DuckDB files): the published copy and the Parquet
files always equal the warehouse's marts, unchanged marts keep their files, changed days are
patched, and `fresh` (after an erasure) writes a new file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from orchestration.publish import (
    FINGERPRINT_SCHEMA,
    PARQUET_DIR,
    PUBLISHED_DATABASE,
    publish_marts,
)


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    """Two marts: one by day (with a row of no day), one without a date column."""
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("create schema marts")
        conn.execute(
            "create table marts.daily as select date '2025-01-01' + (i % 30)::int as day, "
            "'branch-' || (i % 7) as branch, i as responses from range(3000) as r(i) "
            "union all select null, 'branch-x', -1"
        )
        conn.execute(
            "create table marts.themes as select 'theme-' || i as theme, i as mentions "
            "from range(20) as r(i)"
        )
    return path


def _sql(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def _assert_published_equals(warehouse: Path, published: Path) -> None:
    with duckdb.connect() as conn:
        conn.execute(f"attach '{warehouse}' as wh (read_only)")
        conn.execute(f"attach '{published / PUBLISHED_DATABASE}' as pub (read_only)")
        marts = sorted(
            name
            for (name,) in conn.execute(
                "select table_name from duckdb_tables() "
                "where database_name = 'wh' and schema_name = 'marts'"
            ).fetchall()
        )
        published_marts = sorted(
            name
            for (name,) in conn.execute(
                "select table_name from duckdb_tables() "
                "where database_name = 'pub' and schema_name = 'marts'"
            ).fetchall()
        )
        assert published_marts == marts
        assert sorted(p.stem for p in (published / PARQUET_DIR).glob("*.parquet")) == marts
        for mart in marts:
            parquet = published / PARQUET_DIR / f"{mart}.parquet"
            for copy in (f"pub.marts.{mart}", f"read_parquet('{parquet}')"):
                differing = conn.execute(
                    f"select count(*) from ((select * from wh.marts.{mart} except all "
                    f"select * from {copy}) union all (select * from {copy} except all "
                    f"select * from wh.marts.{mart}))"
                ).fetchall()[0][0]
                assert differing == 0, (mart, copy)


def _stamps(published: Path) -> dict[str, tuple[int, int]]:
    return {
        p.stem: (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in (published / PARQUET_DIR).glob("*.parquet")
    }


def test_only_changed_marts_and_days_are_written(warehouse: Path, tmp_path: Path) -> None:
    published = tmp_path / "published"
    first = publish_marts(warehouse, published, "one")
    assert first.changed == ("daily", "themes")
    assert first.tables == {"daily": 3001, "themes": 20}
    _assert_published_equals(warehouse, published)
    stamps = _stamps(published)

    again = publish_marts(warehouse, published, "two")
    assert again.changed == ()
    assert _stamps(published) == stamps  # the same files, not rewritten
    _assert_published_equals(warehouse, published)

    with duckdb.connect(str(warehouse)) as conn:
        # a changed value on one day, a removed day, a new day, the rows without a day
        conn.execute("update marts.daily set responses = responses + 1 where day = '2025-01-05'")
        conn.execute("delete from marts.daily where day = '2025-01-09'")
        conn.execute("insert into marts.daily values ('2025-02-01', 'branch-1', 5)")
        conn.execute("update marts.daily set branch = 'branch-y' where day is null")
    patched = publish_marts(warehouse, published, "three")
    assert patched.changed == ("daily",)
    assert patched.tables["daily"] == 3001 - 100 + 1
    _assert_published_equals(warehouse, published)
    after = _stamps(published)
    assert after["themes"] == stamps["themes"] and after["daily"] != stamps["daily"]
    recorded_days = _sql(
        published / PUBLISHED_DATABASE,
        f"select count(*) from {FINGERPRINT_SCHEMA}.partitions where mart = 'daily'",
    )
    assert recorded_days == [(30 - 1 + 1 + 1,)]  # 30 days, one gone, one new, no day


def test_a_mart_swapping_values_between_rows_of_a_day_is_seen_as_changed(
    warehouse: Path, tmp_path: Path
) -> None:
    published = tmp_path / "published"
    publish_marts(warehouse, published, "one")
    with duckdb.connect(str(warehouse)) as conn:
        # the same counts and the same values per column: only their pairing changed
        conn.execute(
            "update marts.daily set branch = case responses when 2 then 'branch-4' "
            "else 'branch-2' end where responses in (2, 32)"
        )
    assert _sql(
        warehouse,
        "select day, branch, responses from marts.daily where responses in (2, 32) order by 3",
    ) == [(date(2025, 1, 3), "branch-4", 2), (date(2025, 1, 3), "branch-2", 32)]
    assert publish_marts(warehouse, published, "two").changed == ("daily",)
    _assert_published_equals(warehouse, published)


def test_new_changed_and_dropped_marts(warehouse: Path, tmp_path: Path) -> None:
    published = tmp_path / "published"
    publish_marts(warehouse, published, "one")
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("alter table marts.daily add column note varchar default 'n'")
        conn.execute("update marts.themes set mentions = mentions * 2 where theme = 'theme-3'")
        conn.execute("create table marts.fresh_mart as select 1 as one")
        conn.execute("create table marts.empty_mart (day date, n integer)")
    result = publish_marts(warehouse, published, "two")
    assert result.changed == ("daily", "empty_mart", "fresh_mart", "themes")
    assert result.tables["empty_mart"] == 0
    _assert_published_equals(warehouse, published)
    with duckdb.connect(str(warehouse)) as conn:  # an empty mart filled, a full one emptied
        conn.execute("insert into marts.empty_mart values ('2025-01-01', 1)")
        conn.execute("delete from marts.fresh_mart")
    result = publish_marts(warehouse, published, "emptied")
    assert result.changed == ("empty_mart", "fresh_mart")
    _assert_published_equals(warehouse, published)
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("drop table marts.themes")
    result = publish_marts(warehouse, published, "three")
    assert result.changed == () and "themes" not in result.tables
    _assert_published_equals(warehouse, published)
    assert _sql(
        published / PUBLISHED_DATABASE,
        f"select distinct mart from {FINGERPRINT_SCHEMA}.marts order by 1",
    ) == [("daily",), ("empty_mart",), ("fresh_mart",)]


def test_a_publication_without_fingerprints_is_written_anew(
    warehouse: Path, tmp_path: Path
) -> None:
    published = tmp_path / "published"
    published.mkdir()
    with duckdb.connect(str(published / PUBLISHED_DATABASE)) as conn:  # an older layout
        conn.execute("create schema marts")
        conn.execute("create table marts.daily as select 'stale' as what")
        conn.execute("create table marts.gone as select 1 as x")
    result = publish_marts(warehouse, published, "one")
    assert result.changed == ("daily", "themes")
    _assert_published_equals(warehouse, published)


def test_fresh_leaves_no_trace_of_deleted_rows(warehouse: Path, tmp_path: Path) -> None:
    published = tmp_path / "published"
    secret = "erased-respondent-7f3a9c"
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute(f"insert into marts.themes values ('{secret}', 1)")
    publish_marts(warehouse, published, "one")
    assert secret.encode() in (published / PUBLISHED_DATABASE).read_bytes()
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute(f"delete from marts.themes where theme = '{secret}'")
    result = publish_marts(warehouse, published, "forget", fresh=True)
    assert result.changed == ("daily", "themes")  # everything written again
    _assert_published_equals(warehouse, published)
    assert secret.encode() not in (published / PUBLISHED_DATABASE).read_bytes()
    for parquet in (published / PARQUET_DIR).glob("*.parquet"):
        assert secret.encode() not in parquet.read_bytes()
