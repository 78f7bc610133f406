"""The dbt project as Dagster sees it. Kept in its own module so importing it is cheap."""

from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject

from orchestration.settings import PROJECT_DIR

log = logging.getLogger(__name__)

DBT_SOURCES = ("models", "macros", "seeds", "tests/dbt", "dbt_project.yml", "profiles.yml")

# the dbt installed beside this Python, so it works without the virtualenv on PATH
DBT_EXECUTABLE = (
    str(Path(sys.executable).parent / "dbt")
    if (Path(sys.executable).parent / "dbt").exists()
    else (shutil.which("dbt") or "dbt")
)

nps_dbt_project = DbtProject(project_dir=PROJECT_DIR, profiles_dir=PROJECT_DIR)


def dbt_resource(project: DbtProject = nps_dbt_project) -> DbtCliResource:
    return DbtCliResource(project_dir=project, dbt_executable=DBT_EXECUTABLE)


def manifest_is_stale(project: DbtProject = nps_dbt_project) -> bool:
    """True when manifest.json is missing or older than any file dbt parses."""
    manifest = Path(project.manifest_path)
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    for name in DBT_SOURCES:
        path = Path(project.project_dir) / name
        files = [path] if path.is_file() else (p for p in path.rglob("*") if p.is_file())
        if any(f.stat().st_mtime > built for f in files):
            return True
    return False


def prepare_manifest(project: DbtProject = nps_dbt_project) -> None:
    """Parse once when the manifest is missing or stale (not in every process, as prepare_if_dev
    would under `dagster dev`)."""
    if manifest_is_stale(project):
        log.info("dbt manifest missing or stale: running dbt parse")
        dbt_resource(project).cli(["parse", "--quiet"], target_path=project.target_path).wait()
