"""Publishing writes only what changed (real DuckDB files): the published copy and the Parquet
files always equal the warehouse's marts, unchanged marts keep their files, changed days are
patched, and `fresh` (after an erasure) writes a new file. In the monthly Parquet layout only
the changed months' files are written."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from orchestration.cli import main
from orchestration.engines import TARGET_ENV
from orchestration.publish import (
    FINGERPRINT_SCHEMA,
    PARQUET_DIR,
    PARQUET_VERSIONS_DIR,
    PUBLISHED_DATABASE,
    publish_marts,
)
from orchestration.settings import MONTHLY_LAYOUT, PARQUET_LAYOUT_ENV
from tests.build_logs import create_build_logs, log_build


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


def _assert_published_equals(
    warehouse: Path, published: Path, parquet_layout: str = "file"
) -> None:
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
        if parquet_layout == MONTHLY_LAYOUT:
            assert sorted(p.name for p in (published / PARQUET_DIR).iterdir()) == marts
        else:
            assert sorted(p.stem for p in (published / PARQUET_DIR).glob("*.parquet")) == marts
        for mart in marts:
            parquet = published / PARQUET_DIR / f"{mart}.parquet"
            if parquet_layout == MONTHLY_LAYOUT:
                parquet = published / PARQUET_DIR / mart / "*.parquet"
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

    # only the rows without a day, then only dated rows: each patched on its own
    for run_id, change in (
        ("four", "update marts.daily set responses = -2 where day is null"),
        ("five", "update marts.daily set responses = responses + 1 where day = '2025-01-07'"),
    ):
        with duckdb.connect(str(warehouse)) as conn:
            conn.execute(change)
        assert publish_marts(warehouse, published, run_id).changed == ("daily",)
        _assert_published_equals(warehouse, published)


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


def _month_files(published: Path, mart: str) -> dict[str, int]:
    """The monthly layout's files of `mart` as readers see them: name -> inode."""
    return {p.name: p.stat().st_ino for p in (published / PARQUET_DIR / mart).glob("*.parquet")}


def test_monthly_layout_writes_only_the_changed_months(warehouse: Path, tmp_path: Path) -> None:
    published = tmp_path / "published"
    with duckdb.connect(str(warehouse)) as conn:  # a second and a third month
        conn.execute(
            "insert into marts.daily select date '2025-02-01' + (i % 50)::int, 'branch-2', i "
            "from range(500) as r(i)"
        )
    first = publish_marts(warehouse, published, "one", parquet_layout=MONTHLY_LAYOUT)
    assert first.changed == ("daily", "themes")
    _assert_published_equals(warehouse, published, MONTHLY_LAYOUT)
    before = _month_files(published, "daily")
    assert sorted(before) == [
        "2025-01.parquet",
        "2025-02.parquet",
        "2025-03.parquet",
        "undated.parquet",
    ]
    assert sorted(_month_files(published, "themes")) == ["undated.parquet"]  # no date column
    # readers of a folder see exactly the mart's columns: no partition column is added
    table = pq.read_table(published / PARQUET_DIR / "daily")
    assert table.column_names == ["day", "branch", "responses"] and table.num_rows == 3501

    assert publish_marts(warehouse, published, "two", parquet_layout=MONTHLY_LAYOUT).changed == ()
    assert _month_files(published, "daily") == before

    with duckdb.connect(str(warehouse)) as conn:  # one February day changes, April begins
        conn.execute("update marts.daily set responses = -responses where day = '2025-02-10'")
        conn.execute("insert into marts.daily values ('2025-04-02', 'branch-3', 1)")
    replaced = (published / PARQUET_DIR / "daily").resolve()
    patched = publish_marts(warehouse, published, "three", parquet_layout=MONTHLY_LAYOUT)
    assert patched.changed == ("daily",)
    _assert_published_equals(warehouse, published, MONTHLY_LAYOUT)
    after = _month_files(published, "daily")
    assert sorted(after) == sorted([*before, "2025-04.parquet"])
    # the unchanged months are the same files (hard links), the changed one is new
    for month in ("2025-01.parquet", "2025-03.parquet", "undated.parquet"):
        assert after[month] == before[month]
    assert after["2025-02.parquet"] != before["2025-02.parquet"]
    # a reader that resolved the folder just before the swap still has all of it
    assert replaced.is_dir() and (published / PARQUET_DIR / "daily").resolve() != replaced
    assert duckdb.sql(f"select count(*) from '{replaced}/*.parquet'").fetchall() == [(3501,)]
    versions = published / PARQUET_VERSIONS_DIR / "daily"
    assert sorted(p.name for p in versions.iterdir()) == ["one", "three"]
    publish_marts(warehouse, published, "four", parquet_layout=MONTHLY_LAYOUT, fresh=True)
    assert sorted(p.name for p in versions.iterdir()) == ["four"]  # fresh keeps no older copy


