"""Incremental dbt models (issue 6): any sequence of incremental runs equals a full refresh.

Simulated days of landing files are loaded with the real loader (as the pipeline does) into a
DuckDB warehouse and built with `dbt build` after each day: day-by-day files, one day in two
files, a late file (responses for days already processed, one a re-sent duplicate), a changed
file (same path, other rows: a response removed so its re-sent copy wins, a score changed, a day
emptied), a year-spanning backfill file, a forgotten respondent (`nps-warehouse forget`), and a
run restricted by nps_partition_start/end. Then the same raw data is rebuilt with
`--full-refresh` in a second warehouse and every mart must be equal row for row.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from orchestration.landing.feeds import FEEDS
from orchestration.landing.loader import ensure_raw_schema, load_feed
from orchestration.privacy import forget_respondent
from orchestration.quality.verdicts import ensure_batch_validations_table
from tests.conftest import REPO, evaluation_day_columns

DBT = str(Path(sys.executable).parent / "dbt")
HEADER = (
    "response_id,survey_id,respondent_id,submitted_at,score,channel,touchpoint,branch_id,product"
)
# columns that hold the moment a mart was evaluated or a row processed, not data
RUN_TIME_COLUMNS = {"evaluated_at", "evaluated_on", "_processed_at"}
# incremental intermediates (not marts) that must equal a full refresh too
COMPARED_INTERMEDIATES = (
    "int_nps_responses_aggregated",
    "int_nps_segment_days_rolled_up",
    "int_nps_responses_sequenced",
    "int_nps_latest_changes_rolled_up",
    "int_nps_periods_aggregated",
)
ROLLING_KEY = (
    "calendar_date, window_days, variant, hierarchy_level, region, district, branch_id, "
    "segment_type, segment_value"
)
ROLLING_SNAPSHOT = (
    f"select {ROLLING_KEY}, responses, * from marts.nps_rolling order by {ROLLING_KEY}"
)

MIGRATION_SNAPSHOT = (
    "select period_type, period_start, hierarchy_level, region, district, branch_id, "
    "segment_type, segment_value, from_category, to_category, respondents "
    "from marts.nps_category_migration order by all"
)
PERIOD_TYPES = "select distinct period_type from {table} order by 1"
# a row far from the periods the late response of 2024-05-15 and the lookback touch: a run that
# recomputed it would write its true count again over the marked one
MARKED_PERIOD_ROWS = {
    "intermediate.int_nps_periods_aggregated": (
        "period_type = 'day' and period_start = '2024-03-01' and hierarchy_level = 'all' "
        "and segment_type = 'all'"
    ),
    "marts.nps_by_period": (
        "period_type = 'week' and period_start = '2024-08-26' and hierarchy_level = 'all' "
        "and segment_type = 'all'"
    ),
    "marts.nps_category_migration": (
        "period_type = 'month' and period_start = '2024-09-01' and hierarchy_level = 'all' "
        "and segment_type = 'all'"
    ),
}
COUNT_COLUMN = {"marts.nps_category_migration": "respondents"}

# what the newest nps_rolling run logged for its GX suite: the first day it wrote (null: all)
NEWEST_REBUILT_FROM = (
    "select first_day from intermediate.nps_rebuilt_from where model_name = 'nps_rolling' "
    "order by processed_at desc limit 1"
)
# ... and what the newest fct_nps_responses run logged: the first day it reprocessed
NEWEST_FACTS_REBUILT_FROM = NEWEST_REBUILT_FROM.replace("'nps_rolling'", "'fct_nps_responses'")


def write_csv(path: Path, rows: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")


def row(
    rid: str,
    day: str,
    score: int | str,
    respondent: str = "",
    branch: str = "BR-0001",
    survey: str = "SRV-STORE",
    hour: int = 10,
) -> str:
    submitted = f"{day}T{hour:02d}:00:00Z"
    return f"{rid},{survey},{respondent},{submitted},{score},email,visit,{branch},groceries"


def load(warehouse: Path, landing: Path, load_id: str, now: datetime) -> None:
    conn = duckdb.connect(str(warehouse))
    try:
        ensure_raw_schema(conn, FEEDS)
        ensure_batch_validations_table(conn)
        for feed in FEEDS:
            load_feed(conn, landing, feed, load_id, now=now)
    finally:
        conn.close()


def dbt_build(warehouse: Path, *args: str, command: str = "build") -> str:
    """Runs dbt on `warehouse`; returns its output."""
    env = {**os.environ, "NPS_WAREHOUSE": str(warehouse), "DBT_TARGET": "duckdb"}
    completed = subprocess.run(
        [
            DBT,
            command,
            "--profiles-dir",
            str(REPO),
            "--target-path",
            str(warehouse.parent.parent / "target"),
            *args,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout[-8000:] + completed.stderr[-2000:]
    return completed.stdout


def dbt_run_customer(warehouse: Path, *args: str) -> str:
    """The models downstream of the customer responses, without tests: keeps the test short
    (the first, the partition-range and the full-refresh runs are whole `dbt build`s)."""
    return dbt_build(warehouse, "--select", "stg_survey__nps_responses+", *args, command="run")


def query(warehouse: Path, sql: str) -> list[tuple]:
    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def shift_marked_rows(warehouse: Path, by: int) -> list[tuple]:
    """Adds `by` to the count of each MARKED_PERIOD_ROWS row; returns their counts after."""
    conn = duckdb.connect(str(warehouse))
    try:
        counts = []
        for table, where in MARKED_PERIOD_ROWS.items():
            column = COUNT_COLUMN.get(table, "responses")
            conn.execute(f"update {table} set {column} = {column} + {by} where {where}")
            (count,) = conn.execute(f"select sum({column}) from {table} where {where}").fetchone()
            counts.append((table, count))
        return counts
    finally:
        conn.close()


def assert_marts_equal(incremental: Path, full: Path) -> list[str]:
    """Every table of the marts schema and the incremental intermediates: same columns, same
    rows (doubles to 1e-9)."""
    conn = duckdb.connect()
    conn.execute(f"attach '{incremental}' as inc (read_only)")
    conn.execute(f"attach '{full}' as full_refresh (read_only)")
    tables = [
        f"marts.{name}"
        for (name,) in conn.execute(
            "select table_name from information_schema.tables "
            "where table_catalog = 'full_refresh' and table_schema = 'marts' "
            "and table_type = 'BASE TABLE' order by 1"
        ).fetchall()
    ] + [f"intermediate.{name}" for name in COMPARED_INTERMEDIATES]
    for table in tables:
        schema, name = table.split(".")
        columns = conn.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_catalog = 'full_refresh' and table_schema = ? "
            "and table_name = ? order by ordinal_position",
            [schema, name],
        ).fetchall()
        inc_columns = conn.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_catalog = 'inc' and table_schema = ? "
            "and table_name = ? order by ordinal_position",
            [schema, name],
        ).fetchall()
        assert columns, table
        assert inc_columns == columns, table
        left_out = set(RUN_TIME_COLUMNS)
        if "evaluated_on" in {name for name, _ in columns}:
            evaluated = [
                set(conn.execute(f"select distinct evaluated_on from {db}.{table}").fetchall())
                for db in ("inc", "full_refresh")
            ]
            left_out |= evaluation_day_columns(*evaluated)
        select = ", ".join(
            f"round({name}, 9) as {name}" if kind in ("DOUBLE", "FLOAT") else name
            for name, kind in columns
            if name not in left_out
        )
        counts = [
            conn.execute(f"select count(*) from {db}.{table}").fetchall()[0][0]
            for db in ("inc", "full_refresh")
        ]
        assert counts[0] == counts[1], f"{table}: {counts[0]} rows incremental, {counts[1]} full"
        for first, second in (("inc", "full_refresh"), ("full_refresh", "inc")):
            extra = conn.execute(
                f"select {select} from {first}.{table} "
                f"except all select {select} from {second}.{table} limit 5"
            ).fetchall()
            assert not extra, f"{table}: rows only in {first}: {extra}"
    conn.close()
    return [table.split(".")[1] for table in tables]


@pytest.fixture(scope="module")
def incremental_history(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Several simulated days built incrementally, then a full refresh of the same raw data."""
    root = tmp_path_factory.mktemp("incremental")
    landing, warehouse = root / "landing", root / "incremental" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    nps = landing / "nps"
    start = datetime(2025, 3, 1, 23, 0, tzinfo=UTC)
    states: dict[str, list[tuple]] = {}

    # day 1: one daily file; C1 answers twice, one row is quarantined
    write_csv(
        nps / "daily" / "2025-03-01.csv",
        [
            row("A1", "2025-03-01", 10, "C1"),
            row("A2", "2025-03-01", 3, "C2", branch="BR-0002"),
            row("A3", "2025-02-28", 9, "C3"),  # the only response of 2025-02-28
            row("A4", "2025-03-01", "7.5"),  # score_not_integer
            row("A5", "2025-03-01", 8, "C1", hour=15),
        ],
    )
    load(warehouse, landing, "day1", start)
    dbt_build(warehouse)
    states["day1"] = query(warehouse, "select count(*) from marts.fct_nps_responses")
    states["rebuilt_from"] = {"day1": query(warehouse, NEWEST_REBUILT_FROM)}
    states["facts_rebuilt_from"] = {"day1": query(warehouse, NEWEST_FACTS_REBUILT_FROM)}

    # day 2: the day arrives in two files, plus a late file for days already processed
    write_csv(
        nps / "daily" / "2025-03-02.csv",
        [
            row("B1", "2025-03-02", 9, "C1"),
            row("B2", "2025-03-02", 6, "C4", branch="BR-0003"),
        ],
    )
    write_csv(
        nps / "daily" / "2025-03-02_part2.csv",
        [
            row("B3", "2025-03-02", 10, "C5", survey="SRV-DELIVERY"),
        ],
    )
    write_csv(
        nps / "late" / "2025-03-02_late.csv",
        [
            row("L1", "2025-02-27", 2, "X6"),
            row("L2", "2025-03-01", 10, "C7", branch="BR-0002"),
            row("A2", "2025-02-26", 10, "C2"),  # re-sent A2, other day: a duplicate for now
            row("B1", "2025-03-02", 0, "C1"),  # re-sent within the same load: the first file wins
        ],
    )
    load(warehouse, landing, "day2", start + timedelta(days=1))
    dbt_run_customer(warehouse)

    # day 3: the day-1 file changes: A2 is gone (its re-sent copy of 2025-02-26 now wins),
    # A1's score changes, A3 (the only response of 2025-02-28) is gone, a row is added
    write_csv(
        nps / "daily" / "2025-03-01.csv",
        [
            row("A1", "2025-03-01", 4, "C1"),
            row("A4", "2025-03-01", "7.5"),
            row("A5", "2025-03-01", 8, "C1", hour=15),
            row("A6", "2025-03-01", 9, "C8", branch="BR-0003"),
        ],
    )
    write_csv(nps / "daily" / "2025-03-03.csv", [row("D1", "2025-03-03", 9, "C2")])
    load(warehouse, landing, "day3", start + timedelta(days=2))
    dbt_run_customer(warehouse)
    states["emptied_day"] = query(
        warehouse, "select count(*) from marts.nps_daily where response_date = '2025-02-28'"
    )

    # day 4: a backfill export spanning a year, with a re-sent response of day 1
    backfill = []
    for index in range(0, 366, 5):
        day = (date(2024, 3, 1) + timedelta(days=index)).isoformat()
        backfill.append(
            row(f"Y{index:03d}", day, index % 11, f"C{index % 9}", branch=f"BR-000{1 + index % 3}")
        )
    backfill.append(row("A5", "2024-12-24", 1, "C1"))
    write_csv(nps / "backfill" / "2024-03_2025-02.csv", backfill)
    load(warehouse, landing, "day4", start + timedelta(days=3))
    # the backfill recomputes a year of daily changes: a few responses per batch of them
    output = dbt_run_customer(warehouse, "--vars", "{nps_latest_changes_batch_responses: 5}")
    batches = re.search(r"int_nps_latest_changes_rolled_up: (\d+) batches", output)
    states["backfill_latest_changes_batches"] = int(batches.group(1)) if batches else 0

    # day 5: a late response on an old day, 2024-11-20, for a product never seen before (a
    # new segment); nps_rolling recomputes that day on, and keeps the days before it (every
    # run also reprocesses 2024-12-24: A5's copy there shares its id with a lookback day)
    rolling_before = query(warehouse, ROLLING_SNAPSHOT)
    write_csv(
        nps / "late" / "2024-11-20_late.csv",
        [row("N1", "2024-11-20", 10, "C9").replace(",groceries", ",furniture")],
    )
    load(warehouse, landing, "day5", start + timedelta(days=4))
    dbt_run_customer(warehouse)
    states["late_old_day"] = {
        "before": rolling_before,
        "after": query(warehouse, ROLLING_SNAPSHOT),
        "recomputed_from": query(
            warehouse,
            "select min(response_date) from intermediate.nps_reprocessed_days "
            "where processed_at = "
            "(select max(processed_at) from intermediate.nps_reprocessed_days)",
        ),
    }
    states["rebuilt_from"]["day5"] = query(warehouse, NEWEST_REBUILT_FROM)
    states["facts_rebuilt_from"]["day5"] = query(warehouse, NEWEST_FACTS_REBUILT_FROM)

    # day 5b: a late answer of C1 in May 2024, between their April and June answers: the May
    # migration rows (April -> May) and the next month's (May -> June) change, the quarter's
    # do not (C1's latest answer of Q2 is still June's); rows of other periods are not recomputed
    migration_before = query(warehouse, MIGRATION_SNAPSHOT)
    marked = shift_marked_rows(warehouse, 1000)
    write_csv(nps / "late" / "2024-05-15_late.csv", [row("M1", "2024-05-15", 10, "C1")])
    load(warehouse, landing, "day5b", start + timedelta(days=4, hours=12))
    dbt_run_customer(warehouse)
    marked_after = shift_marked_rows(warehouse, 0)
    shift_marked_rows(warehouse, -1000)
    states["late_old_period"] = {
        "before": migration_before,
        "after": query(warehouse, MIGRATION_SNAPSHOT),  # the marks taken off
        "marked": marked,
        "marked_after": marked_after,
    }

    # other period types: every period is recomputed with them, and again with the defaults
    # (the partition run below), with no --full-refresh
    dbt_build(
        warehouse,
        "--select",
        "int_nps_periods_aggregated",
        "nps_by_period",
        "nps_category_migration",
        "--vars",
        "{nps_period_types: [month, year], nps_migration_period_types: [quarter]}",
        command="run",
    )
    states["other_period_types"] = {
        table: query(warehouse, PERIOD_TYPES.format(table=table)) for table in MARKED_PERIOD_ROWS
    }
    rolling_before = query(warehouse, ROLLING_SNAPSHOT)

    # X6 is forgotten: their only response (L1) was the only one of 2025-02-27
    forget_respondent(warehouse, "X6")

    # day 6: nothing new arrives; the Dagster half re-runs a partition range
    dbt_build(
        warehouse, "--vars", "{nps_partition_start: '2024-06-01', nps_partition_end: '2024-06-30'}"
    )
    states["partition_run"] = query(
        warehouse,
        "select response_date between '2024-06-01' and '2024-06-30', "
        "_processed_at = (select max(_processed_at) from intermediate.int_nps_responses_validated)"
        " as reprocessed, count(*) from intermediate.int_nps_responses_validated "
        "where response_date < '2025-01-01' group by all order by all",
    )
    states["rebuilt_from"]["partition_run"] = query(warehouse, NEWEST_REBUILT_FROM)
    states["partition_run_rolling"] = {
        "before": rolling_before,
        "after": query(warehouse, ROLLING_SNAPSHOT),
    }

    full = root / "full_refresh" / "warehouse.duckdb"
    full.parent.mkdir()
    shutil.copyfile(warehouse, full)
    dbt_build(full, "--full-refresh")
    return {"incremental": warehouse, "full": full, "states": states}


