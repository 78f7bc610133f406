"""The nps_rolling suite validates only the rows its incremental model rebuilt since the suite
last passed, and stays blocking: a blocked run's bad rows fail again until a validation passes.

Real Dagster runs of the real check (expectations/nps_rolling.json through GX) on a DuckDB file.
A stand-in upstream asset plays the dbt model: it rewrites the mart's days from a first day on
and logs that day as the model's hooks do (macros/nps_incremental.sql, step 5;
tests/test_incremental.py checks what real dbt runs log)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.engines import DuckDBEngine
from orchestration.quality.gx_engine import load_suite_definition
from orchestration.quality.mart_checks import build_suite_checks
from orchestration.quality.rebuilt_rows import record_pass, validation_scope
from orchestration.resources import WarehouseResource
from tests.build_logs import create_build_logs, log_build

NPS_ROLLING = dg.AssetKey(["marts", "nps_rolling"])
PUBLISHED = "serving/published_marts"
FIRST_DAY = date(2025, 3, 1)
DAYS = 10
SEGMENTS = ("north", "south")
# a clean row's statistics (nps 20 inside its intervals), and an nps out of bounds
CLEAN = (5, 2, 3, 20.0, 0.76, -20.0, 60.0, -15.0, 55.0, False, 20.0, 0.5, 0.2, 0.3)
COLUMNS = (
    "promoters, passives, detractors, nps, nps_variance, nps_ci_lower, nps_ci_upper, "
    "nps_adjusted_ci_lower, nps_adjusted_ci_upper, is_low_sample, nps_standard_error, "
    "promoter_share, passive_share, detractor_share"
)


def day(index: int) -> date:
    return FIRST_DAY + timedelta(days=index)


class StandInModel:
    """Writes marts.nps_rolling and the model's logs like one dbt run of it."""

    def __init__(self, warehouse: Path) -> None:
        self.warehouse = warehouse
        self.runs = 0

    def build(self, first_day: date | None, bad_day: date | None = None, days: int = DAYS) -> None:
        """Rewrite the days from `first_day` on (None: a full build); `bad_day`'s first row
        gets an nps of 150."""
        self.runs += 1
        processed_at = datetime(2025, 4, 1, tzinfo=UTC) + timedelta(hours=self.runs)
        with duckdb.connect(str(self.warehouse)) as conn:
            create_build_logs(conn)
            values = ", ".join("?" for _ in CLEAN)
            if first_day is None:
                conn.execute("drop table if exists marts.nps_rolling")
                conn.execute(
                    f"create table marts.nps_rolling as select * from (values "
                    f"(date '2000-01-01', 'x', {values})) as v(calendar_date, region, {COLUMNS}) "
                    "where false",
                    list(CLEAN),
                )
            else:
                conn.execute("delete from marts.nps_rolling where calendar_date >= ?", [first_day])
            start = 0 if first_day is None else (first_day - FIRST_DAY).days
            for index in range(start, days):
                for region in SEGMENTS:
                    row = list(CLEAN)
                    if day(index) == bad_day and region == SEGMENTS[0]:
                        row[3] = 150.0
                    conn.execute(
                        f"insert into marts.nps_rolling values (?, ?, {values})",
                        [day(index), region, *row],
                    )
            log_build(conn, "nps_rolling", first_day, processed_at)


def run_check(instance: dg.DagsterInstance, warehouse: Path, build) -> dg.ExecuteInProcessResult:
    @dg.asset(key=NPS_ROLLING)
    def nps_rolling() -> None:
        build()

    @dg.asset(deps=[NPS_ROLLING], key=dg.AssetKey.from_user_string(PUBLISHED))
    def published() -> None:
        pass

    definitions = dg.Definitions(
        assets=[nps_rolling, published],
        asset_checks=build_suite_checks([NPS_ROLLING]),
        resources={"warehouse": WarehouseResource(path=str(warehouse))},
    )
    job = definitions.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(instance=instance, raise_on_error=False)


