"""The raw_enps_responses GX suite over per-file batches of a DuckDB raw table: one violating
fixture batch per expectation, a clean batch, the per-wave row-count band and blocking."""

from __future__ import annotations

import json

import duckdb
import pytest

from orchestration.landing.feeds import ENPS_RESPONSES
from orchestration.quality.gx_engine import BatchValidation, Validator, load_suite_definition
from orchestration.quality.raw_batches import raw_nps_batch
from orchestration.quality.raw_enps_batches import enps_file_batch, raw_enps_batch
from orchestration.quality.raw_parameters import score_mostly, wave_row_count_band
from orchestration.quality.raw_validation import validate_load
from orchestration.quality.verdicts import ensure_batch_validations_table, expectation_severity
from tests.test_quality_raw_suite import SURVEYS_CSV, create_raw_table, insert_rows

SUITE = "raw_enps_responses"
LOADED_AT = "2025-07-01T00:00:00Z"
PARAMS = {"score_mostly": 0.95, "row_count_min": 0, "row_count_max": None}

ENPS_COLUMNS = list(ENPS_RESPONSES.columns)


def create_enps_table(conn: duckdb.DuckDBPyConnection) -> None:
    text_columns = ", ".join(f"{c} VARCHAR" for c in ENPS_COLUMNS)
    conn.execute("CREATE SCHEMA IF NOT EXISTS raw")
    conn.execute(
        f"""CREATE TABLE raw.enps_responses (
            {text_columns},
            extra_columns VARCHAR,
            _source_file VARCHAR,
            _source_row BIGINT,
            _file_checksum VARCHAR,
            _file_received_at TIMESTAMPTZ,
            _loaded_at TIMESTAMPTZ,
            _load_id VARCHAR
        )"""
    )


def insert_enps(
    conn: duckdb.DuckDBPyConnection,
    source_file: str,
    load_id: str,
    rows: list[dict[str, str | None]],
    loaded_at: str = LOADED_AT,
) -> None:
    columns = [*ENPS_COLUMNS, "extra_columns"]
    lineage = ["_source_file", "_source_row", "_file_checksum", "_file_received_at"]
    lineage += ["_loaded_at", "_load_id"]
    placeholders = ", ".join("?" for _ in [*columns, *lineage])
    conn.executemany(
        f"INSERT INTO raw.enps_responses ({', '.join([*columns, *lineage])}) "
        f"VALUES ({placeholders})",
        [
            [
                *(row.get(c) for c in columns),
                source_file,
                n,
                "0" * 64,
                loaded_at,
                loaded_at,
                load_id,
            ]
            for n, row in enumerate(rows, start=1)
        ],
    )


def clean_rows(n: int = 10, wave: str = "2025-Q2", prefix: str = "e") -> list[dict]:
    """n valid employee rows of one wave: spellings of the wave, timestamps and scores vary."""
    waves = [wave, f" {wave.lower()} "]
    submitted = [
        "2025-04-01T00:00:00Z",  # the wave's first moment: not before it
        "2025-05-12 09:00:00",
        "2025-05-12T10:00:00+02:00",
        " 2025-06-30T23:59:59.500Z ",
        "2025-07-01T02:00:00+02:00",  # exactly _loaded_at: not in the future
    ]
    scores = ["0", " 10 ", "7.0", "9", "+5", "3"]
    languages = ["EN", "nl-BE", "pl_PL", None, "es", "", " de ", "fr", "pt-BR", "zh"]
    return [
        {
            "response_id": f"{prefix}{i:03d}",
            "survey_wave": waves[i % len(waves)],
            "submitted_at": submitted[i % len(submitted)],
            "score": scores[i % len(scores)],
            "comment": f"comment {i}",
            "language": languages[i % len(languages)],
            "department": "Engineering",
            "team": "Platform",
            "location": "Amsterdam",
            "tenure_band": "1-3y",
        }
        for i in range(n)
    ]


def with_changes(rows, changes: dict[int, dict[str, str | None]]):
    return [{**row, **changes.get(i, {})} for i, row in enumerate(rows)]


