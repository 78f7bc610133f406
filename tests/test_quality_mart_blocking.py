"""The eNPS anonymity suites and the NPS marts' range suites are blocking asset checks: dbt no
longer tests their rules a second time, so a failing suite must stop what is built from the
mart (publishing, the report).

A real Dagster run of the real check (expectations/enps_by_wave.json through GX) on a mart
written to a DuckDB file by a stand-in upstream asset, with a stand-in downstream asset."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.definitions import defs
from orchestration.quality.mart_checks import build_suite_checks, model_suites
from orchestration.resources import WarehouseResource

ENPS_BY_WAVE = dg.AssetKey(["marts", "enps_by_wave"])
NUMBERS = [
    "responses",
    "promoters",
    "passives",
    "detractors",
    "enps",
    "enps_standard_error",
    "enps_ci_lower",
    "enps_ci_upper",
    "participation_rate",
    "previous_enps",
    "enps_change",
    "enps_change_z",
]


def test_suites_whose_rules_dbt_no_longer_tests_block() -> None:
    blocking = {
        suite for suite, definition in model_suites().items() if definition["meta"].get("blocking")
    }
    # anonymity (eNPS) and the ranges and intervals of the NPS marts and facts
    assert blocking == {
        "enps_by_wave",
        "enps_rolling",
        "fct_nps_responses",
        "nps_daily",
        "nps_by_period",
        "nps_rolling",
    }
    for check in defs.asset_checks or []:
        for spec in getattr(check, "check_specs", []):
            assert spec.blocking == (spec.name in {f"{s}_suite" for s in blocking}), spec.name


def run_with_mart(tmp_path: Path, leaky: bool) -> dg.ExecuteInProcessResult:
    warehouse = tmp_path / f"{'leaky' if leaky else 'clean'}.duckdb"

    @dg.asset(key=ENPS_BY_WAVE)
    def enps_by_wave() -> None:
        with duckdb.connect(str(warehouse)) as conn:
            conn.execute("create schema marts")
            numbers = ", ".join(f"{c} double" for c in NUMBERS)
            conn.execute(
                f"create table marts.enps_by_wave (suppressed boolean, min_group_size integer, "
                f"{numbers}, significant_change boolean)"
            )
            visible = [6, 3, 2, 1, 33.3, 20.0, -5.0, 70.0, 0.5, 10.0, 23.3, 0.9]
            conn.execute(
                f"insert into marts.enps_by_wave values (false, 5, "
                f"{', '.join(map(str, visible))}, false)"
            )
            # a suppressed group: a leak shows its score
            hidden = ["null"] * len(NUMBERS)
            if leaky:
                hidden[NUMBERS.index("enps")] = "50.0"
            conn.execute(
                f"insert into marts.enps_by_wave values (true, 5, {', '.join(hidden)}, null)"
            )

    @dg.asset(deps=[ENPS_BY_WAVE], key=dg.AssetKey(["serving", "published_marts"]))
    def published() -> None:
        pass

    definitions = dg.Definitions(
        assets=[enps_by_wave, published],
        asset_checks=build_suite_checks([ENPS_BY_WAVE]),
        resources={"warehouse": WarehouseResource(path=str(warehouse))},
    )
    job = definitions.resolve_implicit_global_asset_job_def()
    with dg.instance_for_test() as instance:
        return job.execute_in_process(instance=instance, raise_on_error=False)


def materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    return {
        e.event_specific_data.materialization.asset_key.to_user_string()
        for e in result.get_asset_materialization_events()
    }


@pytest.mark.parametrize("leaky", [False, True])
def test_a_leaky_mart_stops_what_is_built_from_it(tmp_path: Path, leaky: bool) -> None:
    result = run_with_mart(tmp_path, leaky)
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.passed is not leaky
    if leaky:
        assert evaluation.severity == dg.AssetCheckSeverity.ERROR
        assert evaluation.metadata["failing_counts"].value["suppressed_hides_enps"] == 1
        assert materialized(result) == {"marts/enps_by_wave"}  # not published
    else:
        assert materialized(result) == {"marts/enps_by_wave", "serving/published_marts"}


NPS_BY_PERIOD = dg.AssetKey(["marts", "nps_by_period"])


def test_an_nps_outside_its_interval_stops_publishing(tmp_path: Path) -> None:
    """The interval rule left dbt for the GX suite: its failure still stops publishing."""
    warehouse = tmp_path / "interval.duckdb"

    @dg.asset(key=NPS_BY_PERIOD)
    def nps_by_period() -> None:
        with duckdb.connect(str(warehouse)) as conn:
            conn.execute("create schema marts")
            # nps 70 above its Wald interval [-20, 60] (a sign or z-score slip)
            conn.execute(
                "create table marts.nps_by_period as select 10 as responses, 70.0::double as nps, "
                "-20.0::double as nps_ci_lower, 60.0::double as nps_ci_upper, "
                "-15.0::double as nps_adjusted_ci_lower, 75.0::double as nps_adjusted_ci_upper, "
                "false as is_low_sample, 0.2::double as nps_variance, "
                "14.0::double as nps_standard_error, 0.8::double as promoter_share, "
                "0.1::double as passive_share, 0.1::double as detractor_share"
            )

    @dg.asset(deps=[NPS_BY_PERIOD], key=dg.AssetKey(["serving", "published_marts"]))
    def published() -> None:
        pass

    definitions = dg.Definitions(
        assets=[nps_by_period, published],
        asset_checks=build_suite_checks([NPS_BY_PERIOD]),
        resources={"warehouse": WarehouseResource(path=str(warehouse))},
    )
    job = definitions.resolve_implicit_global_asset_job_def()
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False)
    (evaluation,) = result.get_asset_check_evaluations()
    assert (evaluation.passed, evaluation.severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert evaluation.metadata["failing_counts"].value == {"nps_at_most_ci_upper": 1}
    assert materialized(result) == {"marts/nps_by_period"}  # not published