def outcome(result: dg.ExecuteInProcessResult) -> dict:
    (evaluation,) = result.get_asset_check_evaluations()
    metadata = {k: v.value for k, v in evaluation.metadata.items()}
    published = PUBLISHED in {
        e.event_specific_data.materialization.asset_key.to_user_string()
        for e in result.get_asset_materialization_events()
    }
    return {
        "passed": evaluation.passed,
        "rows": metadata["rows"],
        "failing": metadata["failing_counts"],
        "published": published,
        "scope": metadata["validated_rows"]["rows_in_scope"],
    }


def test_only_rebuilt_rows_are_validated_and_a_blocked_run_stays_blocked(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    model = StandInModel(warehouse)
    per_day = len(SEGMENTS)
    with dg.instance_for_test() as instance:
        # a full build: every row, clean
        first = outcome(run_check(instance, warehouse, lambda: model.build(None)))
        assert first == {
            "passed": True,
            "rows": DAYS * per_day,
            "failing": {},
            "published": True,
            "scope": "every row",
        }

        # a late file rebuilds from an old day (the 3rd) on; a bad row on the 4th is caught
        late = outcome(run_check(instance, warehouse, lambda: model.build(day(2), day(3))))
        assert (late["passed"], late["published"]) == (False, False)
        assert late["failing"] == {
            "nps_within_bounds": 1,
            "nps_at_most_ci_upper": 1,
            "nps_at_most_adjusted_ci_upper": 1,
        }
        assert late["rows"] == (DAYS - 2) * per_day
        assert late["scope"] == "\"calendar_date\" >= cast('2025-03-03' as date)"

        # the next run rebuilds only a new day: the blocked run's bad row fails again
        new_day = outcome(
            run_check(instance, warehouse, lambda: model.build(day(DAYS), days=DAYS + 1))
        )
        assert (new_day["passed"], new_day["published"]) == (False, False)
        assert new_day["failing"]["nps_within_bounds"] == 1
        assert new_day["rows"] == (DAYS + 1 - 2) * per_day

        # repaired from the 4th on: the rows since the last pass are validated and pass
        repaired = outcome(
            run_check(instance, warehouse, lambda: model.build(day(3), days=DAYS + 1))
        )
        assert (repaired["passed"], repaired["published"]) == (True, True)
        assert repaired["rows"] == (DAYS + 1 - 2) * per_day

        # a run that rebuilt nothing (its first day is after the last one) reads no old row
        no_op = outcome(
            run_check(instance, warehouse, lambda: model.build(day(DAYS + 1), days=DAYS + 1))
        )
        assert (no_op["passed"], no_op["published"], no_op["rows"]) == (True, True, 0)

        # a full build validates every row again
        full = outcome(run_check(instance, warehouse, lambda: model.build(None)))
        assert (full["passed"], full["rows"], full["scope"]) == (True, DAYS * per_day, "every row")


@pytest.fixture
def passed_warehouse(tmp_path: Path) -> tuple[DuckDBEngine, StandInModel]:
    """A full build whose validation passed, then a build from the 6th day on."""
    warehouse = tmp_path / "scope.duckdb"
    model = StandInModel(warehouse)
    model.build(None)
    engine = DuckDBEngine(warehouse)
    definition = load_suite_definition("nps_rolling")
    scope = validation_scope(engine, "marts", "nps_rolling", "nps_rolling", definition)
    assert scope.every_row and scope.reason == "no passing validation recorded"
    assert record_pass(engine, scope, "nps_rolling", "nps_rolling", DAYS * len(SEGMENTS))
    model.build(day(5))
    return engine, model


def scope_of(engine: DuckDBEngine, definition: dict | None = None, parameters=None):
    definition = definition or load_suite_definition("nps_rolling")
    return validation_scope(engine, "marts", "nps_rolling", "nps_rolling", definition, parameters)


def test_the_scope_starts_at_the_first_rebuilt_day(passed_warehouse) -> None:
    engine, _ = passed_warehouse
    scope = scope_of(engine)
    assert (scope.where, scope.first_day) == (
        "\"calendar_date\" >= cast('2025-03-06' as date)",
        day(5),
    )


def test_an_unknown_state_validates_every_row(passed_warehouse) -> None:
    engine, _ = passed_warehouse
    definition = load_suite_definition("nps_rolling")
    # the suite changed since it passed
    changed = {**definition, "expectations": definition["expectations"][:-1]}
    assert scope_of(engine, changed).every_row
    # runtime parameters are part of what passed
    assert scope_of(engine, parameters={"cutoff": "2025-01-01"}).every_row
    # a suite with an expectation on the whole table is never scoped
    whole = {
        **definition,
        "expectations": [
            *definition["expectations"],
            {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}},
        ],
    }
    assert scope_of(engine, whole).reason == "the suite has expectations on the whole table"
    # a build of the model that logged no first day (e.g. an older version of the model)
    with duckdb.connect(str(engine.path)) as conn:
        conn.execute(
            "insert into intermediate.nps_incremental_state "
            "values ('nps_rolling', timestamptz '2025-05-01 00:00:00+00')"
        )
    assert scope_of(engine).every_row


