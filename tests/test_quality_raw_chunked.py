"""A raw file longer than NPS_GX_CHUNK_ROWS is validated in chunks (real DuckDB, real GX) and its
one verdict equals the verdict of validating the whole file at once: duplicates split by their
key stay together, the row count is judged on the total."""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa
import pytest

from orchestration.quality.gx_engine import Validator, chunk_key, load_suite_definition
from orchestration.quality.raw_batches import raw_nps_batch
from orchestration.quality.raw_validation import grouped_chunks, validate_load
from orchestration.quality.readers import CHUNK_ROWS_ENV, configured_chunk_rows
from tests.test_quality_raw_suite import (
    SURVEYS_CSV,
    clean_rows,
    create_raw_table,
    insert_rows,
    with_changes,
)

SUITE = "raw_nps_responses"
ROWS = 120
# dirty rows spread over the file: duplicates far apart (rows 1 and 100, 2 and 110), a score
# 7.5, a missing id, an unknown language; 5 of 120 rows repeat an id or miss it
DIRTY = {
    100: {"response_id": " r001 "},
    110: {"response_id": "r002"},
    111: {"response_id": "r002"},
    30: {"score": "7.5"},
    60: {"response_id": None},
    90: {"language": "klingon"},
}


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator()


@pytest.fixture
def raw_file(tmp_path):
    surveys_csv = tmp_path / "surveys.csv"
    surveys_csv.write_text(SURVEYS_CSV)
    conn = duckdb.connect()
    create_raw_table(conn)
    insert_rows(conn, "big.csv", "L", with_changes(clean_rows(ROWS), DIRTY))
    yield conn, surveys_csv
    conn.close()


def _validate(conn, surveys_csv, validator):
    (verdict,) = validate_load(
        conn,
        "nps",
        SUITE,
        ["big.csv"],
        "L",
        lambda c, f, load, columns=None: raw_nps_batch(c, f, load, surveys_csv, columns),
        validator,
        record=False,
    )
    return verdict


def _outcomes(verdict) -> list[tuple]:
    return [
        (
            o.key,
            o.success,
            o.element_count,
            o.unexpected_count,
            None if o.unexpected_percent is None else round(o.unexpected_percent, 9),
            o.observed_value,
        )
        for o in verdict.validation.outcomes
    ]


def test_chunked_verdict_equals_the_whole_file_verdict(raw_file, validator, monkeypatch):
    conn, surveys_csv = raw_file
    whole = _validate(conn, surveys_csv, validator)
    assert whole.validation.chunks == 1
    monkeypatch.setenv(CHUNK_ROWS_ENV, "17")
    chunked = _validate(conn, surveys_csv, validator)
    assert chunked.validation.chunks == 8  # ceil(120 / 17)
    assert chunked.validation.rows == whole.validation.rows == ROWS
    assert _outcomes(chunked) == _outcomes(whole)
    assert (chunked.blocking, chunked.warnings) == (whole.blocking, whole.warnings)
    unique = chunked.validation.outcome("response_id_unique")
    assert unique.unexpected_count == 5  # r001 and r002 twice each, r002 three times
    assert chunked.validation.outcome("row_count_plausible").observed_value == ROWS
    assert chunked.validation.outcome("score_is_integer").unexpected_count == 1  # 7.5, not 8


def test_the_row_count_band_is_judged_on_the_chunks_total(tmp_path):
    table = pa.table(
        {
            "response_id": [f"r{i}" for i in range(10)],
            "response_id_trimmed": [f"r{i}" for i in range(10)],
        }
    )
    suite = {
        "name": "chunked_row_count",
        "expectations": [
            {
                "type": "expect_table_row_count_to_be_between",
                "kwargs": {
                    "min_value": {"$PARAMETER": "low"},
                    "max_value": {"$PARAMETER": "high"},
                },
            },
            {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "response_id"}},
        ],
    }
    chunks = list(grouped_chunks(table, "response_id", 3))
    assert [c.num_rows for c in chunks] == [3, 3, 2, 2]  # ids 0..9 modulo 4 chunks
    (tmp_path / "chunked_row_count.json").write_text(json.dumps(suite))
    own = Validator(expectations_dir=tmp_path)
    # every chunk alone holds fewer than 4 rows: only their total of 10 can pass
    for low, high, passes in ((4, 10, True), (10, 20, True), (11, 20, False), (4, 9, False)):
        result = own.validate_chunks(
            "chunked_row_count",
            iter(chunks),
            "t",
            {"low": low, "high": high},
            grouped_by="response_id",
        )
        row_count = result.outcomes[0]
        assert (row_count.observed_value, row_count.success) == (10, passes), (low, high)
    # uniqueness needs the promise that a key never spans two chunks
    with pytest.raises(ValueError, match="grouped by 'response_id'"):
        own.validate_chunks("chunked_row_count", iter(chunks), "t", {"low": 1, "high": 10})


