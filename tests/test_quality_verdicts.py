"""Blocking raw batches: severity from the suite's meta, the row-count band, the per-survey score
threshold and the verdicts stored in raw.batch_validations (real DuckDB, real GX)."""

from __future__ import annotations

import json
from datetime import date

import duckdb
import pytest

from orchestration.quality.gx_engine import Validator, load_suite_definition
from orchestration.quality.raw_batches import nps_file_batch
from orchestration.quality.raw_parameters import (
    DAILY_COUNTS_TABLE,
    prepare_daily_counts,
    row_count_band,
    score_mostly,
)
from orchestration.quality.raw_validation import validate_load
from orchestration.quality.verdicts import (
    ERROR,
    WARNING,
    ensure_batch_validations_table,
    expectation_severity,
    judge,
    record_verdicts,
)
from tests.test_quality_raw_suite import (
    SURVEYS_CSV,
    clean_rows,
    create_raw_table,
    insert_rows,
    with_changes,
)

SUITE = "raw_nps_responses"


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator()


@pytest.fixture
def surveys_csv(tmp_path):
    path = tmp_path / "surveys.csv"
    path.write_text(SURVEYS_CSV)
    return path


def builder(surveys_csv):
    return lambda conn, source_file, load_id, columns=None: nps_file_batch(
        conn, source_file, load_id, surveys_csv, columns
    )


def day_rows(day: str, n: int, survey: str = "NPS1", prefix: str = "") -> list[dict]:
    return [
        {
            "response_id": f"{prefix}{day}-{i}",
            "survey_id": survey,
            "submitted_at": f"{day}T10:00:00Z",
            "score": "9",
        }
        for i in range(n)
    ]


# -- severity ---------------------------------------------------------------------------------


def test_severity_comes_from_the_expectation_then_the_suite_then_warning():
    suite = {
        "meta": {"severity": "error"},
        "expectations": [
            {"type": "t", "kwargs": {}, "meta": {"key": "a"}},
            {"type": "t", "kwargs": {}, "meta": {"key": "b", "severity": "warning"}},
        ],
    }
    assert expectation_severity(suite, "a") == ERROR
    assert expectation_severity(suite, "b") == WARNING
    assert expectation_severity({"expectations": suite["expectations"]}, "a") == WARNING
    with pytest.raises(ValueError, match="unknown severity"):
        expectation_severity({"meta": {"severity": "fatal"}, "expectations": []}, "a")
    raw = load_suite_definition(SUITE)
    assert expectation_severity(raw, "score_is_integer") == ERROR
    assert expectation_severity(raw, "language_known") == WARNING


# -- per-survey score threshold ---------------------------------------------------------------


def test_score_threshold_per_survey_strictest_wins():
    meta = {"score_mostly": {"default": 0.95, "by_survey": {"LAX": 0.8, "STRICT": 0.99}}}
    assert score_mostly(meta, ["A", None]) == 0.95
    assert score_mostly(meta, ["LAX"]) == 0.8
    assert score_mostly(meta, ["LAX", "A"]) == 0.95
    assert score_mostly(meta, ["LAX", "STRICT", "A"]) == 0.99
    assert score_mostly({}, []) == 0.95
    assert score_mostly(load_suite_definition(SUITE)["meta"], ["X"]) == 0.95


# -- row-count band ---------------------------------------------------------------------------


@pytest.fixture
def history_conn():
    """Ten days (2025-05-01..10) of 20 NPS1 rows a day in daily files, one load each."""
    conn = duckdb.connect()
    create_raw_table(conn)
    for d in range(1, 11):
        day = f"2025-05-{d:02d}"
        insert_rows(conn, f"nps/daily/{day}.csv", f"L{d}", day_rows(day, 20))
    return conn


def test_band_compares_rows_per_day_of_data_with_recent_history(history_conn):
    insert_rows(history_conn, "nps/daily/2025-05-11.csv", "L11", day_rows("2025-05-11", 2))
    band = row_count_band(history_conn, "nps/daily/2025-05-11.csv", "L11")
    assert band.expected_rows == pytest.approx(20.0)  # 200 rows / 10 days, one day of data
    assert (band.min_rows, band.max_rows) == (4, 100)  # 0.2x .. 5x
    assert band.per_series["NPS1"]["history_days_with_data"] == 10


def test_a_few_late_rows_of_yesterday_do_not_make_a_day_covered(history_conn):
    rows = day_rows("2025-05-11", 20) + day_rows("2025-05-10", 3, prefix="late")
    insert_rows(history_conn, "nps/daily/2025-05-11.csv", "L11", rows)
    band = row_count_band(history_conn, "nps/daily/2025-05-11.csv", "L11")
    assert band.per_series["NPS1"]["days_covered"] == 1
    assert band.expected_rows == pytest.approx(20.0)


