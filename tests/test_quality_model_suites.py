"""The model suites (reference, intermediate, marts): every expectation fails on a frame that
violates it, with the right count, and a clean frame passes; the reader and the Dagster wiring."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import pandas as pd
import pytest

from orchestration.quality.gx_engine import Validator, load_suite_definition
from orchestration.quality.mart_checks import (
    build_suite_checks,
    evaluation_metadata,
    model_suites,
    suite_parameters,
)
from orchestration.quality.readers import read_relation, suite_columns

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def stats_frame() -> pd.DataFrame:
    """Three clean rows of nps_by_period / nps_rolling statistics."""
    return pd.DataFrame(
        {
            "responses": [10, 4, 1],
            "nps": [20.0, -50.0, 100.0],
            "nps_ci_lower": [-20.0, -100.0, 100.0],
            "nps_ci_upper": [60.0, 10.0, 100.0],
            "nps_standard_error": [20.0, 30.0, 0.0],
            "promoter_share": [0.5, 0.0, 1.0],
            "passive_share": [0.2, 0.5, 0.0],
            "detractor_share": [0.3, 0.5, 0.0],
        }
    )


STATS_VIOLATIONS = {
    "standard_error_not_negative": ({"nps_standard_error": {1: -0.1}}, 1),
    "promoter_share_within_0_1": ({"promoter_share": {2: 1.5}}, 1),
    "passive_share_within_0_1": ({"passive_share": {0: -0.2}}, 1),
    "detractor_share_within_0_1": ({"detractor_share": {0: 1.01, 1: 2.0}}, 2),
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
                )
            }
        ),
        # observed value, not a count: the newest response; see the freshness test
        {
            "newest_response_fresh": (
                {"submitted_at": {1: pd.Timestamp("2025-05-28", tz="UTC")}},
                None,
            )
        },
    ),
    "nps_daily": (
        lambda: pd.DataFrame(
            {"responses": [3, 1], "promoters": [1, 0], "passives": [1, 0], "detractors": [1, 1]}
        ),
        {
            "responses_positive": ({"responses": {0: 0, 1: 0}}, 2),
            "promoters_not_negative": ({"promoters": {0: -1}}, 1),
            "passives_not_negative": ({"passives": {1: -2}}, 1),
            "detractors_not_negative": ({"detractors": {0: -1}}, 1),
        },
    ),
    "nps_by_period": (stats_frame, STATS_VIOLATIONS),
    "nps_rolling": (
        # days without responses: 0 responses and no statistics
        lambda: pd.concat([stats_frame(), pd.DataFrame({"responses": [0]})], ignore_index=True),
        STATS_VIOLATIONS,
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


# -- reader -----------------------------------------------------------------------------------


@pytest.fixture
def warehouse(tmp_path):
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("create schema marts")
        conn.execute(
            "create table marts.nps_rolling as select "
            "(date '2025-01-01' + cast(i as integer))::date as calendar_date, "
            "0.5 as promoter_share, 1.0 as nps_standard_error, 'x' as unused from range(100) t(i)"
        )
    return path


def test_reader_reads_the_suites_columns_and_recent_days(warehouse):
    definition = load_suite_definition("nps_rolling")
    assert {"promoter_share", "nps_standard_error"} <= suite_columns(definition)
    table = read_relation(warehouse, "marts", "nps_rolling", definition)
    assert "unused" not in table.column_names
    assert table.num_rows == 36  # the newest day and the 35 before it (meta.recent)
    everything = read_relation(warehouse, "marts", "nps_rolling")
    assert (everything.num_rows, "unused" in everything.column_names) == (100, True)
    with pytest.raises(LookupError):
        read_relation(warehouse, "marts", "missing")


def test_a_column_the_table_lacks_fails_the_suite_instead_of_the_read(warehouse, validator):
    definition = load_suite_definition("nps_rolling")
    frame = read_relation(warehouse, "marts", "nps_rolling", definition)
    result = validator.validate("nps_rolling", frame, "marts.nps_rolling")
    assert not result.success
    assert result.outcome("passive_share_within_0_1").exception  # passive_share is missing
    metadata = evaluation_metadata(definition, result, frame.num_rows)
    assert metadata["rows"] == 36
    assert json.dumps(metadata["expectations"].value)


# -- wiring -----------------------------------------------------------------------------------


def test_checks_only_for_assets_that_exist():
    checks = build_suite_checks([dg.AssetKey(["marts", "nps_daily"]), dg.AssetKey(["x", "y"])])
    assert [str(k.to_user_string()) for c in checks for k in c.check_keys] == [
        "marts/nps_daily:nps_daily_suite"
    ]
    assert build_suite_checks([]) == []
