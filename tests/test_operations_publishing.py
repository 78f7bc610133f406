"""A run that dies half-way leaves the last good published marts readable (issue 6): the
publication is written beside the old one and swapped in by rename only once complete."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import duckdb

from orchestration.publish import PUBLISHED_DATABASE, publish_marts
from tests.conftest import REPO


def test_publication_killed_half_way_keeps_the_last_good_marts(tmp_path: Path) -> None:
    warehouse, published = tmp_path / "warehouse.duckdb", tmp_path / "published"
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("create schema marts")
        conn.execute("create table marts.nps_daily as select 42 as responses")
    publish_marts(warehouse, published, run_id="good")
    with duckdb.connect(str(warehouse)) as conn:
        # big enough that copying it takes a while: the process dies in the middle
        conn.execute(
            "create or replace table marts.nps_daily as "
            "select random() as responses from range(20000000)"
        )
    staged = published / f".{PUBLISHED_DATABASE}.killed"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from orchestration.publish import publish_marts;"
            " publish_marts(Path(sys.argv[1]), Path(sys.argv[2]), run_id='killed')",
            str(warehouse),
            str(published),
        ],
        cwd=REPO,
    )
    deadline = time.monotonic() + 120
    while not staged.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.kill()
    process.wait()
    assert staged.exists(), "the publication finished before it could be killed"
    # readers still get the last good marts, complete
    with duckdb.connect(str(published / PUBLISHED_DATABASE), read_only=True) as conn:
        assert conn.execute("select responses from marts.nps_daily").fetchall() == [(42,)]
    assert duckdb.sql(
        f"select count(*) from '{published / 'parquet' / 'nps_daily.parquet'}'"
    ).fetchall() == [(1,)]
    # and the next run publishes over the leftovers
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("create or replace table marts.nps_daily as select 7 as responses")
    publish_marts(warehouse, published, run_id="next")
    with duckdb.connect(str(published / PUBLISHED_DATABASE), read_only=True) as conn:
        assert conn.execute("select responses from marts.nps_daily").fetchall() == [(7,)]