# key of the one expectation the batch violates -> (row changes on 10 clean rows, unexpected)
# Thresholds: completeness and timestamps 90% (2 bad rows in 10 fail, 1 would pass), uniqueness
# 80%, scores score_mostly = 95% (1 bad row fails), identifiers in extra_columns: none allowed.
VIOLATIONS = {
    "no_identifier_in_extra_columns": (
        {3: {"extra_columns": '{"shift":"early","email":"x@corp.example"}'}},
        1,
    ),
    "response_id_not_null": ({3: {"response_id": None}, 7: {"response_id": "  "}}, 2),
    # rows 1 and 4 share e001, rows 2 and 5 share e002: 4 of 10 rows repeat an id
    "response_id_unique": ({4: {"response_id": " e001 "}, 5: {"response_id": "e002"}}, 4),
    "survey_wave_not_null": ({0: {"survey_wave": " "}, 4: {"survey_wave": None}}, 2),
    "submitted_at_parseable": ({1: {"submitted_at": "last tuesday"}, 2: {"submitted_at": ""}}, 2),
    "submitted_at_not_in_future": (
        {5: {"submitted_at": "2025-07-01T00:00:01Z"}, 9: {"submitted_at": "2030-01-01"}},
        2,
    ),
    # 2025-Q2 opened on 2025-04-01
    "submitted_at_not_before_wave_start": (
        {
            0: {"submitted_at": "2025-03-31T23:59:59Z"},
            6: {"submitted_at": "2025-04-01T01:00+02:00"},
        },
        2,
    ),
    "score_is_integer": ({0: {"score": "7.5"}}, 1),
    "score_at_least_scale_min": ({2: {"score": "-1"}}, 1),
    "score_at_most_scale_max": ({3: {"score": "11"}}, 1),
    "language_known": ({0: {"language": "english"}, 1: {"language": "xx-YY"}}, 2),
}


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator()


@pytest.fixture(scope="module")
def warehouse():
    conn = duckdb.connect()
    create_enps_table(conn)
    insert_enps(conn, "enps/2025-Q2/clean.csv", "load-1", clean_rows())
    # the same file by another load and another file of the load: never in the batch
    insert_enps(conn, "enps/2025-Q2/clean.csv", "load-0", [{"response_id": None, "score": "x"}])
    insert_enps(conn, "enps/2025-Q2/other.csv", "load-1", [{"response_id": None, "score": "x"}])
    for key, (changes, _) in VIOLATIONS.items():
        insert_enps(conn, f"enps/bad/{key}.csv", "load-1", with_changes(clean_rows(), changes))
    yield conn
    conn.close()


def validate_file(validator, conn, source_file: str, load_id: str = "load-1", **params):
    return validator.validate(
        SUITE,
        raw_enps_batch(conn, source_file, load_id),
        batch=source_file,
        suite_parameters={**PARAMS, **params},
    )


def failed_keys(result: BatchValidation) -> set[str | None]:
    return {o.key for o in result.failures()}


def suite_keys() -> list[str]:
    return [e["meta"]["key"] for e in load_suite_definition(SUITE)["expectations"]]


# -- the suite file ---------------------------------------------------------------------------


def test_suite_covers_what_the_issue_asks_of_employee_batches():
    definition = load_suite_definition(SUITE)
    keys = suite_keys()
    assert len(keys) == len(set(keys))
    assert all(e["meta"]["description"].strip() for e in definition["expectations"])
    # every expectation has a violating batch below (plus the column set and the row count)
    assert set(keys) == {*VIOLATIONS, "columns_exactly_the_contract", "row_count_plausible"}
    # blocking like the customer suite; what a name-derived wave start or a language says warns
    assert expectation_severity(definition, "score_is_integer") == "error"
    assert expectation_severity(definition, "row_count_plausible") == "error"
    assert expectation_severity(definition, "language_known") == "warning"
    assert expectation_severity(definition, "submitted_at_not_before_wave_start") == "warning"
    assert score_mostly(definition["meta"], ["2025-Q1"], by="by_wave") == 0.95


def test_both_raw_suites_know_the_same_languages():
    def languages(suite: str) -> list[str]:
        (language,) = [
            e
            for e in load_suite_definition(suite)["expectations"]
            if e["meta"]["key"] == "language_known"
        ]
        return language["kwargs"]["value_set"]

    assert languages(SUITE) == languages("raw_nps_responses")


