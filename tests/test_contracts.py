"""Mart schemas are contracts: every published mart enforces a dbt model contract, and a breaking
column change (renamed or retyped) fails the build instead of a dashboard."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import yaml

from tests.conftest import REPO, CliRun

PROJECT_PARTS = ("models", "macros", "seeds", "tests/dbt", "dbt_project.yml", "profiles.yml")
# type names every engine reads (see README "Mart contracts")
PORTABLE_TYPES = {
    "text",
    "bigint",
    "integer",
    "double precision",
    "boolean",
    "date",
    "timestamptz",
}


def _published_marts(warehouse: Path) -> set[str]:
    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        return {
            name
            for (name,) in conn.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'marts' and table_type = 'BASE TABLE'"
            ).fetchall()
        }
    finally:
        conn.close()


ENFORCED_BUT_ON_SPARK = "{{ target.type != 'spark' }}"


def _model_yaml() -> dict[str, dict]:
    models = {}
    for path in (REPO / "models").rglob("_*__models.yml"):
        for model in yaml.safe_load(path.read_text(encoding="utf-8")).get("models") or ():
            models[model["name"]] = model
    return models


def test_every_published_mart_enforces_a_contract(fixture_run: CliRun) -> None:
    published = _published_marts(fixture_run.warehouse)
    assert {"fct_nps_responses", "nps_daily", "followup_sla", "enps_by_wave"} <= published
    models = _model_yaml()
    for mart in sorted(published):
        model = models[mart]
        enforced = (model.get("config") or {}).get("contract", {}).get("enforced")
        # enforced on every engine but Spark, whose type names differ (README "Mart contracts")
        assert enforced in (True, ENFORCED_BUT_ON_SPARK), mart
        for column in model["columns"]:
            assert column.get("data_type") in PORTABLE_TYPES, (mart, column["name"])


def _project_copy(root: Path) -> Path:
    project = root / "project"
    for part in PROJECT_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, project / part)
        else:
            (project / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, project / part)
    return project


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, (path, old)
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_breaking_column_changes_fail_the_build(fixture_run: CliRun, tmp_path: Path) -> None:
    project = _project_copy(tmp_path)
    marts = project / "models" / "marts"
    # retyped: responses becomes a 32-bit integer (was bigint)
    _edit(
        marts / "customer" / "nps_daily.sql",
        "count(*) as responses,",
        "cast(count(*) as integer) as responses,",
    )
    # renamed: share_contacted -> share_contacted_pct
    _edit(
        marts / "voice" / "followup_sla.sql",
        "as share_contacted\n",
        "as share_contacted_pct\n",
    )
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy2(fixture_run.warehouse, warehouse)
    env = {
        **os.environ,
        "NPS_WAREHOUSE": str(warehouse),
        "DBT_TARGET": "duckdb",
        "NPS_LANDING_DIR": str(fixture_run.landing),
    }
    completed = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "run"]
        + ["--select", "nps_daily", "followup_sla", "nps_quarantine"]
        + ["--project-dir", str(project), "--profiles-dir", str(project)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = completed.stdout
    assert completed.returncode != 0, out[-3000:]
    # each changed mart fails on its contract; the unchanged one still builds
    for model, column in (("nps_daily", "responses"), ("followup_sla", "share_contacted")):
        failure = re.search(
            rf"Compilation Error in model {model} .*?This model has an enforced contract that "
            r"failed\.(.*?)(?:\n\S|\Z)",
            out,
            re.S,
        )
        assert failure, out[-4000:]
        assert column in failure.group(1), failure.group(1)
    assert re.search(r"PASS=1 .*ERROR=2", out), out[-2000:]
    # the published tables keep their old columns: the failed models replaced nothing
    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        types = dict(
            conn.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'marts' and table_name = 'nps_daily'"
            ).fetchall()
        )
    finally:
        conn.close()
    assert types["responses"] == "BIGINT"