def test_band_scales_with_the_days_a_file_covers(history_conn):
    weekly = [r for d in (11, 12, 13) for r in day_rows(f"2025-05-{d}", 20, prefix="w")]
    insert_rows(history_conn, "nps/weekly/w20.jsonl", "L11", weekly)
    band = row_count_band(history_conn, "nps/weekly/w20.jsonl", "L11")
    assert band.expected_rows == pytest.approx(60.0)
    assert (band.min_rows, band.max_rows) == (12, 300)


def test_band_compares_a_day_with_the_same_weekday():
    """Mondays are quiet: a Monday file is held against recent Mondays, not the average."""
    conn = duckdb.connect()
    create_raw_table(conn)
    for d in range(1, 29):  # 2025-04-01..28; Mondays are 7, 14, 21, 28
        day = f"2025-04-{d:02d}"
        insert_rows(conn, f"nps/daily/{day}.csv", f"L{d}", day_rows(day, 2 if d % 7 == 0 else 24))
    insert_rows(conn, "nps/daily/2025-05-05.csv", "L35", day_rows("2025-05-05", 2))  # a Monday
    band = row_count_band(conn, "nps/daily/2025-05-05.csv", "L35")
    assert band.expected_rows == pytest.approx(2.0)
    assert band.per_series["NPS1"]["days_on_same_weekday_average"] == 1
    assert band.min_rows == 0  # the overall average (about 21 a day) would have wanted 4
    plain = row_count_band(conn, "nps/daily/2025-05-05.csv", "L35", {"min_weekday_samples": 5})
    # days 04-07..04-28 are the 28-day window: (4 x 2 + 18 x 24) / 22 = 20 a day
    assert (plain.min_rows, plain.expected_rows) == (4, pytest.approx(20.0))


def test_band_needs_enough_history_and_a_known_survey(history_conn):
    # a new survey: no lower bound from it, and no upper bound for the file
    rows = day_rows("2025-05-11", 20) + day_rows("2025-05-11", 50, survey="NEW", prefix="n")
    insert_rows(history_conn, "nps/daily/mixed.csv", "L11", rows)
    band = row_count_band(history_conn, "nps/daily/mixed.csv", "L11")
    assert (band.min_rows, band.max_rows) == (4, None)
    # fewer than min_history_days days of history: no band at all
    short = row_count_band(history_conn, "nps/daily/mixed.csv", "L11", {"min_history_days": 11})
    assert (short.min_rows, short.max_rows, short.expected_rows) == (0, None, None)


def test_band_ignores_the_files_own_rows_later_days_and_blocked_files(history_conn):
    ensure_batch_validations_table(history_conn)
    # days 1..5 held back: only days 6..10 are history (still 20 a day, 5 days)
    for d in range(1, 6):
        history_conn.execute(
            "insert into raw.batch_validations values "
            "('nps', 'raw_nps_responses', ?, ?, now(), 20, false, true, 'x', null)",
            [f"nps/daily/2025-05-{d:02d}.csv", f"L{d}"],
        )
    band = row_count_band(history_conn, "nps/daily/2025-05-10.csv", "L10")
    assert band.per_series["NPS1"]["history_days_with_data"] == 4  # days 6..9 only
    assert band.min_rows == 0  # 4 days < min_history_days (7): no band
    band = row_count_band(history_conn, "nps/daily/2025-05-10.csv", "L10", {"min_history_days": 4})
    assert band.expected_rows == pytest.approx(20.0)


def kept_counts(conn: duckdb.DuckDBPyConnection) -> list[tuple]:
    return conn.execute(f"select * from {DAILY_COUNTS_TABLE} order by all").fetchall()


def test_daily_counts_follow_the_changed_file_versions_only(history_conn):
    """The band's counts are kept across loads: a load counts again only the file versions
    whose rows changed, and the kept counts always equal a count of the whole raw table."""
    assert prepare_daily_counts(history_conn) == 10  # the first load of the table: all
    assert prepare_daily_counts(history_conn) == 0  # nothing changed: nothing is counted
    band_before = row_count_band(history_conn, "nps/daily/2025-05-10.csv", "L10")
    # a new file, a file version replaced by a newer load of the same file, rows erased
    insert_rows(history_conn, "nps/daily/2025-05-11.csv", "L11", day_rows("2025-05-11", 7))
    history_conn.execute("delete from raw.nps_responses where _source_file like '%05-02.csv'")
    insert_rows(history_conn, "nps/daily/2025-05-02.csv", "L11", day_rows("2025-05-02", 12))
    history_conn.execute(
        "delete from raw.nps_responses where response_id in ('2025-05-03-0', '2025-05-03-1')"
    )
    # the new file, the replaced version (gone), its replacement and the erased file
    assert prepare_daily_counts(history_conn) == 4
    kept = kept_counts(history_conn)
    history_conn.execute(f"drop table {DAILY_COUNTS_TABLE}")
    assert prepare_daily_counts(history_conn) == 11  # 10 days (one replaced) and the new one
    assert kept == kept_counts(history_conn)
    assert ("nps/daily/2025-05-03.csv", "L3", "NPS1", date(2025, 5, 3), 18) in kept
    # and the band reads them: 2 rows fewer and 8 rows fewer in the window of 05-10
    band = row_count_band(history_conn, "nps/daily/2025-05-10.csv", "L10")
    assert band.per_series["NPS1"]["history_rows"] == (
        band_before.per_series["NPS1"]["history_rows"] - 2 - 8
    )


