"""The employee program (eNPS) through the real pipeline: loading, accounting, where data lives.

Uses the session's `fixture_run` (tests/fixtures/landing/enps/) and ONE extra real run over the
eNPS demo data. The attacks on the published numbers are in tests/test_enps_anonymity.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests.conftest import REPO, CliRun, run_cli
from tests.test_enps_anonymity import (
    assert_nothing_recovered,
    joint_publication,
    read_published,
    wave_links,
)

EXPECTED_FILES = {
    # source_file: (landed, accepted, quarantined, duplicates)
    "enps/2025-Q1/pulse.csv": (36, 36, 0, 0),
    "enps/2025-Q2/hr_export.csv": (11, 2, 8, 1),
    "enps/2025-Q2/pulse.jsonl": (40, 40, 0, 0),
}
EXPECTED_REASONS = {
    "missing_response_id": 1,
    "missing_survey_wave": 1,
    "missing_submitted_at": 1,
    "unparseable_submitted_at": 1,
    "future_submitted_at": 1,
    "missing_score": 1,
    "score_not_integer": 1,
    "score_out_of_scale": 1,
}
ENPS_MARTS = {"enps_by_wave", "enps_rolling", "enps_comments", "enps_load_reconciliation"}
RESTRICTED = {
    "stg_employee__enps_responses",
    "int_enps_responses_validated",
    "int_enps_responses_categorised",
    "int_enps_wave_groups",
    "int_enps_rolling_groups",
    "enps_quarantine",
    "enps_duplicates",
}


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def check_evaluation(dagster_home: Path, asset: list[str], check: str) -> tuple[bool, dict]:
    import dagster as dg

    os.environ["DAGSTER_HOME"] = str(dagster_home)
    with dg.DagsterInstance.get() as instance:
        key = dg.AssetCheckKey(dg.AssetKey(asset), check)
        record = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[key]
        evaluation = record.event.dagster_event.event_specific_data
        return evaluation.passed, {k: v.value for k, v in evaluation.metadata.items()}


def materialization_metadata(dagster_home: Path, asset: list[str]) -> dict:
    import dagster as dg

    os.environ["DAGSTER_HOME"] = str(dagster_home)
    with dg.DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(asset))
        metadata = event.asset_materialization.metadata
        return {k: v.value for k, v in metadata.items()}


# -- loading and row accounting --------------------------------------------------------------


def test_every_landed_employee_row_is_accounted_for(fixture_run: CliRun) -> None:
    rows = query(
        fixture_run.warehouse,
        "select source_file, landed_rows, accepted_rows, quarantined_rows, duplicate_rows "
        "from marts.enps_load_reconciliation where file_status = 'loaded'",
    )
    assert {r[0]: r[1:] for r in rows} == EXPECTED_FILES
    reasons = dict(
        query(
            fixture_run.warehouse,
            "select quarantine_reason, count(*) from people_restricted.enps_quarantine group by 1",
        )
    )
    assert reasons == EXPECTED_REASONS
    assert query(
        fixture_run.warehouse,
        "select response_id, duplicate_of_source_file from people_restricted.enps_duplicates",
    ) == [("E1-001", "enps/2025-Q1/pulse.csv")]


def test_identifier_columns_are_dropped_at_load_and_never_stored(fixture_run: CliRun) -> None:
    warehouse = fixture_run.warehouse
    columns = {
        c
        for (c,) in query(
            warehouse,
            "select column_name from information_schema.columns "
            "where table_schema = 'raw' and table_name = 'enps_responses'",
        )
    }
    assert not columns & {"employee_email", "name", "employee_name", "email"}
    # the values are nowhere: not as columns, not inside extra_columns
    assert query(
        warehouse,
        "select count(*) from raw.enps_responses as r "
        "where cast(r as varchar) like '%@corp.example%' or cast(r as varchar) ilike '%Ann Smith%'",
    ) == [(0,)]
    assert query(
        warehouse,
        "select extra_columns from raw.enps_responses "
        "where _source_file = 'enps/2025-Q2/hr_export.csv' and _source_row = 1",
    ) == [('{"shift":"early"}',)]
    metadata = materialization_metadata(fixture_run.dagster_home, ["raw", "enps_responses"])
    assert metadata["dropped_identifier_columns"] == {
        "enps/2025-Q2/hr_export.csv": ["employee_email", "name"]
    }
    passed, suite = check_evaluation(
        fixture_run.dagster_home, ["raw", "enps_responses"], "raw_enps_responses_suite"
    )
    failing = {f for batch in suite["failures"].values() for f in batch["failed"]}
    assert "columns_exactly_the_contract" not in failing
    assert "no_identifier_in_extra_columns" not in failing
    assert set(suite["failures"]) == {"enps/2025-Q2/hr_export.csv"}  # its dirty rows warn


# -- where the data lives --------------------------------------------------------------------


def test_no_mart_holds_one_row_per_employee_response(fixture_run: CliRun) -> None:
    tables = dict(
        query(
            fixture_run.warehouse,
            "select table_name, table_schema from information_schema.tables "
            "where table_name like '%enps%'",
        )
    )
    assert {t for t, s in tables.items() if s == "marts"} == ENPS_MARTS
    assert {t for t, s in tables.items() if s == "people_restricted"} == RESTRICTED
    per_response = query(
        fixture_run.warehouse,
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'marts' and table_name like 'enps%' "
        "and column_name in ('response_id', 'score', 'submitted_at', 'source_row')",
    )
    assert per_response == []
    # comments carry nothing that came with them
    assert {
        c
        for (c,) in query(
            fixture_run.warehouse,
            "select column_name from information_schema.columns "
            "where table_schema = 'marts' and table_name = 'enps_comments'",
        )
    } == {"survey_wave", "grouping", "department", "team", "language", "comment"}
    passed, _ = check_evaluation(
        fixture_run.dagster_home, ["marts", "enps_by_wave"], "enps_marts_hold_no_response_rows"
    )
    assert passed


def test_published_copy_for_bi_holds_no_restricted_table(
    fixture_run: CliRun, tmp_path: Path
) -> None:
    from orchestration.publish import publish_marts

    publication = publish_marts(fixture_run.warehouse, tmp_path, "test")
    assert set(publication.tables) >= ENPS_MARTS
    assert not set(publication.tables) & RESTRICTED
    names = query(publication.database, "select schema_name, table_name from duckdb_tables()")
    # `publication` holds the per-day row counts and hashes the next publication compares
    assert {s for s, _ in names} == {"marts", "publication"}
    assert not {t for _, t in names} & RESTRICTED
    assert not {p.stem for p in publication.parquet_dir.glob("*.parquet")} & RESTRICTED


# -- the marts -------------------------------------------------------------------------------


def test_enps_by_wave_numbers_statistics_and_participation(fixture_run: CliRun) -> None:
    row = query(
        fixture_run.warehouse,
        "select responses, promoters, passives, detractors, round(enps, 4), headcount, "
        "round(participation_rate, 4), enps_ci_lower < enps and enps < enps_ci_upper, "
        "previous_survey_wave, round(enps_change, 4), significant_change, min_group_size "
        "from marts.enps_by_wave where survey_wave = '2025-Q2' and grouping = 'all'",
    )
    assert row == [(42, 21, 9, 12, round(100 * 9 / 42, 4), 218, round(42 / 218, 4), True,
                    "2025-Q1", round(100 * 9 / 42 - 100 * 8 / 36, 4), False, 5)]  # fmt: skip
    # a suppressed row shows keys, headcount and the flag only
    assert query(
        fixture_run.warehouse,
        "select suppressed, responses, enps, participation_rate, previous_enps, headcount "
        "from marts.enps_by_wave where survey_wave = '2025-Q1' "
        "and grouping = 'department_team' and team = 'Security'",
    ) == [(True, None, None, None, None, 4)]


def test_comments_released_only_from_large_enough_groups(fixture_run: CliRun) -> None:
    released = query(
        fixture_run.warehouse,
        "select survey_wave, grouping, department, team, count(*), count(distinct language) "
        "from marts.enps_comments group by all order by all",
    )
    # 2025-Q1: SMB (12 responses) on its own; the other 24 responses form the all-employees pool;
    # Sales' leftover (Enterprise 5 + Partnerships 0) is too small to be a department pool
    assert released[:2] == [
        ("2025-Q1", "all", None, None, 12, 2),
        ("2025-Q1", "department_team", "Sales", "SMB", 12, 3),
    ]
    assert all(r[1] != "department_team" or r[0] != "2025-Q2" for r in released)
    assert query(
        fixture_run.warehouse,
        "select count(*) from marts.enps_comments where comment = 'resent'",
    ) == [(0,)]


def test_mart_suite_asserts_no_score_below_k(fixture_run: CliRun) -> None:
    from orchestration.quality.gx_engine import Validator

    passed, _ = check_evaluation(
        fixture_run.dagster_home, ["marts", "enps_by_wave"], "enps_by_wave_suite"
    )
    assert passed
    with duckdb.connect(str(fixture_run.warehouse), read_only=True) as conn:
        frame = conn.execute("select * from marts.enps_by_wave").df()
    validator = Validator()
    assert validator.validate("enps_by_wave", frame, batch="real").success
    leaky = frame.copy()
    hidden = leaky.index[leaky["suppressed"]][0]
    leaky.loc[hidden, "enps"] = 50.0
    small = leaky.index[~leaky["suppressed"]][0]
    leaky.loc[small, "responses"] = 2
    result = validator.validate("enps_by_wave", leaky, batch="leaky")
    assert not result.success
    assert {o.key for o in result.failures()} >= {"suppressed_hides_enps", "no_score_below_k"}


def test_k_below_three_is_refused_at_compile_time(tmp_path: Path) -> None:
    def compile_with(variables: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                str(Path(sys.executable).parent / "dbt"),
                "compile",
                "--select",
                "enps_by_wave",
                "--vars",
                variables,
                "--target-path",
                str(tmp_path / "target"),
            ],
            cwd=REPO,
            env={
                **os.environ,
                "NPS_WAREHOUSE": str(tmp_path / "w.duckdb"),
                "DBT_PROFILES_DIR": str(REPO),
            },
            capture_output=True,
            text=True,
            timeout=300,
        )

    refused = compile_with("{enps_min_group_size: 2}")
    assert refused.returncode != 0
    assert "enps_min_group_size must be a whole number of at least 3" in refused.stdout
    refused = compile_with("{enps_min_group_size: 3, enps_min_comment_group_size: 2}")
    assert refused.returncode != 0
    assert "enps_min_comment_group_size must be a whole number of at least" in refused.stdout
    # (k = 4 compiles and builds: tests/test_enps_anonymity.py's random warehouse uses it)


# -- the demo data, end to end (the one extra real run) --------------------------------------


@pytest.mark.timeout(900)
def test_demo_enps_end_to_end(tmp_path: Path) -> None:
    """What `make run` does with the eNPS demo files (alone, to keep the run short)."""
    from orchestration.demo_enps import write_demo_enps

    landing = tmp_path / "landing"
    demo = write_demo_enps(landing, seed=3, end_date=date(2026, 10, 31))
    run = run_cli(landing, tmp_path / "warehouse.duckdb", tmp_path / "dagster_home")
    output = run.stdout + run.stderr
    # the eNPS part of the run is clean (other programs' checks are theirs to judge)
    assert f"Files loaded this run: {len(demo.files)} ({demo.rows} rows)" in run.stdout, output
    assert not [
        line
        for line in run.stdout.splitlines()
        if line.startswith(("CHECK FAILED", "STEP FAILED", "  FAILED")) and "enps" in line
    ], output
    warehouse = run.warehouse
    assert query(
        warehouse,
        "select count(*), sum(landed_rows), sum(accepted_rows), sum(duplicate_rows) "
        "from marts.enps_load_reconciliation",
    ) == [(len(demo.files), demo.rows, demo.expected_accepted, demo.expected_duplicates)]
    reasons = dict(
        query(
            warehouse,
            "select quarantine_reason, count(*) from people_restricted.enps_quarantine group by 1",
        )
    )
    assert reasons == {k: v for k, v in demo.expected_quarantined.items() if v}
    metadata = materialization_metadata(run.dagster_home, ["raw", "enps_responses"])
    assert set(metadata["dropped_identifier_columns"]) == set(demo.files_with_identifiers)
    assert query(
        warehouse,
        "select count(*) from raw.enps_responses as r where cast(r as varchar) like '%@%'",
    ) == [(0,)]
    for check in ("enps_by_wave_suite", "enps_marts_hold_no_response_rows"):
        assert check_evaluation(run.dagster_home, ["marts", "enps_by_wave"], check)[0], check
    waves = read_published(warehouse, "enps_by_wave", ("survey_wave",))
    assert sorted(w for (w,) in waves) == demo.waves
    # the tiny teams of the seed (3-4 people) are never shown
    assert query(
        warehouse,
        "select count(*) from marts.enps_by_wave where team in ('Partnerships', 'Controlling') "
        "and not suppressed",
    ) == [(0,)]
    assert_nothing_recovered(waves)
    assert_nothing_recovered(joint_publication(warehouse), wave_links(warehouse))
    languages = {
        lang for (lang,) in query(warehouse, "select distinct language from marts.enps_comments")
    }
    assert languages >= {"en", "nl", "pl", "es"}