def test_switching_parquet_layouts_leaves_nothing_behind(warehouse: Path, tmp_path: Path) -> None:
    published = tmp_path / "published"
    publish_marts(warehouse, published, "one")
    switched = publish_marts(warehouse, published, "two", parquet_layout=MONTHLY_LAYOUT)
    assert switched.changed == ("daily", "themes")  # the same rows, but not yet as folders
    _assert_published_equals(warehouse, published, MONTHLY_LAYOUT)
    assert not list((published / PARQUET_DIR).glob("*.parquet"))
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("drop table marts.themes")
    publish_marts(warehouse, published, "three", parquet_layout=MONTHLY_LAYOUT)
    _assert_published_equals(warehouse, published, MONTHLY_LAYOUT)
    assert not (published / PARQUET_VERSIONS_DIR / "themes").exists()
    back = publish_marts(warehouse, published, "four")
    assert back.changed == ("daily",)
    _assert_published_equals(warehouse, published)
    assert not (published / PARQUET_VERSIONS_DIR).exists()
    assert sorted(os.listdir(published)) == [PUBLISHED_DATABASE, PARQUET_DIR]


def test_fresh_monthly_publication_keeps_no_erased_row(warehouse: Path, tmp_path: Path) -> None:
    published = tmp_path / "published"
    secret = "erased-respondent-5c1d2e"
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute(f"insert into marts.daily values ('2025-01-03', '{secret}', 1)")
    publish_marts(warehouse, published, "one", parquet_layout=MONTHLY_LAYOUT)
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute(f"delete from marts.daily where branch = '{secret}'")
    publish_marts(warehouse, published, "forget", parquet_layout=MONTHLY_LAYOUT, fresh=True)
    _assert_published_equals(warehouse, published, MONTHLY_LAYOUT)
    for path in published.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


@pytest.mark.parametrize(
    ("layout", "target", "message"),
    [
        ("by-week", "duckdb", "expected one of file, monthly"),
        ("monthly", "postgres", "implemented for the DuckDB target only"),
    ],
)
def test_an_unusable_parquet_layout_stops_the_run_before_it_starts(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    layout: str,
    target: str,
    message: str,
) -> None:
    monkeypatch.setenv(PARQUET_LAYOUT_ENV, layout)
    # `run --target` sets DBT_TARGET in this process for dbt: restored after the test, or the
    # modules that run next on this worker would build on that target
    monkeypatch.setenv(TARGET_ENV, "duckdb")
    landing = tmp_path / "landing"
    landing.mkdir()
    warehouse = tmp_path / "warehouse.duckdb"
    command = ["run", "--landing", str(landing), "--warehouse", str(warehouse)]
    assert main([*command, "--target", target]) == 2
    assert message in capsys.readouterr().err
    assert not warehouse.exists()


def _log_build(warehouse: Path, first_day: str | None, hour: int, logged: bool = True) -> None:
    """What a dbt build of nps_rolling logs: its watermark and, unless not `logged` (an older
    model), the first day it rewrote (None: a full build)."""
    with duckdb.connect(str(warehouse)) as conn:
        create_build_logs(conn)
        log_build(conn, "nps_rolling", first_day, f"2025-03-01 {hour:02d}:00:00+00", logged)


def _published_value(published: Path, day: str) -> list[tuple]:
    return _sql(
        published / PUBLISHED_DATABASE,
        f"select sum(responses) from marts.nps_rolling where calendar_date = '{day}'",
    )


def test_logged_marts_are_fingerprinted_from_their_first_rebuilt_day(
    warehouse: Path, tmp_path: Path
) -> None:
    """A mart whose builds log the first day they rewrote (nps_rolling) is hashed from the
    earliest day logged since the last publication on; the earlier days' fingerprints are the
    last publication's. A change the logs do not announce is therefore not seen, unless a build
    logged nothing or rebuilt everything: then every day is hashed again."""
    published = tmp_path / "published"
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute(
            "create table marts.nps_rolling as select date '2025-01-01' + (i % 30)::int "
            "as calendar_date, i as responses from range(300) as r(i)"
        )
    _log_build(warehouse, None, 1)
    publish_marts(warehouse, published, "one")
    _assert_published_equals(warehouse, published)

    def change(sql: str) -> None:
        with duckdb.connect(str(warehouse)) as conn:
            conn.execute(sql)

    # a build rewrote the days from the 21st on (one of them changed); a change on the 5th
    # that no build logged stays unseen
    change(
        "update marts.nps_rolling set responses = responses + 1 where calendar_date = '2025-01-25'"
    )
    change("update marts.nps_rolling set responses = 0 where calendar_date = '2025-01-05'")
    _log_build(warehouse, "2025-01-21", 2)
    second = publish_marts(warehouse, published, "two")
    assert second.changed == ("nps_rolling",)
    assert _published_value(published, "2025-01-25") == _sql(
        warehouse, "select sum(responses) from marts.nps_rolling where calendar_date = '2025-01-25'"
    )
    assert _published_value(published, "2025-01-05") != [(0,)]

    # no build since: nothing of nps_rolling is hashed again
    assert publish_marts(warehouse, published, "three").changed == ()

    # a build that logged no day (e.g. an older model): every day is hashed, the 5th is seen
    _log_build(warehouse, "2025-01-29", 3, logged=False)
    assert publish_marts(warehouse, published, "four").changed == ("nps_rolling",)
    _assert_published_equals(warehouse, published)

    # a full build logged since: every day is hashed
    change("update marts.nps_rolling set responses = 1 where calendar_date = '2025-01-02'")
    _log_build(warehouse, None, 4)
    assert publish_marts(warehouse, published, "five").changed == ("nps_rolling",)
    _assert_published_equals(warehouse, published)