# -- the batch --------------------------------------------------------------------------------


def test_batch_derives_the_same_values_as_the_customer_batch(tmp_path):
    """One SQL for both feeds: the same landed text gives the same derived values."""
    conn = duckdb.connect()
    create_enps_table(conn)
    create_raw_table(conn)
    texts = [
        ("7", "2025-05-01", "EN"),
        ("7.0", "2025-05-01T10:00", "nl-BE"),
        ("7.5", "2025-05-01T10:00:00-0500", "pl_PL"),
        ("seven", "01/05/2025", None),
        (" ", "2030-01-01", " de "),
        (None, None, ""),
    ]
    rows = [
        {"response_id": f"r{i}", "score": s, "submitted_at": t, "language": lang}
        for i, (s, t, lang) in enumerate(texts)
    ]
    insert_enps(conn, "f.csv", "L", rows)
    insert_rows(conn, "f.csv", "L", rows, loaded_at=LOADED_AT)
    surveys_csv = tmp_path / "surveys.csv"
    surveys_csv.write_text(SURVEYS_CSV)
    derived = [
        "response_id_trimmed",
        "language_code",
        "submitted_at_ts",
        "submitted_at_in_future",
        "score_is_integer",
        "score_value",
        "scale_min",
        "scale_max",
    ]
    employee = raw_enps_batch(conn, "f.csv", "L").select(derived).to_pylist()
    customer = raw_nps_batch(conn, "f.csv", "L", surveys_csv).select(derived).to_pylist()
    assert employee == customer
    assert [r["score_value"] for r in employee] == [7.0, 7.0, None, None, None, None]
    assert [r["language_code"] for r in employee] == ["en", "nl", "pl", None, "de", None]


@pytest.mark.parametrize(
    ("wave", "started_on"),
    [
        ("2025-Q2", "2025-04-01"),
        (" 2025-q4 ", "2025-10-01"),
        ("2025-07", "2025-07-01"),
        ("2025-H2", "2025-07-01"),
        ("2025", "2025-01-01"),
        ("2025-13", None),
        ("FY26-Q1", None),
        ("spring pulse", None),
    ],
)
def test_wave_start_comes_from_the_waves_name(wave, started_on):
    conn = duckdb.connect()
    create_enps_table(conn)
    day = started_on or "2025-01-01"
    rows = [{"survey_wave": wave, "submitted_at": f"{day}T00:00:00Z"}]
    rows.append({"survey_wave": wave, "submitted_at": f"{day}T00:00:00+00:01"})  # 1 minute early
    insert_enps(conn, "f.csv", "L", rows)
    on_time, early = raw_enps_batch(conn, "f.csv", "L", wave_started_on={}).to_pylist()
    assert (str(on_time["wave_started_on"]) if on_time["wave_started_on"] else None) == started_on
    expected = (None, None) if started_on is None else (False, True)
    assert (
        on_time["submitted_before_wave_start"],
        early["submitted_before_wave_start"],
    ) == expected


def test_configured_wave_start_overrides_the_name():
    conn = duckdb.connect()
    create_enps_table(conn)
    insert_enps(
        conn,
        "f.csv",
        "L",
        [
            {"survey_wave": "2025-Q1", "submitted_at": "2025-02-09T23:00:00Z"},
            {"survey_wave": "2025-Q1", "submitted_at": "2025-02-10T00:00:00Z"},
            {"survey_wave": "spring pulse", "submitted_at": "2025-03-01T00:00:00Z"},
        ],
    )
    starts = {"2025-Q1": "2025-02-10", " spring pulse ": "2025-03-02"}
    rows = raw_enps_batch(conn, "f.csv", "L", wave_started_on=starts).to_pylist()
    assert [str(r["wave_started_on"]) for r in rows] == ["2025-02-10", "2025-02-10", "2025-03-02"]
    assert [r["submitted_before_wave_start"] for r in rows] == [True, False, True]


# -- validation -------------------------------------------------------------------------------