FACTS = dg.AssetKey(["marts", "fct_nps_responses"])


class StandInFacts:
    """Writes marts.fct_nps_responses (two responses a day) and the model's logs like one dbt
    run of it: the days from a first day on."""

    def __init__(self, warehouse: Path, days: int, age_days: int = 0) -> None:
        """`days` days of responses, the newest `age_days` old."""
        self.warehouse = warehouse
        self.first = datetime.now(UTC).date() - timedelta(days=days - 1 + age_days)
        self.runs = 0

    def day(self, index: int) -> date:
        return self.first + timedelta(days=index)

    def build(self, first_day: date | None, days: int, bad_day: date | None = None) -> None:
        """Rewrite the days from `first_day` on, up to `days` days (None: a full build); a
        score of 11 on `bad_day`. A first day after the newest one rewrites nothing."""
        self.runs += 1
        processed_at = datetime.now(UTC) + timedelta(seconds=self.runs)
        with duckdb.connect(str(self.warehouse)) as conn:
            create_build_logs(conn)
            if first_day is None:
                conn.execute(
                    "create or replace table marts.fct_nps_responses "
                    "(response_id varchar, response_date date, submitted_at timestamptz, "
                    "score integer)"
                )
            else:
                conn.execute(
                    "delete from marts.fct_nps_responses where response_date >= ?", [first_day]
                )
            for index in range(days):
                if first_day is not None and self.day(index) < first_day:
                    continue
                for hour in (8, 9):
                    submitted = datetime.combine(self.day(index), datetime.min.time(), UTC)
                    conn.execute(
                        "insert into marts.fct_nps_responses values (?, ?, ?, ?)",
                        [
                            f"r{index}-{hour}",
                            self.day(index),
                            submitted + timedelta(hours=hour),
                            11 if self.day(index) == bad_day and hour == 8 else 7,
                        ],
                    )
            log_build(conn, "fct_nps_responses", first_day, processed_at)


def run_facts_check(
    instance: dg.DagsterInstance, warehouse: Path, build
) -> dg.ExecuteInProcessResult:
    @dg.asset(key=FACTS)
    def fct_nps_responses() -> None:
        build()

    definitions = dg.Definitions(
        assets=[fct_nps_responses],
        asset_checks=build_suite_checks([FACTS]),
        resources={"warehouse": WarehouseResource(path=str(warehouse))},
    )
    job = definitions.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(instance=instance, raise_on_error=False)


def run_check_facts(
    instance: dg.DagsterInstance,
    warehouse: Path,
    facts: StandInFacts,
    first_day: date | None,
    days: int,
    bad_day: date | None = None,
) -> dg.ExecuteInProcessResult:
    return run_facts_check(instance, warehouse, lambda: facts.build(first_day, days, bad_day))


