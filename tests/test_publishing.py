"""Publishing for BI tools: readers never block the pipeline and never see a half-built state."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from tests.conftest import CliRun, run_cli

NEW_DAY = """response_id,survey_id,submitted_at,score,branch_id
P0001,SRV-STORE,2025-03-05T10:00:00Z,10,BR-0001
P0002,SRV-STORE,2025-03-05T11:00:00Z,2,BR-0001
"""


def test_first_run_publishes_every_mart(fixture_run: CliRun) -> None:
    published = fixture_run.warehouse.parent / "published"
    assert f"Published for BI tools (read-only): {published / 'nps_warehouse.duckdb'}" in (
        fixture_run.stdout
    )
    with duckdb.connect(str(published / "nps_warehouse.duckdb"), read_only=True) as reader:
        marts = {
            name
            for (name,) in reader.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        }
        with duckdb.connect(str(fixture_run.warehouse), read_only=True) as warehouse:
            expected = {
                name
                for (name,) in warehouse.execute(
                    "select table_name from information_schema.tables "
                    "where table_schema = 'marts' and table_type = 'BASE TABLE'"
                ).fetchall()
            }
        assert marts == expected
        assert {p.stem for p in (published / "parquet").glob("*.parquet")} == expected
        assert reader.execute("select count(*) from marts.fct_nps_responses").fetchall() == [(15,)]
    parquet = published / "parquet" / "fct_nps_responses.parquet"
    assert duckdb.sql(f"select count(*) from '{parquet}'").fetchall() == [(15,)]


@pytest.mark.timeout(600)
def test_reader_holding_the_published_file_across_a_run(
    fixture_run: CliRun, tmp_path: Path
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(fixture_run.warehouse, warehouse)
    shutil.copytree(fixture_run.warehouse.parent / "published", tmp_path / "published")
    landing = tmp_path / "landing"
    shutil.copytree(fixture_run.landing, landing)
    (landing / "nps" / "daily" / "store_2025-03-05.csv").write_text(NEW_DAY)

    published = tmp_path / "published" / "nps_warehouse.duckdb"
    parquet = tmp_path / "published" / "parquet" / "fct_nps_responses.parquet"
    reader = duckdb.connect(str(published), read_only=True)
    try:
        before = reader.execute("select count(*) from marts.fct_nps_responses").fetchall()
        run = run_cli(landing, warehouse, tmp_path / "dagster_home")
        # the open reader neither blocked the run nor broke
        assert "Files loaded this run: 1 (2 rows)" in run.stdout, run.stdout + run.stderr
        assert f"Published for BI tools (read-only): {published}" in run.stdout
        # it still sees the complete old publication, never a mix
        assert reader.execute("select count(*) from marts.fct_nps_responses").fetchall() == before
        assert reader.execute("select sum(responses) from marts.nps_daily").fetchall() == before
    finally:
        reader.close()
    with duckdb.connect(str(published), read_only=True) as fresh:
        assert fresh.execute("select count(*) from marts.fct_nps_responses").fetchall() == [
            (before[0][0] + 2,)
        ]
    assert duckdb.sql(f"select count(*) from '{parquet}'").fetchall() == [(before[0][0] + 2,)]
    assert not list((tmp_path / "published").glob(".*")), "no staging leftovers"