def test_incremental_runs_equal_a_full_refresh(incremental_history: dict) -> None:
    tables = assert_marts_equal(incremental_history["incremental"], incremental_history["full"])
    assert {
        "fct_nps_responses",
        "nps_daily",
        "nps_quarantine",
        "nps_duplicates",
        "nps_rolling",
        "nps_by_period",
        "nps_category_migration",
        "int_nps_periods_aggregated",
        "dim_respondents",
    } <= set(tables)


def test_late_changed_and_backfill_files_reach_the_marts(incremental_history: dict) -> None:
    warehouse = incremental_history["incremental"]
    assert incremental_history["states"]["day1"] == [(4,)]
    accepted = dict(
        query(
            warehouse,
            "select response_id, response_date::varchar || ' ' || score || ' ' || source_file "
            "from marts.fct_nps_responses "
            "where response_id in ('A1', 'A2', 'A3', 'B1', 'A5', 'L1')",
        )
    )
    assert accepted == {
        "A1": "2025-03-01 4 nps/daily/2025-03-01.csv",  # the changed score
        "A2": "2025-02-26 10 nps/late/2025-03-02_late.csv",  # the re-sent copy now wins
        "A5": "2025-03-01 8 nps/daily/2025-03-01.csv",  # first received beats the backfill
        "B1": "2025-03-02 9 nps/daily/2025-03-02.csv",
    }
    # forgotten (X6): the aggregate of its day is gone too
    assert query(
        warehouse, "select count(*) from marts.nps_daily where response_date = '2025-02-27'"
    ) == [(0,)]
    # the changed file emptied 2025-02-28, which the incremental run must have deleted
    assert incremental_history["states"]["emptied_day"] == [(0,)]
    assert query(
        warehouse,
        "select count(distinct response_date) from marts.nps_daily "
        "where response_date < '2025-02-26'",
    ) == [(74,)]  # 73 days of the backfill and N1's 2024-11-20
    duplicates = query(
        warehouse, "select response_id, source_file from marts.nps_duplicates order by 1, 2"
    )
    assert duplicates == [
        ("A5", "nps/backfill/2024-03_2025-02.csv"),
        ("B1", "nps/late/2025-03-02_late.csv"),
    ]