def test_clean_batch_passes(validator, warehouse):
    result = validate_file(validator, warehouse, "enps/2025-Q2/clean.csv")
    assert result.success, result.to_metadata()["failed"]
    assert [o.key for o in result.outcomes] == suite_keys()
    not_null = result.outcome("response_id_not_null")
    assert (not_null.element_count, not_null.unexpected_count) == (10, 0)
    metadata = result.to_metadata()
    assert json.loads(json.dumps(metadata)) == metadata


@pytest.mark.parametrize("key", sorted(VIOLATIONS))
def test_each_violation_fails_only_its_expectation(validator, warehouse, key):
    _, expected_unexpected = VIOLATIONS[key]
    result = validate_file(validator, warehouse, f"enps/bad/{key}.csv")
    assert failed_keys(result) == {key}
    outcome = result.outcome(key)
    assert outcome.unexpected_count == expected_unexpected
    assert outcome.element_count == 10


def test_an_identifier_column_fails_the_exact_column_set(validator, warehouse):
    batch = raw_enps_batch(warehouse, "enps/2025-Q2/clean.csv", "load-1")
    leaked = batch.append_column("employee_email", batch.column("response_id"))
    result = validator.validate(SUITE, leaked, batch="leaked", suite_parameters=PARAMS)
    assert failed_keys(result) == {"columns_exactly_the_contract"}
    missing = batch.drop_columns(["score"])
    result = validator.validate(SUITE, missing, batch="no-score", suite_parameters=PARAMS)
    assert "columns_exactly_the_contract" in failed_keys(result)


def test_row_count_outside_the_band_fails_with_the_row_count(validator, warehouse):
    too_few = validate_file(validator, warehouse, "enps/2025-Q2/clean.csv", row_count_min=11)
    assert failed_keys(too_few) == {"row_count_plausible"}
    assert too_few.outcome("row_count_plausible").observed_value == 10
    too_many = validate_file(validator, warehouse, "enps/2025-Q2/clean.csv", row_count_max=9)
    assert failed_keys(too_many) == {"row_count_plausible"}


def test_score_threshold_comes_from_the_parameter(validator, warehouse):
    source_file = "enps/bad/score_is_integer.csv"
    assert failed_keys(validate_file(validator, warehouse, source_file)) == {"score_is_integer"}
    assert validate_file(validator, warehouse, source_file, score_mostly=0.9).success


# -- the per-wave row-count band and blocking --------------------------------------------------

WAVES = {"2024-Q3": "2024-08-12", "2024-Q4": "2024-11-11", "2025-Q1": "2025-02-10"}


def wave_rows(wave: str, n: int, day: str, prefix: str) -> list[dict]:
    return [
        {
            "response_id": f"{prefix}{i:04d}",
            "survey_wave": wave,
            "submitted_at": f"{day}T09:00:00Z",
            "score": str(i % 11),
        }
        for i in range(n)
    ]


@pytest.fixture
def waves_conn():
    """Three earlier waves of 100 responses each, one file and load per wave."""
    conn = duckdb.connect()
    create_enps_table(conn)
    for n, (wave, day) in enumerate(WAVES.items()):
        insert_enps(conn, f"enps/{wave}/pulse.csv", f"L{n}", wave_rows(wave, 100, day, wave))
    return conn


def test_band_expects_the_average_of_the_earlier_waves(waves_conn):
    insert_enps(
        waves_conn, "enps/2025-Q2/pulse.csv", "L9", wave_rows("2025-Q2", 90, "2025-05-12", "q")
    )
    band = wave_row_count_band(waves_conn, "enps/2025-Q2/pulse.csv", "L9")
    assert (band.expected_rows, band.min_rows, band.max_rows) == (100.0, 20, 500)
    assert band.per_series["2025-Q2"]["earlier_waves"] == 3
    assert band.to_metadata()["per_wave"]["2025-Q2"]["expected_rows"] == 100.0
    only_latest = wave_row_count_band(
        waves_conn, "enps/2025-Q2/pulse.csv", "L9", {"history_waves": 1}
    )
    assert only_latest.per_series["2025-Q2"]["earlier_waves_rows"] == 100
    # the first wave has nothing to compare with: no band
    first = wave_row_count_band(waves_conn, "enps/2024-Q3/pulse.csv", "L0")
    assert (first.min_rows, first.max_rows, first.expected_rows) == (0, None, None)


