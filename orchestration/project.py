"""The dbt project as Dagster sees it. Kept in its own module so importing it is cheap."""

from __future__ import annotations

import fcntl
import filecmp
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject

from orchestration.settings import PROJECT_DIR

log = logging.getLogger(__name__)

PARTIAL_PARSE_FILE = "partial_parse.msgpack"
# parses kept per profile and vars, under the target folder
PARSES_DIR = "parses"
ENV_VAR_CALL = re.compile(r"""env_var\(\s*['"]([A-Za-z0-9_]+)['"]""")
# never hashed into a file name (dbt leaves them out of its profile comparison too)
SECRET_NAME = re.compile("PASSWORD|TOKEN|SECRET", re.IGNORECASE)
DBT_SOURCES = ("models", "macros", "seeds", "tests/dbt", "dbt_project.yml", "profiles.yml")
# in the target folder: held while a process checks the manifest and parses
PARSE_LOCK_FILE = ".parse.lock"
# a parse's own folder in the target folder, `<prefix>-<id>`, until its files are moved out
PARSE_FOLDER_PREFIX = ".parse"
# What `dbt parse` writes that is read from the target folder afterwards: the start of the next
# parse (and of plain `dbt` commands), MetricFlow's input, the parse's log. manifest.json last:
# a parse killed while moving leaves the previous (stale) manifest, so the next one parses again.
PARSE_ARTIFACTS = (
    PARTIAL_PARSE_FILE,
    "semantic_manifest.json",
    "perf_info.json",
    "dbt.log",
    "manifest.json",
)

# the dbt installed beside this Python, so it works without the virtualenv on PATH
DBT_EXECUTABLE = (
    str(Path(sys.executable).parent / "dbt")
    if (Path(sys.executable).parent / "dbt").exists()
    else (shutil.which("dbt") or "dbt")
)

nps_dbt_project = DbtProject(project_dir=PROJECT_DIR, profiles_dir=PROJECT_DIR)


class NpsDbtCliResource(DbtCliResource):
    """dagster-dbt's resource without the dbt adapter it builds in this process for every
    invocation. That handle only serves the metadata fetchers (`fetch_row_counts`,
    `fetch_column_metadata`), which this project does not use (its materializations' metadata
    come from `orchestration.monitoring.model_metadata`), and building it loads dbt's profile
    and project again: 1-3 s a dbt step, three steps a run. dbt itself runs in its own process
    as before."""

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:  # type: ignore[override]
        return None


def dbt_resource(project: DbtProject = nps_dbt_project) -> DbtCliResource:
    return NpsDbtCliResource(project_dir=project, dbt_executable=DBT_EXECUTABLE)


def manifest_is_stale(project: DbtProject = nps_dbt_project) -> bool:
    """True when manifest.json is missing, older than any file dbt parses, or not whole JSON."""
    manifest = Path(project.manifest_path)
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    for name in DBT_SOURCES:
        path = Path(project.project_dir) / name
        files = [path] if path.is_file() else (p for p in path.rglob("*") if p.is_file())
        if any(f.stat().st_mtime > built for f in files):
            return True
    # A manifest cut short (a parse killed while writing it in place: a plain `dbt` command, or
    # this module before it moved parses in whole) is newer than the sources and would otherwise
    # be trusted for good. Reading it takes ~20 ms here.
    try:
        with manifest.open("rb") as handle:
            json.load(handle)
    except (OSError, ValueError):
        log.warning("dbt manifest %s is unreadable: parsing again", manifest)
        return True
    return False


@contextmanager
def parse_lock(target: Path) -> Iterator[None]:
    """Hold the target folder's parse lock, waiting as long as another process's parse takes.
    The kernel releases it when the holder dies, so a parse killed half-way blocks nobody."""
    target.mkdir(parents=True, exist_ok=True)
    with (target / PARSE_LOCK_FILE).open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("waiting for another process's dbt parse in %s", target)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield  # closing the file releases the lock


