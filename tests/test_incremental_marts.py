"""Incremental comment-theme models, dim_respondents, nps_theme_drivers and nps_rolling's scoped
dbt tests (issue 9).

Simulated days of commented responses are loaded and built incrementally (a new day, a late file
on an old day, a changed file that removes and moves responses, a forgotten respondent), then the
same raw data is rebuilt with `--full-refresh`: int_comment_themes_listed, fct_comment_themes,
dim_respondents and nps_theme_drivers must be equal row for row, and a new day's run must leave
the rows of other days (other respondents, other months) as they were. nps_rolling's data tests
must read only the rebuilt days on an incremental `dbt build` and every row on a full one.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from orchestration.privacy import forget_respondent
from tests.test_incremental import (
    HEADER,
    NEWEST_REBUILT_FROM,
    dbt_build,
    dbt_run_customer,
    load,
    query,
    row,
)

HEADER_WITH_COMMENTS = HEADER + ",comment,language"
# the models made incremental here, with the columns that order their rows
COMPARED = {
    "intermediate.int_comment_themes_listed": "response_id",
    "marts.fct_comment_themes": "response_id, theme",
    "marts.dim_respondents": "respondent_id",
    "marts.nps_theme_drivers": "period_start, segment_type, segment, theme",
}
# a month the new day's run does not recompute (nps_theme_drivers)
FEBRUARY_BILLING = "period_start = '2025-02-01' and segment_type = 'all' and theme = 'billing'"
ROLLING = "model.nps_warehouse.nps_rolling"
THEME_MODELS = tuple(
    f"model.nps_warehouse.{name}"
    for name in ("int_comment_themes_tagged", "int_comment_themes_listed", "fct_comment_themes")
)


def said(rid: str, day: str, score: int, respondent: str, comment: str = "") -> str:
    """A response row with a comment in English (none when comment is empty)."""
    return row(rid, day, score, respondent) + (f',"{comment}",en' if comment else ",,")


def write_day(path: Path, rows: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([HEADER_WITH_COMMENTS, *rows]) + "\n", encoding="utf-8")


def snapshot(warehouse: Path, table: str) -> list[tuple]:
    return query(warehouse, f"select * from {table} order by {COMPARED[table]}")


def tamper(warehouse: Path, sql: str) -> None:
    """A value no run writes: it stays only while its rows are not recomputed."""
    conn = duckdb.connect(str(warehouse))
    try:
        conn.execute(sql)
    finally:
        conn.close()


def scoped_tests(
    target: Path, models: tuple[str, ...], placeholder: str
) -> dict[str, tuple[str, str]]:
    """Status and compiled SQL of each data test of `models` scoped by `placeholder` that the
    newest invocation ran."""
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    tests = {
        unique_id
        for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] == "test"
        and node.get("attached_node") in models
        and node["config"].get("where") == placeholder
    }
    results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))["results"]
    return {
        result["unique_id"]: (result["status"], result.get("compiled_code") or "")
        for result in results
        if result["unique_id"] in tests
    }


def rolling_tests(target: Path) -> dict[str, tuple[str, str]]:
    """nps_rolling's scoped data tests (the not_null tests of the columns it shares with the
    other NPS marts are not scoped)."""
    return scoped_tests(target, (ROLLING,), "__nps_rebuilt_rows__")


def theme_tests(target: Path) -> dict[str, tuple[str, str]]:
    """The theme models' scoped uniqueness and relationship tests."""
    return scoped_tests(target, THEME_MODELS, "__nps_rebuilt_response_days__")


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("incremental_marts")
    landing, warehouse = root / "landing", root / "incremental" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    target = root / "target"  # dbt_build's --target-path
    nps = landing / "nps"
    start = datetime(2025, 3, 1, 23, 0, tzinfo=UTC)
    states: dict = {}

    # day 1: C1 answers on 2025-02-25 and 2025-03-01, C3 and C4 on 2025-02-25 only
    write_day(
        nps / "daily" / "2025-03-01.csv",
        [
            said("A1", "2025-03-01", 3, "C1", "The queue was far too long"),
            said("A2", "2025-03-01", 9, "C2", "Friendly staff"),
            said("A3", "2025-03-01", 10, "C2"),
            said("A4", "2025-02-25", 8, "C1", "Too expensive"),
            said("A5", "2025-02-25", 6, "C3", "Rude cashier and a long wait"),
            said("A6", "2025-02-25", 9, "C4", "The app crashed"),
        ],
    )
    load(warehouse, landing, "day1", start)
    dbt_build(warehouse)

    # day 2: a new day, and a late file on an old day: C1's first answer is now 2025-02-10
    write_day(
        nps / "daily" / "2025-03-02.csv",
        [
            said("B1", "2025-03-02", 9, "C5", "Delivery was late"),
            said("B2", "2025-03-02", 4, "C2", "Overpriced"),
        ],
    )
    write_day(
        nps / "late" / "2025-02-10_late.csv",
        [said("L1", "2025-02-10", 2, "C1", "Billed twice")],
    )
    load(warehouse, landing, "day2", start + timedelta(days=1))
    dbt_run_customer(warehouse)

    # day 3: the day-1 file changes: A2 is gone (C2 keeps A3 and B2), A6 (C4's only response) is
    # gone, A5 now belongs to C6 (C3 has no response left), A4's comment now mentions staff
    write_day(
        nps / "daily" / "2025-03-01.csv",
        [
            said("A1", "2025-03-01", 3, "C1", "The queue was far too long"),
            said("A3", "2025-03-01", 10, "C2"),
            said("A4", "2025-02-25", 8, "C1", "Too expensive and rude staff"),
            said("A5", "2025-02-25", 6, "C6", "Rude cashier and a long wait"),
        ],
    )
    load(warehouse, landing, "day3", start + timedelta(days=2))
    dbt_run_customer(warehouse)

    # C5 is forgotten: their only response (B1) and its theme go
    forget_respondent(warehouse, "C5")

    # day 4: a new day, far from the others (the run also reprocesses the days of the files
    # int_nps_responses_validated recomputes after the erasure: 2025-03-01 and 2025-03-02);
    # rows of other days (C6 answered on 2025-02-25 only) are tampered with first and must
    # stay as they are (nps_gap: a column no data test reads)
    [(february_gap,)] = query(
        warehouse, f"select nps_gap from marts.nps_theme_drivers where {FEBRUARY_BILLING}"
    )
    assert february_gap is not None
    tamper(
        warehouse,
        f"update marts.nps_theme_drivers set nps_gap = 999 where {FEBRUARY_BILLING};"
        "update marts.dim_respondents set survey_count = 99 where respondent_id = 'C6';"
        "update marts.fct_comment_themes set touchpoint = 'untouched' where response_id = 'L1';"
        "update intermediate.int_comment_themes_listed set theme_count = 99 "
        "where response_id = 'L1'",
    )
    write_day(
        nps / "daily" / "2025-03-20.csv",
        [
            said("D1", "2025-03-20", 10, "C7", "Quick delivery"),
            said("D2", "2025-03-20", 1, "C2", "Long queue again"),
        ],
    )
    load(warehouse, landing, "day4", start + timedelta(days=19))
    dbt_build(warehouse)
    states["new_day"] = {
        "tampered": {
            "dim": query(
                warehouse,
                "select survey_count from marts.dim_respondents where respondent_id = 'C6'",
            ),
            "fct": query(
                warehouse,
                "select touchpoint from marts.fct_comment_themes where response_id = 'L1'",
            ),
            "listed": query(
                warehouse,
                "select theme_count from intermediate.int_comment_themes_listed "
                "where response_id = 'L1'",
            ),
            "drivers": query(
                warehouse, f"select nps_gap from marts.nps_theme_drivers where {FEBRUARY_BILLING}"
            ),
        },
        "march_staff": query(
            warehouse,
            "select mentions, previous_mentions from marts.nps_theme_drivers where "
            "period_start = '2025-03-01' and segment_type = 'all' and theme = 'staff'",
        ),
        "C2": query(
            warehouse,
            "select response_count, last_response_date, latest_response_id "
            "from marts.dim_respondents where respondent_id = 'C2'",
        ),
        "rolling_tests": rolling_tests(target),
        "theme_tests": theme_tests(target),
        "rebuilt_from": query(warehouse, NEWEST_REBUILT_FROM),
        "theme_rebuilt_from": query(
            warehouse,
            "select model_name, first_day from intermediate.nps_rebuilt_from "
            "where model_name like '%comment_themes%' and processed_at = "
            "(select max(processed_at) from intermediate.nps_rebuilt_from) order by 1",
        ),
    }
    # put the tampered rows back, so that the comparison with the full refresh shows the rest
    tamper(
        warehouse,
        f"update marts.nps_theme_drivers set nps_gap = {february_gap} "
        f"where {FEBRUARY_BILLING};"
        "update marts.dim_respondents set survey_count = 1 where respondent_id = 'C6';"
        "update marts.fct_comment_themes set touchpoint = 'visit' where response_id = 'L1';"
        "update intermediate.int_comment_themes_listed set theme_count = 1 "
        "where response_id = 'L1'",
    )

    full = root / "full_refresh" / "warehouse.duckdb"
    full.parent.mkdir()
    shutil.copyfile(warehouse, full)
    dbt_build(full, "--full-refresh")
    states["full"] = {"rolling_tests": rolling_tests(target), "theme_tests": theme_tests(target)}
    return {"incremental": warehouse, "full": full, "states": states}