def test_grouped_chunks_keep_every_row_once_and_each_key_in_one_chunk():
    ids = [f"id{i % 37}" if i % 5 else None for i in range(200)]
    table = pa.table({"key": ids, "row": list(range(200))})
    chunks = list(grouped_chunks(table, "key", 50))
    assert len(chunks) == 4
    rows = [r for c in chunks for r in c.column("row").to_pylist()]
    assert sorted(rows) == list(range(200))
    for chunk in chunks:
        assert chunk.column("row").to_pylist() == sorted(chunk.column("row").to_pylist())
    owners: dict[str, set[int]] = {}
    for n, chunk in enumerate(chunks):
        for key in chunk.column("key").to_pylist():
            if key is not None:
                owners.setdefault(key, set()).add(n)
    assert all(len(chunk_numbers) == 1 for chunk_numbers in owners.values())
    # a file within one chunk is handed over as it is; no key: plain slices
    assert list(grouped_chunks(table, "key", 200)) == [table]
    assert [c.num_rows for c in grouped_chunks(table, None, 64)] == [64, 64, 64, 8]


def test_which_suites_can_be_chunked_and_the_setting(monkeypatch):
    assert chunk_key(load_suite_definition("raw_nps_responses")) == (True, "response_id_trimmed")
    assert chunk_key(load_suite_definition("nps_daily")) == (True, None)
    assert chunk_key(load_suite_definition("fct_nps_responses"))[0] is False  # column max
    monkeypatch.delenv(CHUNK_ROWS_ENV, raising=False)
    assert configured_chunk_rows() == 500_000
    monkeypatch.setenv(CHUNK_ROWS_ENV, " 1000 ")
    assert configured_chunk_rows() == 1000
    for wrong in ("0", "-3", "1e6", "lots"):
        monkeypatch.setenv(CHUNK_ROWS_ENV, wrong)
        with pytest.raises(ValueError, match=CHUNK_ROWS_ENV):
            configured_chunk_rows()


def test_only_the_columns_the_suite_and_its_parameters_read_are_built(raw_file, validator):
    """DuckDB derives only the batch columns the suite needs: the comment text of a
    multi-million-row backfill is never copied out (8.7 GiB against 2.8 GiB at 10m)."""
    conn, surveys_csv = raw_file
    built: list[list[str]] = []

    def recording_builder(c, source_file, load_id, columns=None):
        frame = raw_nps_batch(c, source_file, load_id, surveys_csv, columns)
        built.append(frame.column_names)
        return frame

    (verdict,) = validate_load(
        conn, "nps", SUITE, ["big.csv"], "L", recording_builder, validator, record=False
    )
    (columns,) = built
    assert "comment" not in columns and "respondent_email" not in columns
    assert {"response_id_trimmed", "score_value", "survey_id_trimmed"} <= set(columns)
    whole = raw_nps_batch(conn, "big.csv", "L", surveys_csv)
    assert set(columns) < set(whole.column_names)
    assert verdict.validation.rows == whole.num_rows == ROWS
    # a column the batch lacks is not invented: its expectation still fails
    lacking = raw_nps_batch(conn, "big.csv", "L", surveys_csv, {"score_value", "no_such"})
    assert lacking.column_names == ["_source_row", "score_value"]  # in the batch's order
    assert lacking.column("_source_row").to_pylist() == list(range(1, ROWS + 1))