def prepare_manifest(project: DbtProject = nps_dbt_project) -> None:
    """Parse once when the manifest is missing or stale (not in every process, as prepare_if_dev
    would under `dagster dev`), with the vars every run passes: other vars would make each run's
    dbt re-parse the whole project.

    One process parses at a time (two runs or test modules starting together would otherwise
    write the same target folder at once and leave a corrupt manifest), into a folder of its
    own whose files are then renamed into the target folder: readers see one manifest or the
    other, whole."""
    if not manifest_is_stale(project):
        return
    target = Path(project.project_dir) / project.target_path
    with parse_lock(target):
        # the process we waited for may have just parsed
        if manifest_is_stale(project):
            _parse_into(target, project)


def _parse_into(target: Path, project: DbtProject) -> None:
    from orchestration.partitions import dbt_vars_args

    # only the lock holder makes parse folders: any left are from parses killed half-way
    for leftover in target.glob(f"{PARSE_FOLDER_PREFIX}-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    log.info("dbt manifest missing or stale: running dbt parse")
    vars_args = dbt_vars_args()
    folder = invocation_target_path(PARSE_FOLDER_PREFIX, vars_args, project)
    previous = target / PARTIAL_PARSE_FILE
    if not (folder / PARTIAL_PARSE_FILE).is_file() and previous.is_file():
        # no parse kept for these inputs yet: start, as dbt would, from the last one made here
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(previous, folder / PARTIAL_PARSE_FILE)
    try:
        dbt_resource(project).cli(["parse", "--quiet", *vars_args], target_path=folder).wait()
    except Exception:
        # kept for its dbt.log until the next parse
        log.error("dbt parse failed: see %s", folder / "dbt.log")
        raise
    keep_parse(folder, vars_args, project)
    for name in PARSE_ARTIFACTS:
        if (folder / name).is_file():
            os.replace(folder / name, target / name)
    shutil.rmtree(folder, ignore_errors=True)


# dbt parses the whole project again, instead of only the files changed since the parse it
# starts from, when its `--vars` or its profile (warehouse path, DuckDB settings, target) differ
# from that parse's. A CLI run, a UI run, a test or a second deployment on another warehouse
# each start from a parse made with their own inputs, kept per inputs.


def parse_inputs_key(vars_args: list[str], project: DbtProject = nps_dbt_project) -> str:
    """The inputs dbt compares before reusing a parse: the environment variables the profile and
    dbt_project.yml read (secrets aside), and the vars."""
    root = Path(project.project_dir)
    text = "".join(
        (root / name).read_text()
        for name in ("profiles.yml", "dbt_project.yml")
        if (root / name).is_file()
    )
    names = sorted({n for n in ENV_VAR_CALL.findall(text) if not SECRET_NAME.search(n)})
    inputs = {"env": {name: os.environ.get(name) for name in names}, "vars": vars_args}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]


def kept_parse_path(vars_args: list[str], project: DbtProject = nps_dbt_project) -> Path:
    root = Path(project.project_dir) / project.target_path / PARSES_DIR
    return root / f"{parse_inputs_key(vars_args, project)}.msgpack"


def invocation_target_path(
    name: str, vars_args: list[str], project: DbtProject = nps_dbt_project
) -> Path:
    """A new target folder for one dbt invocation (as Dagster names them), holding the kept
    parse for these inputs when there is one (Dagster then copies no other)."""
    target = Path(project.project_dir) / project.target_path / f"{name}-{uuid.uuid4().hex[:7]}"
    kept = kept_parse_path(vars_args, project)
    if kept.is_file():
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(kept, target / PARTIAL_PARSE_FILE)
    return target


def keep_parse(
    invocation_target: Path, vars_args: list[str], project: DbtProject = nps_dbt_project
) -> None:
    """Keep an invocation's parse for the next invocations with the same inputs, when it parsed
    anew. Replaced by rename: concurrent processes read one parse or the other, whole."""
    produced = Path(invocation_target) / PARTIAL_PARSE_FILE
    kept = kept_parse_path(vars_args, project)
    if not produced.is_file() or (kept.is_file() and filecmp.cmp(produced, kept, shallow=False)):
        return
    kept.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=kept.parent, prefix=f".{kept.name}.")
    os.close(handle)
    try:
        shutil.copyfile(produced, temporary)
        os.chmod(temporary, 0o644)  # as dbt writes it (mkstemp: owner only)
        os.replace(temporary, kept)
    except OSError:
        log.warning("dbt's parse not kept for the next invocation", exc_info=True)
        Path(temporary).unlink(missing_ok=True)
