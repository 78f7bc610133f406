"""The raw_nps_responses GX suite over per-file batches built from a DuckDB raw table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from orchestration.quality.gx_engine import (
    DEFAULT_EXPECTATIONS_DIR,
    BatchValidation,
    Validator,
    load_suite_definition,
)
from orchestration.quality.raw_batches import raw_nps_batch

REPO_ROOT = Path(__file__).resolve().parents[1]
SUITE = "raw_nps_responses"
LOADED_AT = "2025-06-01T00:00:00Z"
# the suite's runtime parameters with no row-count history (orchestration/quality/raw_parameters)
PARAMS = {"score_mostly": 0.95, "row_count_min": 0, "row_count_max": None}

# docs/contracts.md: every contract column as landed text, then the lineage columns.
CONTRACT_COLUMNS = [
    "response_id",
    "survey_id",
    "respondent_id",
    "respondent_email",
    "submitted_at",
    "score",
    "comment",
    "language",
    "channel",
    "touchpoint",
    "branch_id",
    "product",
    "consent_contact",
    "consent_testimonial",
]

SURVEYS_CSV = """survey_id,name,program,scale_min,scale_max,started_on
NPS1,Relationship NPS,nps,0,10,2025-01-01
 CSAT1 ,Branch CSAT,csat,1,5,2025-01-01
