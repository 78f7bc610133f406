"""The Dagster code location loads and its asset graph is the one the README describes."""

from __future__ import annotations

import dagster as dg
import pytest

from orchestration.definitions import PIPELINE_JOB, defs

EXPECTED_ASSETS = {
    "raw/nps_responses": "raw",
    "raw/landing_manifest": "raw",
    "reference/branches": "reference",
    "reference/surveys": "reference",
    "staging/stg_survey__nps_responses": "staging",
    "staging/stg_survey__landing_manifest": "staging",
    "intermediate/int_nps_responses_validated": "intermediate",
    "intermediate/int_nps_responses_categorised": "intermediate",
    "marts/fct_nps_responses": "marts",
    "marts/nps_daily": "marts",
    "marts/nps_quarantine": "marts",
    "marts/nps_duplicates": "marts",
    "marts/nps_load_reconciliation": "marts",
}


@pytest.fixture(scope="module")
def graph():
    return defs.resolve_asset_graph()


def test_asset_keys_and_groups(graph) -> None:
    groups = {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert groups == EXPECTED_ASSETS


def test_every_asset_has_description_and_owner(graph) -> None:
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.description, key
        assert node.owners, key


def test_layers_flow_raw_to_marts(graph) -> None:
    def parents(name: str) -> set[str]:
        return {
            k.to_user_string() for k in graph.get(dg.AssetKey.from_user_string(name)).parent_keys
        }

    assert parents("staging/stg_survey__nps_responses") == {"raw/nps_responses"}
    assert "staging/stg_survey__nps_responses" in parents(
        "intermediate/int_nps_responses_validated"
    )
    assert parents("marts/fct_nps_responses") == {"intermediate/int_nps_responses_categorised"}
    assert parents("marts/nps_daily") == {"marts/fct_nps_responses"}


def test_checks_on_raw_and_marts(graph) -> None:
    checks = {c.to_user_string() for c in graph.asset_check_keys}
    assert "raw/nps_responses:landing_files_readable" in checks
    assert "raw/nps_responses:raw_nps_responses_suite" in checks
    assert "marts/fct_nps_responses:unregistered_reference_ids" in checks
    # dbt's data tests arrive as asset checks
    assert any(c.startswith("marts/nps_load_reconciliation:expression_is_true") for c in checks)


def test_pipeline_job_runs_in_process(graph) -> None:
    job = defs.resolve_job_def(PIPELINE_JOB)
    assert job.executor_def.name == "in_process"