@pytest.mark.parametrize("table", sorted(COMPARED))
def test_incremental_runs_equal_a_full_refresh(history: dict, table: str) -> None:
    incremental = snapshot(history["incremental"], table)
    assert incremental == snapshot(history["full"], table)
    assert incremental, table


def test_removed_moved_and_forgotten_responses_leave_the_marts(history: dict) -> None:
    warehouse = history["incremental"]
    assert query(warehouse, "select respondent_id from marts.dim_respondents order by 1") == [
        ("C1",),
        ("C2",),
        ("C6",),
        ("C7",),
    ]
    assert query(
        warehouse,
        "select respondent_id, first_response_date, response_count from marts.dim_respondents "
        "where respondent_id in ('C1', 'C6') order by 1",
    ) == [("C1", date(2025, 2, 10), 3), ("C6", date(2025, 2, 25), 1)]
    assert query(
        warehouse,
        "select response_id, themes, response_date from intermediate.int_comment_themes_listed "
        "order by 1",
    ) == [
        ("A1", "waiting_time", date(2025, 3, 1)),
        ("A4", "price, staff", date(2025, 2, 25)),
        ("A5", "staff, waiting_time", date(2025, 2, 25)),
        ("B2", "price", date(2025, 3, 2)),
        ("D1", "delivery", date(2025, 3, 20)),
        ("D2", "waiting_time", date(2025, 3, 20)),
        ("L1", "billing", date(2025, 2, 10)),
    ]
    assert query(warehouse, "select count(*) from marts.fct_comment_themes") == [(9,)]


