"""`prepare_manifest` parses once when several processes find the manifest stale together, and
never leaves them a manifest cut short: real `dbt parse` runs on a scratch copy of the project."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from dagster_dbt import DbtProject

from orchestration.project import (
    DBT_SOURCES,
    PARSE_FOLDER_PREFIX,
    PARSES_DIR,
    manifest_is_stale,
    prepare_manifest,
)
from orchestration.settings import WAREHOUSE_ENV
from tests.conftest import REPO

PARSE_LOG_LINE = "running dbt parse"
# would point dbt at another project or target folder than the scratch one
DBT_LOCATION_VARS = ("DBT_PROFILES_DIR", "DBT_PROJECT_DIR", "DBT_TARGET_PATH", "DBT_LOG_PATH")
# Each child imports the project module (a few seconds), says it is ready, waits for the
# others, then prepares the manifest and prints when that call started and ended.
CHILD = """
import logging, sys, time
from pathlib import Path
from dagster_dbt import DbtProject
from orchestration.project import prepare_manifest

logging.basicConfig(level=logging.INFO, stream=sys.stderr)
root, ready, go = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
project = DbtProject(project_dir=root, profiles_dir=root)
ready.touch()
while not go.exists():
    time.sleep(0.01)
started = time.time()
prepare_manifest(project)
print(started, time.time())
"""


@dataclass
class Child:
    returncode: int
    stdout: str
    stderr: str

    @property
    def window(self) -> tuple[float, float]:
        started, ended = self.stdout.split()
        return float(started), float(ended)


@dataclass
class ConcurrentParse:
    project: DbtProject
    children: list[Child]


def scratch_project(root: Path) -> DbtProject:
    """What dbt parses, without the shared target folder (or any manifest yet)."""
    root.mkdir()
    for name in DBT_SOURCES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name)
        else:
            shutil.copy(source, root / name)
    return DbtProject(project_dir=root, profiles_dir=root)


def child_env(root: Path) -> dict[str, str]:
    env = {**os.environ, WAREHOUSE_ENV: str(root / "warehouse.duckdb")}
    for name in DBT_LOCATION_VARS:
        env.pop(name, None)
    return env


@pytest.fixture(scope="module")
def concurrent_parse(tmp_path_factory: pytest.TempPathFactory) -> ConcurrentParse:
    """Two processes calling prepare_manifest at the same moment on a project never parsed."""
    base = tmp_path_factory.mktemp("parse_lock")
    root = base / "project"
    project = scratch_project(root)
    env = child_env(root)
    go = base / "go"
    ready = [base / f"ready-{index}" for index in range(2)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(root), str(flag), str(go)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for flag in ready
    ]
    try:
        deadline = time.monotonic() + 120
        while not all(flag.exists() for flag in ready):
            assert time.monotonic() < deadline, "the children did not start"
            assert all(p.poll() is None for p in processes), "a child died while starting"
            time.sleep(0.05)
        go.touch()
        outputs = [p.communicate(timeout=300) for p in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    children = [
        Child(p.returncode, out, err) for p, (out, err) in zip(processes, outputs, strict=True)
    ]
    return ConcurrentParse(project, children)


def test_two_processes_preparing_at_once_parse_once(concurrent_parse: ConcurrentParse) -> None:
    children = concurrent_parse.children
    for child in children:
        assert child.returncode == 0, child.stderr
    first, second = sorted(child.window for child in children)
    assert second[0] < first[1], "the two calls did not overlap: the test proves nothing"
    parses = sum(child.stderr.count(PARSE_LOG_LINE) for child in children)
    assert parses == 1, "\n---\n".join(child.stderr for child in children)

    project = concurrent_parse.project
    target = Path(project.project_dir) / project.target_path
    manifest = json.loads(Path(project.manifest_path).read_text())
    assert any(node.startswith("model.") for node in manifest["nodes"])
    json.loads((target / "semantic_manifest.json").read_text())
    assert (target / "partial_parse.msgpack").is_file()
    assert list((target / PARSES_DIR).glob("*.msgpack")), "the parse was not kept"
    assert not list(target.glob(f"{PARSE_FOLDER_PREFIX}-*")), "the parse folder was left"
    assert not manifest_is_stale(project)


def test_a_manifest_cut_short_is_parsed_again(
    concurrent_parse: ConcurrentParse, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = concurrent_parse.project
    # the children's profile inputs, so the parse starts from theirs
    monkeypatch.setenv(WAREHOUSE_ENV, child_env(Path(project.project_dir))[WAREHOUSE_ENV])
    for name in DBT_LOCATION_VARS:
        monkeypatch.delenv(name, raising=False)
    manifest = Path(project.manifest_path)
    whole = manifest.read_bytes()
    # as a parse killed while writing it leaves it: newer than every source
    manifest.write_bytes(whole[: len(whole) // 2])
    assert manifest_is_stale(project)

    prepare_manifest(project)

    json.loads(manifest.read_text())
    assert not manifest_is_stale(project)