"""


def create_raw_table(conn: duckdb.DuckDBPyConnection) -> None:
    """`raw.nps_responses` with the columns of docs/contracts.md."""
    text_columns = ", ".join(f"{c} VARCHAR" for c in CONTRACT_COLUMNS)
    conn.execute("CREATE SCHEMA IF NOT EXISTS raw")
    conn.execute(
        f"""CREATE TABLE raw.nps_responses (
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


def insert_rows(
    conn: duckdb.DuckDBPyConnection,
    source_file: str,
    load_id: str,
    rows: list[dict[str, str | None]],
    loaded_at: str = LOADED_AT,
) -> None:
    columns = [
        *CONTRACT_COLUMNS,
        "_source_file",
        "_source_row",
        "_file_checksum",
        "_file_received_at",
        "_loaded_at",
        "_load_id",
    ]
    placeholders = ", ".join("?" for _ in columns)
    conn.executemany(
        f"INSERT INTO raw.nps_responses ({', '.join(columns)}) VALUES ({placeholders})",
        [
            [
                *(row.get(c) for c in CONTRACT_COLUMNS),
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


def clean_rows(n: int = 10) -> list[dict[str, str | None]]:
    """n valid rows: NPS 0..10, CSAT 1..5 and an unregistered survey (0..10), mixed formats."""
    submitted = [
        "2025-05-01T10:00:00Z",
        "2025-05-01 10:00:00",
        "2025-05-01T12:00:00+02:00",
        " 2025-05-02T08:30:00.250Z ",
        "2025-06-01T02:00:00+02:00",  # exactly _loaded_at: not in the future
        "2025-05-31T23:30:00",  # no offset = UTC, 30 minutes before _loaded_at
    ]
    surveys = ["NPS1", " NPS1 ", "CSAT1", "OTHER"]
    scores = {"NPS1": ["0", " 10 ", "7.0", "9"], "CSAT1": ["1", "5", "3.00"], "OTHER": ["10"]}
    # every spelling parse_boolean understands, any case; blank is no value
    contact = ["yes", " No ", "TRUE", "0", "f", None, "Y", "n", "T", ""]
    testimonial = ["1", "false", "Y", "n", "t", "", "FALSE", "yes", "NO", None]
    languages = ["EN", "nl-BE", "pl_PL", "es", None, " de ", "fr", "", "pt-BR", "zh"]
    rows = []
    for i in range(n):
        survey = surveys[i % len(surveys)]
        choices = scores[survey.strip()]
        rows.append(
            {
                "response_id": f"r{i:03d}",
                "survey_id": survey,
                "submitted_at": submitted[i % len(submitted)],
                "score": choices[i % len(choices)],
                "comment": f"comment {i}",
                "consent_contact": contact[i % len(contact)],
                "consent_testimonial": testimonial[i % len(testimonial)],
                "language": languages[i % len(languages)],
            }
        )
    return rows


def with_changes(rows, changes: dict[int, dict[str, str | None]]):
    return [{**row, **changes.get(i, {})} for i, row in enumerate(rows)]


# key of the one expectation the batch violates -> (row changes on 10 clean rows, unexpected)
# Clean rows by index: survey NPS1 at 0, 4, 8; " NPS1 " at 1, 5, 9; CSAT1 at 2, 6; OTHER at 3, 7.
# Thresholds (the suite's `mostly`): completeness and timestamps 90% (2 bad rows in 10 fail, 1
# would pass), uniqueness 80%, scores score_mostly = 95% (1 bad row fails).
BEFORE_START = "2024-12-31T23:59:59Z"  # NPS1 and CSAT1 started on 2025-01-01
VIOLATIONS = {
    "response_id_not_null": ({3: {"response_id": None}, 7: {"response_id": "  "}}, 2),
    # rows 1 and 4 share r001, rows 2 and 5 share r002: 4 of 10 rows repeat an id
    "response_id_unique": ({4: {"response_id": " r001 "}, 5: {"response_id": "r002"}}, 4),
    # unregistered -> 0..10, scores 0 and 0 ok, no start date
    "survey_id_not_null": ({0: {"survey_id": " "}, 4: {"survey_id": None}}, 2),
    "submitted_at_parseable": ({1: {"submitted_at": "yesterday"}, 2: {"submitted_at": ""}}, 2),
    "submitted_at_not_in_future": (
        {5: {"submitted_at": "2025-06-01T00:00:01Z"}, 9: {"submitted_at": "2026-01-01"}},
        2,
    ),
    "submitted_at_not_before_survey_start": (
        {0: {"submitted_at": BEFORE_START}, 6: {"submitted_at": "2024-06-01"}},
        2,
    ),
    "score_is_integer": ({0: {"score": "7.5"}}, 1),
    "score_at_least_scale_min": ({2: {"score": "0"}}, 1),  # CSAT1 is 1..5
    "score_at_most_scale_max": ({3: {"score": "11"}}, 1),  # unregistered survey: 0..10
    "consent_contact_boolean": ({0: {"consent_contact": "maybe"}, 1: {"consent_contact": "2"}}, 2),
    "consent_testimonial_boolean": (
        {0: {"consent_testimonial": "si"}, 1: {"consent_testimonial": "-"}},
        2,
    ),
    "language_known": ({0: {"language": "english"}, 1: {"language": "xx-YY"}}, 2),
}


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    """A DuckDB file with raw.nps_responses and a surveys CSV; yields (conn, surveys_csv)."""
    root = tmp_path_factory.mktemp("quality")
    surveys_csv = root / "surveys.csv"
    surveys_csv.write_text(SURVEYS_CSV, encoding="utf-8")
    conn = duckdb.connect(str(root / "warehouse.duckdb"))
    create_raw_table(conn)
    insert_rows(conn, "nps/2025/05/clean.csv", "load-1", clean_rows())
    # Same file written by another load, and another file of the same load: never in the batch.
    insert_rows(conn, "nps/2025/05/clean.csv", "load-0", [{"response_id": None, "score": "x"}])
    insert_rows(conn, "nps/2025/05/other.csv", "load-1", [{"response_id": None, "score": "x"}])
    for key, (changes, _) in VIOLATIONS.items():
        insert_rows(conn, f"nps/bad/{key}.csv", "load-1", with_changes(clean_rows(), changes))
    yield conn, surveys_csv
    conn.close()


def validate_file(validator, warehouse, source_file: str, load_id: str = "load-1", **params):
    conn, surveys_csv = warehouse
    return validator.validate(
        SUITE,
        raw_nps_batch(conn, source_file, load_id, surveys_csv),
        batch=source_file,
        suite_parameters={**PARAMS, **params},
    )


def failed_keys(result: BatchValidation) -> set[str | None]:
    return {o.key for o in result.failures()}


def suite_keys() -> list[str]:
    return [e["meta"]["key"] for e in load_suite_definition(SUITE)["expectations"]]


# -- the suite file ---------------------------------------------------------------------------


def test_suite_file_is_documented_and_keys_are_unique():
    definition = load_suite_definition(SUITE)
    assert definition["name"] == SUITE
    for expectation in definition["expectations"]:
        assert expectation["meta"]["description"].strip()
    keys = suite_keys()
    assert len(keys) == len(set(keys))
    # every expectation has a violation test below (plus the column-set one)
    assert set(keys) == {*VIOLATIONS, "required_columns_present", "row_count_plausible"}


def test_load_suite_definition_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_suite_definition("nope", tmp_path)
    with pytest.raises(ValueError):
        load_suite_definition("../raw_nps_responses")
    (tmp_path / "renamed.json").write_text(json.dumps({"name": "other", "expectations": []}))
    with pytest.raises(ValueError):
        load_suite_definition("renamed", tmp_path)
    assert load_suite_definition(SUITE) == load_suite_definition(SUITE, DEFAULT_EXPECTATIONS_DIR)


# -- batches ----------------------------------------------------------------------------------


def test_batch_has_only_that_files_rows_of_that_load_and_derived_columns(warehouse):
    conn, surveys_csv = warehouse
    conn.execute("SET TimeZone = 'America/New_York'")  # raw_nps_batch must read naive as UTC
    table = raw_nps_batch(conn, "nps/2025/05/clean.csv", "load-1", surveys_csv)
    assert table.num_rows == 10
    assert set(table.column("_load_id").to_pylist()) == {"load-1"}
    assert table.column("_source_row").to_pylist() == list(range(1, 11))
    for column in [*CONTRACT_COLUMNS, "extra_columns", "_source_file", "_loaded_at"]:
        assert column in table.column_names
    rows = table.to_pylist()
    assert rows[1]["survey_id_trimmed"] == "NPS1"
    assert (rows[1]["score"], rows[1]["score_value"], rows[1]["score_is_integer"]) == (
        " 10 ",
        10.0,
        True,
    )
    assert (rows[2]["scale_min"], rows[2]["scale_max"]) == (1, 5)  # " CSAT1 " in the seed
    assert (rows[3]["scale_min"], rows[3]["scale_max"]) == (0, 10)  # unregistered
    assert (rows[2]["score"], rows[2]["score_value"]) == ("3.00", 3.0)
    assert rows[4]["submitted_at_in_future"] is False  # equal to _loaded_at
    assert rows[5]["submitted_at_ts"].isoformat() == "2025-05-31T23:30:00+00:00"
    assert rows[5]["submitted_at_in_future"] is False


def test_batch_derived_context_columns(warehouse):
    conn, surveys_csv = warehouse
    rows = raw_nps_batch(conn, "nps/2025/05/clean.csv", "load-1", surveys_csv).to_pylist()
    assert [r["consent_contact_text"] for r in rows] == [
        "yes", "no", "true", "0", "f", None, "y", "n", "t", None
    ]  # fmt: skip
    assert [r["language_code"] for r in rows] == [
        "en", "nl", "pl", "es", None, "de", "fr", None, "pt", "zh"
    ]  # fmt: skip
    assert str(rows[0]["survey_started_on"]) == "2025-01-01"  # NPS1
    assert rows[3]["survey_started_on"] is None  # unregistered survey
    assert rows[0]["submitted_before_survey_start"] is False
    assert rows[3]["submitted_before_survey_start"] is None


def test_submitted_before_survey_start_is_midnight_utc(tmp_path):
    conn = duckdb.connect()
    create_raw_table(conn)
    insert_rows(
        conn,
        "f.csv",
        "L",
        [
            {"survey_id": "NPS1", "submitted_at": "2024-12-31T23:59:59Z"},
            {"survey_id": "NPS1", "submitted_at": "2025-01-01T00:00:00Z"},
            {"survey_id": "NPS1", "submitted_at": "2025-01-01T00:30:00+01:00"},  # 23:30 UTC
            {"survey_id": "NPS1", "submitted_at": "nonsense"},
        ],
    )
    surveys_csv = tmp_path / "surveys.csv"
    surveys_csv.write_text(SURVEYS_CSV)
    batch = raw_nps_batch(conn, "f.csv", "L", surveys_csv)
    assert batch.column("submitted_before_survey_start").to_pylist() == [True, False, True, None]


# score text -> (score_is_integer, score_value)
SCORE_CASES = [
    ("7", True, 7.0),
    ("+7", True, 7.0),
    ("7.0", True, 7.0),
    ("\t8\n", True, 8.0),
    ("7.5", False, None),  # try_cast('7.5' AS INTEGER) would give 8
    ("7.", False, None),
    ("seven", False, None),
    ("1e1", False, None),
    ("", None, None),
    (None, None, None),
]
# submitted_at text -> (parses, in the future of LOADED_AT)
SUBMITTED_AT_CASES = [
    ("2025-05-01", True, False),
    ("2025-05-01T10:00", True, False),
    ("2025-05-01T10:00:00-0500", True, False),
    ("2030-01-01", True, True),
    ("2025-13-01", False, None),
    ("01/05/2025", False, None),
    ("x", False, None),
    ("2025", False, None),
    ("  ", False, None),
    (None, False, None),
]


def test_batch_derived_score_and_timestamp_values(tmp_path):
    conn = duckdb.connect()
    create_raw_table(conn)
    rows = [
        {"response_id": str(i), "score": score[0], "submitted_at": submitted[0]}
        for i, (score, submitted) in enumerate(zip(SCORE_CASES, SUBMITTED_AT_CASES, strict=True))
    ]
    insert_rows(conn, "f.csv", "L", rows)
    surveys_csv = tmp_path / "surveys.csv"
    surveys_csv.write_text(SURVEYS_CSV)
    batch = raw_nps_batch(conn, "f.csv", "L", surveys_csv).to_pylist()
    assert [(r["score_is_integer"], r["score_value"]) for r in batch] == [
        (is_integer, value) for _, is_integer, value in SCORE_CASES
    ]
    assert [(r["submitted_at_ts"] is not None, r["submitted_at_in_future"]) for r in batch] == [
        (parses, future) for _, parses, future in SUBMITTED_AT_CASES
    ]


def test_batch_requires_the_surveys_csv(tmp_path):
    conn = duckdb.connect()
    create_raw_table(conn)
    with pytest.raises(FileNotFoundError):
        raw_nps_batch(conn, "f.csv", "L", tmp_path / "missing.csv")


def test_duplicate_survey_rows_do_not_multiply_batch_rows(tmp_path):
    conn = duckdb.connect()
    create_raw_table(conn)
    insert_rows(conn, "f.csv", "L", clean_rows(4))
    surveys_csv = tmp_path / "surveys.csv"
    surveys_csv.write_text(SURVEYS_CSV + "CSAT1,again,csat,0,7,2025-02-01\n")
    table = raw_nps_batch(conn, "f.csv", "L", surveys_csv)
    assert table.num_rows == 4
    assert (table["scale_min"][2].as_py(), table["scale_max"][2].as_py()) == (0, 7)


# -- validation -------------------------------------------------------------------------------


def test_clean_batch_passes(validator, warehouse):
    result = validate_file(validator, warehouse, "nps/2025/05/clean.csv")
    assert result.success, result.to_metadata()["failed"]
    assert result.failures() == ()
    assert [o.key for o in result.outcomes] == suite_keys()  # suite file order
    assert all(o.description for o in result.outcomes)
    not_null = result.outcome("response_id_not_null")
    assert (not_null.element_count, not_null.unexpected_count) == (10, 0)
    metadata = result.to_metadata()
    assert json.loads(json.dumps(metadata)) == metadata
    assert metadata["batch"] == "nps/2025/05/clean.csv"
    assert (metadata["evaluated_expectations"], metadata["failed_expectations"]) == (14, 0)


@pytest.mark.parametrize("key", sorted(VIOLATIONS))
def test_each_violation_fails_only_its_expectation(validator, warehouse, key):
    _, expected_unexpected = VIOLATIONS[key]
    result = validate_file(validator, warehouse, f"nps/bad/{key}.csv")
    assert not result.success
    assert failed_keys(result) == {key}
    outcome = result.outcome(key)
    assert outcome.unexpected_count == expected_unexpected
    assert outcome.element_count == 10
    metadata = result.to_metadata()
    assert metadata["failed"] == [key]
    assert json.loads(json.dumps(metadata)) == metadata


def test_duplicate_sample_shows_the_repeated_id(validator, warehouse):
    result = validate_file(validator, warehouse, "nps/bad/response_id_unique.csv")
    assert result.outcome("response_id_unique").unexpected_sample == ("r001", "r002")
    pair = validate_file(validator, warehouse, "nps/bad/score_at_least_scale_min.csv")
    assert pair.outcome("score_at_least_scale_min").unexpected_sample == ([0.0, 1],)


def test_missing_required_column_fails_only_the_column_set_check(validator, warehouse):
    conn, surveys_csv = warehouse
    table = raw_nps_batch(conn, "nps/2025/05/clean.csv", "load-1", surveys_csv)
    frame = table.drop_columns(["score"]).to_pandas()  # derived columns stay
    result = validator.validate(SUITE, frame, batch="no-score", suite_parameters=PARAMS)
    assert failed_keys(result) == {"required_columns_present"}
    outcome = result.outcome("required_columns_present")
    assert "score" not in outcome.observed_value
    assert "response_id" in outcome.observed_value
    assert outcome.details["mismatched"]["missing"] == ["score"]


def test_score_checks_tolerate_up_to_five_percent(validator, tmp_path):
    """mostly 0.95: one bad score in 20 rows passes, and the count is still reported."""
    surveys_csv = tmp_path / "surveys.csv"
    surveys_csv.write_text(SURVEYS_CSV)
    conn = duckdb.connect()
    create_raw_table(conn)
    # Row 2 is CSAT1 (1..5). The scale checks only look at whole-number scores, so a
    # non-integer and an out-of-scale score go in separate files.
    insert_rows(conn, "a.csv", "L", with_changes(clean_rows(20), {0: {"score": "7.5"}}))
    insert_rows(conn, "b.csv", "L", with_changes(clean_rows(20), {2: {"score": "6"}}))
    for source_file, key in [("a.csv", "score_is_integer"), ("b.csv", "score_at_most_scale_max")]:
        batch = raw_nps_batch(conn, source_file, "L", surveys_csv)
        result = validator.validate(SUITE, batch, source_file, suite_parameters=PARAMS)
        assert result.success, key
        outcome = result.outcome(key)
        assert (outcome.success, outcome.unexpected_count, outcome.element_count) == (True, 1, 20)
        assert outcome.unexpected_percent == pytest.approx(5.0)


def test_missing_columns_raise_as_evaluation_errors(validator):
    import pandas as pd

    result = validator.validate(
        SUITE, pd.DataFrame({"response_id": ["a"]}), batch="tiny", suite_parameters=PARAMS
    )
    assert not result.success
    assert [o.key for o in result.outcomes] == suite_keys()  # GX lists errored ones first
    assert result.outcome("response_id_not_null").exception
    assert not result.outcome("required_columns_present").success
    assert json.dumps(result.to_metadata())


# -- engine -----------------------------------------------------------------------------------


def test_suite_parameters_and_custom_expectations_dir(tmp_path):
    suite = {
        "name": "param_suite",
        "expectations": [
            {
                "type": "expect_table_row_count_to_be_between",
                "kwargs": {"max_value": {"$PARAMETER": "max_rows"}},
                "meta": {"key": "row_limit", "description": "At most max_rows rows."},
            }
        ],
    }
    (tmp_path / "param_suite.json").write_text(json.dumps(suite))
    validator = Validator(tmp_path)
    import pandas as pd

    frame = pd.DataFrame({"a": [1, 2, 3]})
    passed = validator.validate("param_suite", frame, "b1", suite_parameters={"max_rows": 3})
    failed = validator.validate("param_suite", frame, "b2", suite_parameters={"max_rows": 2})
    assert passed.success and not failed.success
    assert failed.outcome("row_limit").observed_value == 3
    with pytest.raises(Exception, match="max_rows"):  # noqa: B017 - GX's SuiteParameterError
        validator.validate("param_suite", frame, "b3")
    assert validator._context.validation_results_store.list_keys() == []  # results not kept


@pytest.mark.parametrize(
    ("expectation", "message"),
    [
        ({"type": "expect_column_values_to_not_be_null", "kwargs": {}}, "not a valid GX suite"),
        ({"type": "expect_nothing_at_all", "kwargs": {}}, "only 0 are valid"),
    ],
)
def test_invalid_expectation_in_suite_file_is_refused(tmp_path, expectation, message):
    (tmp_path / "bad.json").write_text(json.dumps({"name": "bad", "expectations": [expectation]}))
    import pandas as pd

    with pytest.raises(ValueError, match=message):
        Validator(tmp_path).validate("bad", pd.DataFrame({"a": [1]}), "b")


def test_importing_the_engine_does_not_import_great_expectations():
    code = (
        "import sys\n"
        "import orchestration.quality.gx_engine, orchestration.quality.raw_batches\n"
        "orchestration.quality.gx_engine.Validator()\n"
        "print('great_expectations' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


# -- runtime parameters -----------------------------------------------------------------------


def test_row_count_outside_the_band_fails_with_the_row_count(validator, warehouse):
    too_few = validate_file(validator, warehouse, "nps/2025/05/clean.csv", row_count_min=11)
    assert failed_keys(too_few) == {"row_count_plausible"}
    assert too_few.outcome("row_count_plausible").observed_value == 10
    too_many = validate_file(validator, warehouse, "nps/2025/05/clean.csv", row_count_max=9)
    assert failed_keys(too_many) == {"row_count_plausible"}
    inside = validate_file(
        validator, warehouse, "nps/2025/05/clean.csv", row_count_min=10, row_count_max=10
    )
    assert inside.success


def test_score_threshold_comes_from_the_parameter(validator, warehouse):
    """One bad score in 10 fails at the default 95% but passes a survey set to 90%."""
    source_file = "nps/bad/score_is_integer.csv"
    assert failed_keys(validate_file(validator, warehouse, source_file)) == {"score_is_integer"}
    lenient = validate_file(validator, warehouse, source_file, score_mostly=0.9)
    assert lenient.success
    assert lenient.outcome("score_is_integer").unexpected_count == 1