def test_a_new_day_recomputes_only_its_days_and_respondents(history: dict) -> None:
    new_day = history["states"]["new_day"]
    # rows of other days and respondents were kept as they were, tampered values included
    assert new_day["tampered"] == {
        "dim": [(99,)],
        "fct": [("untouched",)],
        "listed": [(99,)],
        "drivers": [(999,)],
    }
    # March, recomputed, compares with February's rows as built (A4 and A5 mention staff)
    assert new_day["march_staff"] == [(0, 2)]
    # C2 answered on the new day: recomputed from all their facts
    assert new_day["C2"] == [(3, date(2025, 3, 20), "D2")]


def assert_scoped(
    incremental: dict[str, tuple[str, str]],
    full: dict[str, tuple[str, str]],
    day_column: str,
    first_day: date,
) -> None:
    """The scoped tests passed, reading the days from `first_day` on in the incremental run
    and every row in the full build."""
    for status, sql in incremental.values():
        assert status == "pass"
        assert f"where ({day_column} >= cast('{first_day}' as date)" in sql, sql
    for status, sql in full.values():
        assert status == "pass"
        assert "where 1 = 1" in sql and f"{day_column} >= cast(" not in sql, sql


def test_rolling_tests_read_the_rebuilt_days_only_on_an_incremental_run(history: dict) -> None:
    new_day, full = history["states"]["new_day"], history["states"]["full"]
    # nps_rolling's 7 scoped data tests (not_null x 3, accepted_values, grain, roll-up, counts)
    assert len(new_day["rolling_tests"]) == len(full["rolling_tests"]) == 7
    # the new day's run rewrote nps_rolling from a day after its first one on
    [(first_day,)] = new_day["rebuilt_from"]
    assert date(2025, 2, 10) < first_day <= date(2025, 3, 20)
    # ... and a full build tests every row
    assert_scoped(new_day["rolling_tests"], full["rolling_tests"], "calendar_date", first_day)


def test_theme_tests_read_the_reprocessed_days_only_on_an_incremental_run(history: dict) -> None:
    new_day, full = history["states"]["new_day"], history["states"]["full"]
    # unique and unique combination on the three theme models, relationship of fct_comment_themes
    assert len(new_day["theme_tests"]) == len(full["theme_tests"]) == 4
    # each theme model logged the first day it reprocessed: the erasure's 2025-03-01 at the
    # latest, after 2025-02-10 (L1's day, left as it was: see the tampered rows)
    [(_, first_day), *others] = new_day["theme_rebuilt_from"]
    assert [model for model, _ in new_day["theme_rebuilt_from"]] == [
        "fct_comment_themes",
        "int_comment_themes_listed",
        "int_comment_themes_tagged",
    ]
    assert {day for _, day in others} == {first_day}
    assert date(2025, 2, 10) < first_day <= date(2025, 3, 1)
    assert_scoped(new_day["theme_tests"], full["theme_tests"], "response_date", first_day)