def test_a_wave_in_two_files_and_a_small_resend_are_judged_by_the_whole_wave(waves_conn):
    rows = wave_rows("2025-Q2", 100, "2025-05-12", "q")
    insert_enps(waves_conn, "enps/2025-Q2/pulse.csv", "L9", rows[:75])
    insert_enps(waves_conn, "enps/2025-Q2/pulse_mobile.jsonl", "L9", rows[75:])
    mobile = wave_row_count_band(waves_conn, "enps/2025-Q2/pulse_mobile.jsonl", "L9")
    assert (mobile.min_rows, mobile.max_rows) == (0, 425)  # 20 - 75 held elsewhere; 500 - 75
    resend = wave_rows("2025-Q1", 3, "2025-02-10", "2025-Q1")  # three re-sent responses
    insert_enps(waves_conn, "enps/2025-Q2/resend.csv", "L9", resend)
    band = wave_row_count_band(waves_conn, "enps/2025-Q2/resend.csv", "L9")
    assert (band.min_rows, band.max_rows) == (0, 400)
    assert band.per_series["2025-Q1"]["rows_in_other_files"] == 100


def test_blocked_files_are_no_history(waves_conn):
    ensure_batch_validations_table(waves_conn)
    waves_conn.execute(
        "insert into raw.batch_validations values ('enps', 'raw_enps_responses', "
        "'enps/2024-Q4/pulse.csv', 'L1', now(), 100, false, true, 'x', null)"
    )
    insert_enps(
        waves_conn, "enps/2025-Q2/pulse.csv", "L9", wave_rows("2025-Q2", 90, "2025-05-12", "q")
    )
    band = wave_row_count_band(waves_conn, "enps/2025-Q2/pulse.csv", "L9")
    assert band.per_series["2025-Q2"]["earlier_waves"] == 2


def test_a_wave_with_a_tenth_of_its_rows_is_blocked_and_one_a_third_smaller_is_not(
    waves_conn, validator
):
    insert_enps(
        waves_conn, "enps/2025-Q2/broken.csv", "L9", wave_rows("2025-Q2", 10, "2025-05-12", "b")
    )
    insert_enps(
        waves_conn,
        "enps/2025-Q3/pulse.csv",
        "L9",
        wave_rows("2025-Q3", 66, "2025-08-11", "c"),
        loaded_at="2025-09-01T00:00:00Z",
    )
    broken, quiet = validate_load(
        waves_conn,
        "enps",
        SUITE,
        ["enps/2025-Q2/broken.csv", "enps/2025-Q3/pulse.csv"],
        "L9",
        enps_file_batch,
        validator,
    )
    assert broken.blocking == ("row_count_plausible",)
    assert broken.validation.outcome("row_count_plausible").observed_value == 10
    assert broken.details["row_count_band"]["min_rows"] == 20
    assert not quiet.blocked and quiet.validation.success
    stored = waves_conn.execute(
        "select source_file, blocked, blocking_expectations from raw.batch_validations "
        "order by source_file"
    ).fetchall()
    assert stored == [
        ("enps/2025-Q2/broken.csv", True, "row_count_plausible"),
        ("enps/2025-Q3/pulse.csv", False, None),
    ]


def test_a_share_failure_blocks_a_large_file_and_warns_on_a_small_one(validator):
    conn = duckdb.connect()
    create_enps_table(conn)
    big = with_changes(clean_rows(60), {i: {"score": "n/a"} for i in range(0, 60, 3)})
    small = with_changes(clean_rows(10, prefix="s"), {0: {"score": "n/a"}})
    insert_enps(conn, "big.csv", "L", big)
    insert_enps(conn, "small.csv", "L", small)
    big_verdict, small_verdict = validate_load(
        conn, "enps", SUITE, ["big.csv", "small.csv"], "L", enps_file_batch, validator, record=False
    )
    assert big_verdict.blocking == ("score_is_integer",)
    assert big_verdict.validation.outcome("score_is_integer").unexpected_count == 20
    assert (small_verdict.blocked, small_verdict.warnings) == (False, ("score_is_integer",))