def test_partition_range_reprocesses_only_its_days(incremental_history: dict) -> None:
    # rows of June 2024 were rewritten by the partition run, older backfill days were not
    by_range = {
        (in_range, reprocessed): count
        for in_range, reprocessed, count in incremental_history["states"]["partition_run"]
    }
    assert by_range.get((True, False), 0) == 0
    assert by_range[(True, True)] == 6
    # outside the range only the backfill's A5: it shares its response_id with a row of a
    # lookback day (2025-03-01), so first received wins is decided again for both
    assert by_range.get((False, True), 0) == 1
    assert by_range[(False, False)] > 0


def test_partition_vars_are_validated(tmp_path: Path) -> None:
    env = {**os.environ, "NPS_WAREHOUSE": str(tmp_path / "w.duckdb")}
    completed = subprocess.run(
        [
            DBT,
            "compile",
            "--profiles-dir",
            str(REPO),
            "--target-path",
            str(tmp_path / "target"),
            "--select",
            "fct_nps_responses",
            "--vars",
            "{nps_partition_start: '2025-13-01'}",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode != 0
    assert "nps_partition_start and nps_partition_end go together" in completed.stdout


def rebuild_in_batches(full: Path, tmp_path: Path, model: str, batch_var: str) -> tuple[Path, int]:
    """A copy of `full` with `model` rebuilt with `batch_var` at 3 responses: the copy and how
    many batches the build logged."""
    batched = tmp_path / "batched" / "warehouse.duckdb"
    batched.parent.mkdir()
    shutil.copyfile(full, batched)
    output = dbt_build(
        batched, "--select", model, "--full-refresh", "--vars", f"{{{batch_var}: 3}}", command="run"
    )
    batches = re.search(rf"{model}: (\d+) batches", output)
    assert batches, output[-3000:]
    return batched, int(batches.group(1))


def test_category_migration_built_in_batches_equals_one_query(
    incremental_history: dict, tmp_path: Path
) -> None:
    full = incremental_history["full"]
    batched, batches = rebuild_in_batches(
        full, tmp_path, "nps_category_migration", "nps_migration_batch_responses"
    )
    # months and quarters each in several runs of pairs
    assert batches > 4
    everything = "select * from marts.nps_category_migration order by all"
    assert query(batched, everything) == query(full, everything)
    assert query(batched, PERIOD_TYPES.format(table="marts.nps_category_migration")) == [
        ("month",),
        ("quarter",),
    ]


def test_latest_changes_built_in_batches_equal_one_query(
    incremental_history: dict, tmp_path: Path
) -> None:
    full = incremental_history["full"]
    batched, batches = rebuild_in_batches(
        full, tmp_path, "int_nps_latest_changes_rolled_up", "nps_latest_changes_batch_responses"
    )
    assert batches > 10
    everything = "select * from intermediate.int_nps_latest_changes_rolled_up order by all"
    assert query(batched, everything) == query(full, everything)
    # and the incremental run that recomputed a year of them after the backfill ran in batches
    assert incremental_history["states"]["backfill_latest_changes_batches"] > 10


def test_late_response_recomputes_its_period_and_the_next_migration(
    incremental_history: dict,
) -> None:
    state = incremental_history["states"]["late_old_period"]
    before, after = set(state["before"]), set(state["after"])
    changed = {(r[0], str(r[1])) for r in before ^ after}
    # C1: April detractor -> May promoter, May promoter -> June detractor; nothing else moved
    assert changed == {("month", "2024-05-01"), ("month", "2024-06-01")}, changed
    company = {
        (r[1].isoformat(), r[8], r[9]): r[10]
        for r in after
        if r[0] == "month" and r[2] == "all" and r[6] == "all"
    }
    assert company[("2024-05-01", "detractor", "promoter")] >= 1
    assert company[("2024-06-01", "promoter", "detractor")] >= 1
    # the marked rows kept their marks: their periods were not recomputed
    assert state["marked_after"] == state["marked"]
    assert all(count is not None and count > 1000 for _, count in state["marked"])


def test_other_period_types_recompute_every_period(incremental_history: dict) -> None:
    types = incremental_history["states"]["other_period_types"]
    assert types["intermediate.int_nps_periods_aggregated"] == [("month",), ("year",)]
    assert types["marts.nps_by_period"] == [("month",), ("year",)]
    assert types["marts.nps_category_migration"] == [("quarter",)]
    # and back to the defaults: the partition run recomputed every period again, which the
    # comparison with the full refresh checks
    assert query(
        incremental_history["incremental"],
        PERIOD_TYPES.format(table="marts.nps_by_period"),
    ) == [("day",), ("month",), ("quarter",), ("week",), ("year",)]


def test_late_response_recomputes_rolling_days_from_its_day_on(incremental_history: dict) -> None:
    state = incremental_history["states"]["late_old_day"]
    late_day = date(2024, 11, 20)
    # the affected days start at the late response's day (the lookback days are later)
    assert state["recomputed_from"] == [(late_day,)]
    before = {tuple(r[:9]): r for r in state["before"]}
    after = {tuple(r[:9]): r for r in state["after"]}
    # the days before it are kept as they were; every old row is still there
    assert {k: v for k, v in after.items() if k[0] < late_day and k in before} == {
        k: v for k, v in before.items() if k[0] < late_day
    }
    assert set(before) <= set(after)
    # the company-wide 7-day window counts it from its day to 6 days later, not after
    responses = {
        k[0]: (before[k][9], after[k][9])
        for k in after
        if k[1:] == (7, "all_responses", "all", None, None, None, "all", "all")
        and date(2024, 11, 19) <= k[0] <= date(2024, 11, 27)
    }
    assert all(
        new - old == (1 if date(2024, 11, 20) <= day <= date(2024, 11, 26) else 0)
        for day, (old, new) in responses.items()
    ), responses
    # the new segment (product furniture) has a row for every day of every window and variant,
    # zero before its first response
    furniture = [r for k, r in after.items() if k[7:] == ("product", "furniture")]
    days = {k[0] for k in after}
    assert len(furniture) == len(days) * 4 * 2 * 4  # x windows x variants x hierarchy levels
    assert all(r[9] == 0 for r in furniture if r[0] < late_day)
    assert any(r[9] == 1 for r in furniture if r[0] == late_day)


def test_rolling_logs_the_first_day_it_rewrites(incremental_history: dict) -> None:
    """The nps_rolling suite validates the rows from the logged day on (rebuilt_rows.py): every
    row a run changed must be on or after it."""
    logged = incremental_history["states"]["rebuilt_from"]
    assert logged["day1"] == [(None,)]  # the first build: every row
    # the late response of 2024-11-20 brought a new segment: its zero rows start on the first day
    assert logged["day5"] == [(date(2024, 3, 1),)]
    # the partition run (June 2024) and the forgotten respondent's day: from June on
    assert logged["partition_run"] == [(date(2024, 6, 1),)]
    run = incremental_history["states"]["partition_run_rolling"]
    changed = set(run["after"]) ^ set(run["before"])
    assert changed
    assert min(r[0] for r in changed) >= date(2024, 6, 1)


def test_facts_log_the_first_day_they_reprocess(incremental_history: dict) -> None:
    """The fct_nps_responses suite validates the rows from the logged day on: a run rewrites
    the days it reprocesses, the first of them logged."""
    logged = incremental_history["states"]["facts_rebuilt_from"]
    assert logged["day1"] == [(None,)]  # the first build: every row
    # day 5 reprocessed the late response's day, 2024-11-20, and the days after it
    [(recomputed_from,)] = incremental_history["states"]["late_old_day"]["recomputed_from"]
    assert logged["day5"] == [(recomputed_from,)]
    assert recomputed_from <= date(2024, 11, 20)


def test_a_new_day_reads_only_its_files_and_the_files_sharing_its_ids(tmp_path: Path) -> None:
    """int_nps_responses_validated finds the changed files from the landing manifest and its
    per-file state, and reads raw only for them and the files sharing a response_id with them:
    rows deleted from an old file's raw rows behind the loader's back go unnoticed (a run that
    scanned raw would turn them into tombstones)."""
    landing, warehouse = tmp_path / "landing", tmp_path / "w" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    nps = landing / "nps" / "daily"
    start = datetime(2025, 3, 1, 23, 0, tzinfo=UTC)
    write_csv(nps / "old.csv", [row("O1", "2025-01-10", 9, "C1"), row("O2", "2025-01-10", 3)])
    write_csv(nps / "shared.csv", [row("S1", "2025-01-20", 7, "C2")])
    load(warehouse, landing, "day1", start)
    select = ("--select", "+int_nps_responses_validated")
    dbt_build(warehouse, *select)
    validated = (
        "select _source_file, response_id, outcome, _processed_at "
        "from intermediate.int_nps_responses_validated order by 1, 2"
    )
    first = {(r[0], r[1]): r for r in query(warehouse, validated)}
    assert query(
        warehouse,
        "select source_file, load_id, row_count from intermediate.nps_validated_files order by 1",
    ) == [("nps/daily/old.csv", "day1", 2), ("nps/daily/shared.csv", "day1", 1)]

    conn = duckdb.connect(str(warehouse))
    conn.execute("delete from raw.nps_responses where _source_file = 'nps/daily/old.csv'")
    conn.close()
    # the new day re-sends S1: first received wins is decided again with shared.csv's row
    write_csv(nps / "new.csv", [row("N1", "2025-03-01", 10, "C3"), row("S1", "2025-03-01", 0)])
    load(warehouse, landing, "day2", start + timedelta(days=1))
    dbt_build(warehouse, *select, command="run")

    after = {(r[0], r[1]): r for r in query(warehouse, validated)}
    old_rows = [("nps/daily/old.csv", "O1"), ("nps/daily/old.csv", "O2")]
    assert [after[key] for key in old_rows] == [first[key] for key in old_rows]
    assert after[("nps/daily/shared.csv", "S1")][2] == "accepted"
    assert after[("nps/daily/shared.csv", "S1")][3] > first[("nps/daily/shared.csv", "S1")][3]
    assert after[("nps/daily/new.csv", "S1")][2] == "duplicate"
    assert after[("nps/daily/new.csv", "N1")][2] == "accepted"
    assert query(
        warehouse,
        "select source_file, load_id from intermediate.nps_validated_files order by 1",
    ) == [
        ("nps/daily/new.csv", "day2"),
        ("nps/daily/old.csv", "day1"),
        ("nps/daily/shared.csv", "day1"),
    ]
    # the filter on raw is a literal list of the files read, which the planner pushes down
    compiled = next(
        (tmp_path / "target" / "compiled").rglob("int_nps_responses_validated.sql")
    ).read_text()
    read_filter = compiled.split("where", 1)[1].split(")", 1)[0]
    assert "'nps/daily/new.csv'" in read_filter
    assert "'nps/daily/shared.csv'" in read_filter
    assert "old.csv" not in read_filter


def test_a_day_after_a_gap_brings_the_window_exits_dated_in_between(tmp_path: Path) -> None:
    """int_nps_latest_changes_rolled_up keeps the changes dated up to the newest response day
    only, so a run that adds a day after a gap computes the exits that fall on the days between
    (C1's answer leaves the 7-day window on 2025-03-08, C2's on 2025-03-10) from the last day
    it holds, whatever days upstream reprocessed: here the log is cut to the new days (a run
    reprocesses the previous newest day too, through the lookback, which hides a model that
    relied on it)."""
    landing, warehouse = tmp_path / "landing", tmp_path / "w" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    nps = landing / "nps" / "daily"
    start = datetime(2025, 3, 3, 23, 0, tzinfo=UTC)
    write_csv(
        nps / "2025-03-01.csv",
        [row("A1", "2025-03-01", 10, "C1"), row("A2", "2025-03-03", 3, "C2", branch="BR-0002")],
    )
    load(warehouse, landing, "day1", start)
    dbt_build(warehouse, command="seed")
    dbt_build(warehouse, "--select", "+nps_rolling", command="run")
    changes = "select * from intermediate.int_nps_latest_changes_rolled_up"
    assert query(warehouse, f"select max(change_date) from ({changes})") == [(date(2025, 3, 3),)]

    write_csv(nps / "2025-03-25.csv", [row("B1", "2025-03-25", 9, "C3")])
    load(warehouse, landing, "day2", start + timedelta(days=22))
    dbt_build(warehouse, "--select", "+int_nps_responses_aggregated", command="run")
    conn = duckdb.connect(str(warehouse))
    conn.execute("delete from intermediate.nps_reprocessed_days where response_date < '2025-03-20'")
    conn.close()
    dbt_build(
        warehouse,
        "--select",
        "int_nps_segment_days_rolled_up",
        "int_nps_responses_sequenced",
        "int_nps_latest_changes_rolled_up",
        "nps_rolling",
        command="run",
    )

    full = tmp_path / "full" / "warehouse.duckdb"
    full.parent.mkdir()
    shutil.copyfile(warehouse, full)
    dbt_build(full, "--select", "+nps_rolling", "--full-refresh", command="run")
    for table in (f"({changes})", "marts.nps_rolling"):
        rows = [sorted(query(db, f"select * from {table}"), key=repr) for db in (warehouse, full)]
        assert rows[0] and rows[0] == rows[1], table
    exits = query(
        warehouse,
        f"select change_date, detractors_change, promoters_change from ({changes}) "
        "where window_days = 7 and hierarchy_level = 'all' and segment_type = 'all' "
        "and change_date between '2025-03-04' and '2025-03-24' order by 1",
    )
    assert exits == [(date(2025, 3, 8), 0, -1), (date(2025, 3, 10), -1, 0)]


# --- int_comment_themes_tagged: incremental by day, retagged in full when the tagging changes

THEMES_HEADER = HEADER + ",comment,language"


def commented_row(rid: str, day: str, comment: str) -> str:
    return row(rid, day, 7, f"P{rid}") + f',"{comment}",en'


def dbt_in(project: Path, warehouse: Path, command: str, *args: str) -> None:
    env = {**os.environ, "NPS_WAREHOUSE": str(warehouse), "DBT_TARGET": "duckdb"}
    completed = subprocess.run(
        [DBT, command, "--project-dir", str(project), "--profiles-dir", str(project), *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout[-8000:] + completed.stderr[-2000:]


def tagged_themes(warehouse: Path) -> dict[str, set[str]]:
    themes: dict[str, set[str]] = {}
    for response_id, theme in query(
        warehouse, "select response_id, theme from intermediate.int_comment_themes_tagged"
    ):
        themes.setdefault(response_id, set()).add(theme)
    return themes


def staff_mentions(warehouse: Path) -> dict[date, int]:
    """nps_theme_drivers' company-wide mentions of the staff theme by month, before March."""
    return dict(
        query(
            warehouse,
            "select period_start, mentions from marts.nps_theme_drivers "
            "where segment_type = 'all' and theme = 'staff' and period_start < '2025-03-01'",
        )
    )


def mark_tagged(warehouse: Path, response_id: str) -> None:
    """A theme no run writes: it stays only while the response's day is not tagged again."""
    conn = duckdb.connect(str(warehouse))
    try:
        conn.execute(
            "update intermediate.int_comment_themes_tagged set theme = 'untouched' "
            "where response_id = ?",
            [response_id],
        )
    finally:
        conn.close()


def test_comment_themes_are_tagged_by_day_and_again_when_the_keywords_change(
    tmp_path: Path,
) -> None:
    project = tmp_path / "project"
    for name in ("dbt_project.yml", "profiles.yml"):
        project.mkdir(exist_ok=True)
        shutil.copyfile(REPO / name, project / name)
    for folder in ("macros", "models", "seeds", "tests/dbt"):
        shutil.copytree(REPO / folder, project / folder)
    landing, warehouse = tmp_path / "landing", tmp_path / "warehouse.duckdb"
    nps = landing / "nps"
    start = datetime(2025, 3, 1, 23, 0, tzinfo=UTC)
    # nps_theme_drivers too: it recomputes the months of the reprocessed days, or every month
    # when the tagging changed
    selection = ("--select", "+int_comment_themes_tagged", "+nps_theme_drivers")
    # seeds too; not the seeds' data tests, whose relationships reach marts not built here
    with_seeds = (*selection, "--exclude", "test_type:data")

    (nps / "daily").mkdir(parents=True)
    (nps / "daily" / "2025-03-01.csv").write_text(
        "\n".join(
            [
                THEMES_HEADER,
                commented_row("T1", "2025-03-01", "The queue was far too long"),
                commented_row("T2", "2025-02-20", "Far too expensive"),
                commented_row("T3", "2025-02-20", "Lovely people"),
                # a month no later run reprocesses
                commented_row("T6", "2025-01-15", "Lovely people at the counter"),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    load(warehouse, landing, "day1", start)
    dbt_in(project, warehouse, "build", *with_seeds)
    assert tagged_themes(warehouse) == {"T1": {"waiting_time"}, "T2": {"price"}}

    # a late comment on an old day: that day is tagged, 2025-02-20 is left as it was
    mark_tagged(warehouse, "T2")
    (nps / "late").mkdir()
    (nps / "late" / "2025-03-02_late.csv").write_text(
        "\n".join(
            [
                THEMES_HEADER,
                commented_row("T4", "2025-02-10", "A rude cashier"),
                commented_row("T5", "2025-03-02", "The app crashed"),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    load(warehouse, landing, "day2", start + timedelta(days=1))
    dbt_in(project, warehouse, "run", *selection)
    assert tagged_themes(warehouse) == {
        "T1": {"waiting_time"},
        "T2": {"untouched"},
        "T4": {"staff"},
        "T5": {"app_website"},
    }
    assert staff_mentions(warehouse) == {date(2025, 1, 1): 0, date(2025, 2, 1): 1}

    # a new keyword: every day is tagged again, T3 (an old day) now mentions staff
    with (project / "seeds" / "themes.csv").open("a", encoding="utf-8") as seed:
        seed.write("staff,en,lovely people,\n")
    dbt_in(project, warehouse, "build", *with_seeds)
    retagged = {
        "T1": {"waiting_time"},
        "T2": {"price"},
        "T3": {"staff"},
        "T4": {"staff"},
        "T5": {"app_website"},
        "T6": {"staff"},
    }
    assert tagged_themes(warehouse) == retagged
    # every month recomputed, January included
    assert staff_mentions(warehouse) == {date(2025, 1, 1): 1, date(2025, 2, 1): 2}

    # the new version was recorded: the next run tags the reprocessed days only again
    mark_tagged(warehouse, "T2")
    dbt_in(project, warehouse, "run", *selection)
    assert query(
        warehouse, "select * from intermediate.int_comment_themes_tagged order by all"
    ) == [
        ("T1", "waiting_time", date(2025, 3, 1)),
        ("T2", "untouched", date(2025, 2, 20)),
        ("T3", "staff", date(2025, 2, 20)),
        ("T4", "staff", date(2025, 2, 10)),
        ("T5", "app_website", date(2025, 3, 2)),
        ("T6", "staff", date(2025, 1, 15)),
    ]
