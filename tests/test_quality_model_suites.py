"""The model suites (reference, intermediate, marts): every expectation fails on a frame that
violates it, with the right count, and a clean frame passes; the reader and the Dagster wiring."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import pandas as pd
import pytest

from orchestration.quality.gx_engine import Validator, load_suite_definition, row_by_row
from orchestration.quality.mart_checks import (
    build_suite_checks,
    evaluation_metadata,
    model_suites,
    suite_parameters,
)
from orchestration.quality.readers import (
    read_chunks,
    read_relation,
    suite_columns,
    validate_relation,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def stats_frame() -> pd.DataFrame:
    """Four clean rows of nps_by_period / nps_rolling statistics; the last is a low sample whose
    adjusted interval (shifted towards 0) excludes its nps, which is allowed."""
    return pd.DataFrame(
        {
            "responses": [10, 4, 1, 2],
            "promoters": [5, 0, 1, 2],
            "passives": [2, 2, 0, 0],
            "detractors": [3, 2, 0, 0],
            "nps": [20.0, -50.0, 100.0, 100.0],
            "nps_variance": [0.76, 0.5, 0.0, 0.0],
            "nps_ci_lower": [-20.0, -100.0, 100.0, 100.0],
            "nps_ci_upper": [60.0, 10.0, 100.0, 100.0],
            "nps_adjusted_ci_lower": [-15.0, -90.0, 20.0, 10.0],
            "nps_adjusted_ci_upper": [55.0, 5.0, 100.0, 90.0],
            "is_low_sample": [False, False, False, True],
            "nps_standard_error": [20.0, 30.0, 0.0, 0.0],
            "promoter_share": [0.5, 0.0, 1.0, 1.0],
            "passive_share": [0.2, 0.5, 0.0, 0.0],
            "detractor_share": [0.3, 0.5, 0.0, 0.0],
        }
    )


STATS_VIOLATIONS = {
    # out of bounds, though inside intervals that went out of bounds with it
    "nps_within_bounds": (
        {
            "nps": {0: 100.5, 1: -101.0},
            "nps_ci_upper": {0: 101.0},
            "nps_adjusted_ci_upper": {0: 101.0},
            "nps_ci_lower": {1: -102.0},
            "nps_adjusted_ci_lower": {1: -102.0},
        },
        2,
    ),
    # nps outside its interval: below the lower bound, above the upper bound
    "nps_at_least_ci_lower": ({"nps_ci_lower": {0: 25.0}}, 1),
    "nps_at_most_ci_upper": ({"nps_ci_upper": {1: -60.0}}, 1),
    "nps_at_least_adjusted_ci_lower": ({"nps_adjusted_ci_lower": {0: 21.0, 2: 100.5}}, 2),
    # row 3 is a low sample: its adjusted interval is not held to (see stats_frame)
    "nps_at_most_adjusted_ci_upper": ({"nps_adjusted_ci_upper": {1: -55.0, 3: 0.0}}, 1),
    "nps_variance_within_0_1": ({"nps_variance": {0: 1.2, 1: -0.1}}, 2),
    "standard_error_not_negative": ({"nps_standard_error": {1: -0.1}}, 1),
    "promoter_share_within_0_1": ({"promoter_share": {2: 1.5}}, 1),
    "passive_share_within_0_1": ({"passive_share": {0: -0.2}}, 1),
    "detractor_share_within_0_1": ({"detractor_share": {0: 1.01, 1: 2.0}}, 2),
}
BY_PERIOD_VIOLATIONS = {**STATS_VIOLATIONS, "responses_positive": ({"responses": {2: 0}}, 1)}
ROLLING_VIOLATIONS = {
    **STATS_VIOLATIONS,
    "promoters_not_negative": ({"promoters": {0: -1}}, 1),
    "passives_not_negative": ({"passives": {1: -2, 2: -1}}, 2),
    "detractors_not_negative": ({"detractors": {3: -1}}, 1),
}


# suite -> (clean frame factory, {expectation key: (cell changes, unexpected count)})
CASES = {
    "branches": (
        lambda: pd.DataFrame(
            {
                "branch_id": ["B1", "B2"],
                "district": ["D1", "D1"],
                "region": ["R1", "R1"],
                "country": ["NL", "BE"],
            }
        ),
        {
            "branch_id_present": ({"branch_id": {0: None}}, 1),
            "district_present": ({"district": {0: None, 1: None}}, 2),
            "region_present": ({"region": {1: None}}, 1),
            "country_present": ({"country": {1: None}}, 1),
        },
    ),
    "fct_nps_responses": (
        lambda: pd.DataFrame(
            {
                "submitted_at": pd.to_datetime(
                    ["2025-05-01T00:00:00Z", "2025-05-30T13:00:00Z"], utc=True
                ),
                "score": [0, 10],
            }
        ),
        {
            # observed value, not a count: the newest response; see the freshness test
            "newest_response_fresh": (
                {"submitted_at": {1: pd.Timestamp("2025-05-28", tz="UTC")}},
                None,
            ),
            "score_within_0_10": ({"score": {0: -1, 1: 11}}, 2),
        },
    ),
    "nps_daily": (
        lambda: pd.DataFrame(
            {
                "responses": [3, 1],
                "promoters": [1, 0],
                "passives": [1, 0],
                "detractors": [1, 1],
                "nps": [0.0, -100.0],
            }
        ),
        {
            "nps_within_bounds": ({"nps": {1: -100.01}}, 1),
            "responses_positive": ({"responses": {0: 0, 1: 0}}, 2),
            "promoters_not_negative": ({"promoters": {0: -1}}, 1),
            "passives_not_negative": ({"passives": {1: -2}}, 1),
            "detractors_not_negative": ({"detractors": {0: -1}}, 1),
        },
    ),
    "nps_by_period": (stats_frame, BY_PERIOD_VIOLATIONS),
    "nps_rolling": (
        # days without responses: zero counts and no statistics
        lambda: pd.concat(
            [
                stats_frame(),
                pd.DataFrame(
                    {"responses": [0], "promoters": [0], "passives": [0], "detractors": [0]}
                ),
            ],
            ignore_index=True,
        ),
        ROLLING_VIOLATIONS,
    ),
    "enps_rolling": (
        lambda: pd.DataFrame(
            {
                "suppressed": [False, True, False],
                "responses": [8.0, None, 5.0],
                "enps": [25.0, None, -20.0],
                "min_group_size": [5, 5, 5],
            }
        ),
        {
            "suppressed_groups_carry_no_score": ({"enps": {1: 10.0}}, 1),
            # suppressed to protect a sibling (complementary suppression): still no count
            "suppressed_groups_carry_no_counts": ({"responses": {1: 6.0}}, 1),
            "published_groups_meet_min_size": ({"responses": {0: 4.0, 2: 1.0}}, 2),
            "enps_within_bounds": ({"enps": {0: 120.0}}, 1),
        },
    ),
    "int_nps_responses_validated": (
        lambda: pd.DataFrame({"outcome": ["accepted"] * 19 + ["duplicate"]}),
        # 2 of 20 quarantined = 10% > 5%
        {"quarantined_share_low": ({"outcome": {0: "quarantined", 1: "quarantined"}}, 2)},
    ),
}


def changed(frame: pd.DataFrame, changes: dict) -> pd.DataFrame:
    frame = frame.copy()
    for column, cells in changes.items():
        for row, value in cells.items():
            frame.loc[row, column] = value
    return frame


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator()


def params(suite: str) -> dict | None:
    return suite_parameters(load_suite_definition(suite), now=NOW) or None


def keys(suite: str) -> list[str]:
    return [e["meta"]["key"] for e in load_suite_definition(suite)["expectations"]]


def test_every_model_suite_has_cases_and_documented_unique_keys():
    suites = model_suites()
    # enps_by_wave is the eNPS issue's own suite, tested in tests/test_enps_anonymity.py
    assert set(suites) - {"enps_by_wave"} == set(CASES)
    for suite in CASES:
        definition = load_suite_definition(suite)
        assert definition["meta"]["asset"].split("/")[-1] == suite  # named after the asset
        assert definition["meta"]["severity"] in ("error", "warning")
        assert all(e["meta"]["description"].strip() for e in definition["expectations"])
        assert len(set(keys(suite))) == len(keys(suite))
        assert set(CASES[suite][1]) == set(keys(suite)), suite


@pytest.mark.parametrize("suite", sorted(CASES))
def test_clean_frame_passes(validator, suite):
    make, _ = CASES[suite]
    result = validator.validate(suite, make(), batch="clean", suite_parameters=params(suite))
    assert result.success, result.to_metadata()["failed"]


@pytest.mark.parametrize(
    ("suite", "key"), [(s, k) for s in sorted(CASES) for k in sorted(CASES[s][1])]
)
def test_each_violation_fails_its_expectation_with_the_count(validator, suite, key):
    make, violations = CASES[suite]
    changes, unexpected = violations[key]
    result = validator.validate(
        suite, changed(make(), changes), batch=key, suite_parameters=params(suite)
    )
    assert not result.success
    assert {o.key for o in result.failures()} == {key}
    assert result.outcome(key).unexpected_count == unexpected


def test_freshness_cutoff_is_configurable(monkeypatch, validator):
    definition = load_suite_definition("fct_nps_responses")
    assert suite_parameters(definition, now=NOW) == {"freshness_cutoff": NOW - timedelta(hours=72)}
    monkeypatch.setenv("NPS_FRESHNESS_MAX_AGE_HOURS", "24")
    cutoff = suite_parameters(definition, now=NOW)["freshness_cutoff"]
    assert cutoff == NOW - timedelta(hours=24)
    frame = pd.DataFrame({"submitted_at": pd.to_datetime(["2025-05-30T13:00:00Z"], utc=True)})
    stale = validator.validate(
        "fct_nps_responses", frame, "f", suite_parameters={"freshness_cutoff": cutoff}
    )
    assert not stale.success
    assert stale.outcome("newest_response_fresh").observed_value.startswith("2025-05-30T13:00")


# -- reader and chunks -------------------------------------------------------------------------


def rolling_rows(rows: int) -> pd.DataFrame:
    """`rows` clean nps_rolling rows (stats_frame repeated) plus a column no suite reads."""
    frame = pd.concat([stats_frame()] * (rows // 4), ignore_index=True)
    return frame.assign(unused="x")


@pytest.fixture
def warehouse(tmp_path):
    """marts.nps_rolling of 2,400 rows with violations in its first, second and third 1,000."""
    frame = changed(
        rolling_rows(2400),
        {
            "nps": {5: 101.0, 1500: -100.5, 2399: 250.0},
            "promoters": {2000: -3},
            "is_low_sample": {1001: True},  # row 1001's adjusted interval is not held to
            "nps_adjusted_ci_upper": {1001: -99.0, 2001: -99.0},
        },
    )
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("create schema marts")
        conn.register("frame", frame)
        conn.execute("create table marts.nps_rolling as select * from frame")
        conn.execute("create table marts.empty as select * from frame limit 0")
    return path


def test_reader_reads_the_suites_columns(warehouse):
    definition = load_suite_definition("nps_rolling")
    assert {"promoter_share", "nps_adjusted_ci_upper", "is_low_sample"} <= suite_columns(definition)
    table = read_relation(warehouse, "marts", "nps_rolling", definition)
    assert "unused" not in table.column_names
    assert table.num_rows == 2400  # every row, not a recent window
    everything = read_relation(warehouse, "marts", "nps_rolling")
    assert (everything.num_rows, "unused" in everything.column_names) == (2400, True)
    with pytest.raises(LookupError):
        read_relation(warehouse, "marts", "missing")
    # a row condition's column is read too (the eNPS suites filter on `suppressed`)
    assert "suppressed" in suite_columns(load_suite_definition("enps_rolling"))


def test_chunks_are_bounded_and_cover_every_row(warehouse):
    definition = load_suite_definition("nps_rolling")
    chunks = list(read_chunks(warehouse, "marts", "nps_rolling", definition, chunk_rows=1000))
    assert [c.num_rows for c in chunks] == [1000, 1000, 400]
    (empty,) = read_chunks(warehouse, "marts", "empty", definition, chunk_rows=1000)
    assert empty.num_rows == 0 and "nps" in empty.column_names


def test_merged_chunks_count_every_violation_like_one_frame(warehouse, validator):
    definition = load_suite_definition("nps_rolling")
    chunked = validate_relation(
        validator, warehouse, "marts", "nps_rolling", "nps_rolling", definition, chunk_rows=1000
    )
    assert (chunked.chunks, chunked.rows, chunked.datasource) == (3, 2400, "pandas")
    whole = validator.validate(
        "nps_rolling", read_relation(warehouse, "marts", "nps_rolling", definition), "whole"
    )
    failing = {o.key: o.unexpected_count for o in chunked.failures()}
    assert failing == {
        "nps_within_bounds": 3,  # rows 5, 1500, 2399
        "nps_at_least_ci_lower": 1,  # row 1500
        "nps_at_most_ci_upper": 2,  # rows 5, 2399
        "nps_at_least_adjusted_ci_lower": 1,  # row 1500
        "nps_at_most_adjusted_ci_upper": 2,  # rows 5, 2001 (2399 and 1001 are low samples)
        "promoters_not_negative": 1,  # row 2000
    }
    assert failing == {o.key: o.unexpected_count for o in whole.failures()}
    for merged, single in zip(chunked.outcomes, whole.outcomes, strict=True):
        assert (merged.key, merged.success, merged.element_count) == (
            single.key,
            single.success,
            single.element_count,
        )
        assert merged.unexpected_percent == pytest.approx(single.unexpected_percent)
    assert set(chunked.outcome("nps_within_bounds").unexpected_sample) == {101.0, -100.5, 250.0}


def test_mostly_is_judged_on_the_merged_counts(validator):
    clean = pd.DataFrame({"outcome": ["accepted"] * 1000})
    dirty = pd.DataFrame({"outcome": ["accepted"] * 940 + ["quarantined"] * 60})
    assert not validator.validate("int_nps_responses_validated", dirty, "dirty").success  # 6%
    merged = validator.validate_chunks("int_nps_responses_validated", [clean, dirty], "both")
    share = merged.outcome("quarantined_share_low")
    assert (merged.success, share.unexpected_count, share.unexpected_percent) == (True, 60, 3.0)
    worse = validator.validate_chunks("int_nps_responses_validated", [dirty, dirty], "worse")
    assert (worse.success, worse.outcome("quarantined_share_low").unexpected_count) == (False, 120)


def test_suites_needing_all_rows_at_once_are_not_chunked(validator):
    assert not row_by_row(load_suite_definition("fct_nps_responses"))  # the newest response
    with pytest.raises(ValueError, match="all rows at once"):
        validator.validate_chunks("fct_nps_responses", [pd.DataFrame({"score": [1]})], "x")


def test_a_column_the_table_lacks_fails_the_suite_instead_of_the_read(tmp_path, validator):
    path = tmp_path / "narrow.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("create schema marts")
        conn.execute(
            "create table marts.nps_rolling as select 0.5 as promoter_share, 'x' as unused "
            "from range(10)"
        )
    definition = load_suite_definition("nps_rolling")
    result = validate_relation(validator, path, "marts", "nps_rolling", "nps_rolling", definition)
    assert not result.success
    assert result.outcome("passive_share_within_0_1").exception  # passive_share is missing
    assert result.outcome("promoter_share_within_0_1").success
    metadata = evaluation_metadata(definition, result, result.rows)
    assert (metadata["rows"], metadata["gx_datasource"], metadata["chunks"]) == (10, "pandas", 1)
    assert json.dumps(metadata["expectations"].value)


# -- wiring -----------------------------------------------------------------------------------


def test_checks_only_for_assets_that_exist():
    checks = build_suite_checks([dg.AssetKey(["marts", "nps_daily"]), dg.AssetKey(["x", "y"])])
    assert [str(k.to_user_string()) for c in checks for k in c.check_keys] == [
        "marts/nps_daily:nps_daily_suite"
    ]
    assert build_suite_checks([]) == []
