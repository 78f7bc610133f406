"""The dbt semantic layer: `mf query` (MetricFlow's CLI, run as a subprocess) returns the numbers
of marts.nps_by_period on the fixture warehouse of the shared pipeline run."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.conftest import REPO, CliRun

BIN = Path(sys.executable).parent
# top-level entries the dbt project does not need (environments, outputs, Python code, tests)
NOT_DBT = {"target", "logs", "data", "reports", "dbt_packages", "orchestration", "tests", "uv.lock"}
METRICS = [
    "nps",
    "responses",
    "promoters",
    "passives",
    "detractors",
    "promoter_share",
    "passive_share",
    "detractor_share",
    "nps_variance",
    "nps_standard_error",
]


@pytest.fixture(scope="module")
def mf_project(fixture_run: CliRun, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A private copy of the dbt project (mf reads <project>/target/semantic_manifest.json, and
    the shared target/ belongs to the pipeline) and of the fixture warehouse (no lock sharing)."""
    root = tmp_path_factory.mktemp("semantic_layer")
    project = root / "project"
    project.mkdir()
    for entry in REPO.iterdir():
        if entry.name in NOT_DBT or entry.name.startswith("."):
            continue
        if entry.is_dir():
            shutil.copytree(entry, project / entry.name)
        else:
            shutil.copy(entry, project / entry.name)
    shutil.copytree(REPO / "tests" / "dbt", project / "tests" / "dbt")
    warehouse = root / "warehouse.duckdb"
    shutil.copy(fixture_run.warehouse, warehouse)
    # mf has no --target option: the profile's target comes from DBT_TARGET
    env = {**os.environ, "NPS_WAREHOUSE": str(warehouse), "DBT_TARGET": "duckdb"}
    env.pop("DBT_PROFILES_DIR", None)
    env.pop("DBT_PROJECT_DIR", None)
    parsed = subprocess.run(
        [str(BIN / "dbt"), "parse", "--quiet", "--profiles-dir", "."],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert parsed.returncode == 0, parsed.stdout + parsed.stderr
    assert (project / "target" / "semantic_manifest.json").exists()
    return project, env


def mf_query(project: Path, env: dict, metrics: list[str], group_by: str) -> list[dict]:
    out = project / f"mf_{len(metrics)}.csv"
    completed = subprocess.run(
        [
            str(BIN / "mf"),
            "query",
            "--metrics",
            ",".join(metrics),
            "--group-by",
            group_by,
            "--csv",
            str(out),
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    with out.open(newline="") as handle:
        return list(csv.DictReader(handle))


def by_period(project_env: dict) -> dict[tuple[str, str], dict]:
    columns = ", ".join(METRICS)
    with duckdb.connect(project_env["NPS_WAREHOUSE"], read_only=True) as conn:
        cursor = conn.execute(
            f"select cast(period_start as varchar) as month, region, {columns} "
            "from marts.nps_by_period where period_type = 'month' "
            "and hierarchy_level = 'region' and segment_type = 'all'"
        )
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return {(row["month"], row["region"]): row for row in rows}


def test_issue_query_matches_nps_by_period(mf_project: tuple[Path, dict]) -> None:
    project, env = mf_project
    # the exact query of the issue
    rows = mf_query(project, env, ["nps"], "metric_time__month,region")
    expected = by_period(env)
    assert len(expected) >= 2
    got = {(row["metric_time__month"][:10], row["region"]): float(row["nps"]) for row in rows}
    assert got.keys() == expected.keys()
    for key, value in got.items():
        assert value == pytest.approx(expected[key]["nps"], abs=1e-9), key


def test_every_metric_matches_nps_by_period(mf_project: tuple[Path, dict]) -> None:
    project, env = mf_project
    rows = mf_query(project, env, METRICS, "metric_time__month,region")
    expected = by_period(env)
    assert len(rows) == len(expected)
    for row in rows:
        mart = expected[(row["metric_time__month"][:10], row["region"])]
        for metric in METRICS:
            assert float(row[metric]) == pytest.approx(float(mart[metric]), abs=1e-9), metric