def test_a_drop_to_a_tenth_blocks_the_file(history_conn, surveys_csv, validator):
    insert_rows(history_conn, "nps/daily/2025-05-11.csv", "L11", day_rows("2025-05-11", 2))
    (verdict,) = validate_load(
        history_conn,
        "nps",
        SUITE,
        ["nps/daily/2025-05-11.csv"],
        "L11",
        builder(surveys_csv),
        validator,
    )
    assert verdict.blocked
    assert verdict.blocking == ("row_count_plausible",)
    assert verdict.validation.outcome("row_count_plausible").observed_value == 2
    assert verdict.details["row_count_band"]["min_rows"] == 4


# -- judging and recording ---------------------------------------------------------------------


def test_a_share_threshold_blocks_only_files_of_min_rows_to_block(surveys_csv, validator):
    conn = duckdb.connect()
    create_raw_table(conn)
    # 4 of 10 rows without response_id: 60% < 90%; the file is too small to block on a share
    small = with_changes(clean_rows(10), {i: {"response_id": None} for i in (0, 1, 2, 3)})
    insert_rows(conn, "small.csv", "L", small)
    # the same share on 50 rows blocks
    big = with_changes(clean_rows(50), {i: {"response_id": None} for i in range(20)})
    insert_rows(conn, "big.csv", "L", big)
    small_verdict, big_verdict = validate_load(
        conn, "nps", SUITE, ["small.csv", "big.csv"], "L", builder(surveys_csv), validator
    )
    assert (small_verdict.blocked, small_verdict.warnings) == (False, ("response_id_not_null",))
    assert (big_verdict.blocked, big_verdict.blocking) == (True, ("response_id_not_null",))
    summary = big_verdict.failed_summary()
    assert summary[0]["key"] == "response_id_not_null"
    assert (summary[0]["effect"], summary[0]["unexpected_count"]) == ("blocks", 20)
    stored = conn.execute(
        "select source_file, row_count, success, blocked, blocking_expectations, "
        "failed_expectations from raw.batch_validations order by source_file"
    ).fetchall()
    assert [r[:5] for r in stored] == [
        ("big.csv", 50, False, True, "response_id_not_null"),
        ("small.csv", 10, False, False, None),
    ]
    assert json.loads(stored[0][5])[0]["unexpected_count"] == 20


def test_warning_severity_failures_never_block(surveys_csv, validator):
    conn = duckdb.connect()
    create_raw_table(conn)
    rows = with_changes(clean_rows(60), {i: {"language": "klingon"} for i in range(30)})
    insert_rows(conn, "lang.csv", "L", rows)
    (verdict,) = validate_load(
        conn, "nps", SUITE, ["lang.csv"], "L", builder(surveys_csv), validator, record=False
    )
    assert not verdict.validation.success
    assert (verdict.blocked, verdict.warnings) == (False, ("language_known",))
    assert verdict.to_metadata()["warnings"] == ["language_known"]


def test_recording_again_replaces_the_verdict_of_that_file_and_load(surveys_csv, validator):
    conn = duckdb.connect()
    create_raw_table(conn)
    insert_rows(conn, "a.csv", "L", clean_rows(10))
    verdicts = validate_load(conn, "nps", SUITE, ["a.csv"], "L", builder(surveys_csv), validator)
    record_verdicts(conn, "nps", "L", verdicts)
    assert conn.execute(
        "select count(*), bool_and(success) from raw.batch_validations"
    ).fetchall() == [(1, True)]


def test_judge_without_failures_is_not_blocked():
    from orchestration.quality.gx_engine import BatchValidation

    verdict = judge(load_suite_definition(SUITE), BatchValidation(SUITE, "f", True), rows=5)
    assert (verdict.blocked, verdict.blocking, verdict.warnings) == (False, (), ())