def facts_outcome(result: dg.ExecuteInProcessResult) -> dict:
    (evaluation,) = result.get_asset_check_evaluations()
    metadata = {k: v.value for k, v in evaluation.metadata.items()}
    outcomes = {o["key"]: o for o in metadata["outcomes"]}
    return {
        "passed": evaluation.passed,
        "rows": metadata["rows"],
        "scope": metadata["validated_rows"]["rows_in_scope"],
        "reason": metadata["validated_rows"]["reason"],
        "newest": str(outcomes["newest_response_fresh"]["observed_value"]),
        "score_failures": outcomes["score_within_0_10"]["unexpected_count"],
    }


def test_the_facts_suite_reads_the_rebuilt_days_and_judges_freshness_on_the_whole_table(
    tmp_path: Path,
) -> None:
    """fct_nps_responses' suite: a score range (row by row) and the newest submitted_at at
    least a cutoff (on the whole table, but passing on any of its rows means passing)."""
    warehouse = tmp_path / "warehouse.duckdb"
    days = 5
    facts = StandInFacts(warehouse, days)
    newest = facts.day(days - 1).isoformat()
    with dg.instance_for_test() as instance:
        full = facts_outcome(run_check_facts(instance, warehouse, facts, None, days))
        assert (full["passed"], full["rows"], full["scope"]) == (True, 2 * days, "every row")
        assert full["newest"].startswith(f"{newest}") and "09:00:00" in full["newest"]

        # a late file rewrites the 4th day: its rows and the newest day's are read, and the
        # newest submitted_at among them is the table's
        late = facts_outcome(run_check_facts(instance, warehouse, facts, facts.day(3), days))
        assert (late["passed"], late["rows"]) == (True, 4), late
        assert late["scope"] == f"\"response_date\" >= cast('{facts.day(3)}' as date)"
        assert late["newest"] == full["newest"]

        # a run that rewrote no day (it logs a first day after the data): no rebuilt row holds
        # a fresh response, so the freshness is judged on every row, and passes
        none = facts_outcome(run_check_facts(instance, warehouse, facts, date(9999, 12, 31), days))
        assert (none["passed"], none["rows"], none["scope"]) == (True, 2 * days, "every row")
        assert "failed on those rows alone" in none["reason"]
        assert none["newest"] == full["newest"]

        # a bad score on a new day fails on the rebuilt rows; no fallback is needed to see it
        bad_day = facts.day(days)
        bad = facts_outcome(run_check_facts(instance, warehouse, facts, bad_day, days + 1, bad_day))
        assert (bad["passed"], bad["rows"], bad["score_failures"]) == (False, 2, 1)


def test_a_stale_feed_is_judged_on_the_rebuilt_rows_when_they_hold_the_newest_response(
    tmp_path: Path,
) -> None:
    """The freshness fails on the whole table and on the rebuilt rows alike when those hold the
    table's newest submitted_at (checked in SQL): no second read of every row, and the rows'
    own expectations passing is recorded, so the next run reads its new rows only."""
    warehouse = tmp_path / "warehouse.duckdb"
    days = 5
    facts = StandInFacts(warehouse, days, age_days=10)  # older than the 72-hour cutoff
    with dg.instance_for_test() as instance:
        full = facts_outcome(run_check_facts(instance, warehouse, facts, None, days))
        assert (full["passed"], full["rows"], full["scope"]) == (False, 2 * days, "every row")
        assert full["score_failures"] == 0

        new_day = facts_outcome(
            run_check_facts(instance, warehouse, facts, facts.day(days), days + 1)
        )
        assert (new_day["passed"], new_day["rows"]) == (False, 2)
        assert new_day["scope"] == f"\"response_date\" >= cast('{facts.day(days)}' as date)"
        assert "failed on those rows alone" not in new_day["reason"]
        assert new_day["newest"].startswith(facts.day(days).isoformat())

        # nothing rewritten: the rows in scope hold no submitted_at, every row is read
        none = facts_outcome(
            run_check_facts(instance, warehouse, facts, date(9999, 12, 31), days + 1)
        )
        assert (none["passed"], none["rows"], none["scope"]) == (False, 2 * (days + 1), "every row")
        assert "failed on those rows alone" in none["reason"]
