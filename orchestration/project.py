"""The dbt project as Dagster sees it. Kept in its own module so importing it is cheap."""

from __future__ import annotations

import filecmp
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject

from orchestration.settings import PROJECT_DIR

log = logging.getLogger(__name__)

PARTIAL_PARSE_FILE = "partial_parse.msgpack"
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
    would under `dagster dev`), with the vars every run passes: other vars would make each run's
    dbt re-parse the whole project."""
    from orchestration.partitions import dbt_vars_args

    if manifest_is_stale(project):
        log.info("dbt manifest missing or stale: running dbt parse")
        dbt_resource(project).cli(
            ["parse", "--quiet", *dbt_vars_args()], target_path=project.target_path
        ).wait()


def partial_parse_path(project: DbtProject = nps_dbt_project) -> Path:
    """The parse every dbt invocation starts from (Dagster copies it into the invocation's own
    target folder; dbt re-parses only the files changed since)."""
    return Path(project.project_dir) / project.target_path / PARTIAL_PARSE_FILE


def keep_partial_parse(invocation_target: Path, project: DbtProject = nps_dbt_project) -> None:
    """Make an invocation's parse the one the next invocations start from, when it parsed anew.

    dbt parses the whole project again when the profile differs from the parse it starts from
    (the warehouse path and the DuckDB settings are part of it): the first invocation with
    another warehouse (a test's, a second deployment's) pays that once, not every invocation
    after it. The file is replaced by rename: concurrent processes read one parse or the other."""
    produced = Path(invocation_target) / PARTIAL_PARSE_FILE
    kept = partial_parse_path(project)
    if not produced.is_file() or (kept.is_file() and filecmp.cmp(produced, kept, shallow=False)):
        return
    kept.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=kept.parent, prefix=f".{PARTIAL_PARSE_FILE}.")
    os.close(handle)
    try:
        shutil.copyfile(produced, temporary)
        os.replace(temporary, kept)
    except OSError:
        log.warning("dbt's parse not kept for the next invocation", exc_info=True)
        Path(temporary).unlink(missing_ok=True)
