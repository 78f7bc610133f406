"""Shared fixtures: a landing folder built from tests/fixtures, and real pipeline runs on it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"


def build_fixture_landing(target: Path) -> Path:
    """Copy the text fixtures and write the Parquet one (binary files are made, not committed)."""
    shutil.copytree(FIXTURES / "landing", target)
    backfill = target / "nps" / "backfill"
    backfill.mkdir(parents=True)
    table = pa.table(
        {
            "response_id": ["F0401", "F0402", "F0403"],
            "survey_id": ["SRV-STORE", "SRV-STORE", "SRV-DELIVERY"],
            "submitted_at": [
                "2025-02-10T10:00:00Z",
                "2025-02-11T10:00:00Z",
                "2025-02-12T10:00:00Z",
            ],
            # a numeric column, as some exporters write it: 8.0 is the integer 8
            "score": pa.array([8.0, 9.0, 2.0], type=pa.float64()),
            "branch_id": ["BR-0001", "BR-0002", "BR-0003"],
            "Consent_Contact": [True, False, None],
        }
    )
    pq.write_table(table, backfill / "2025-02.parquet")
    return target


# A mart's day of evaluation (`evaluated_on`, dbt's current date when it was built) and what is
# derived from it (action_plan_tracker's overdue days): two builds of the same data agree on
# these only when built on the same UTC day, and a test session can cross midnight.
EVALUATION_DAY_COLUMNS = frozenset(
    {"evaluated_on", "is_overdue", "days_overdue", "is_after_window_complete"}
)


def evaluation_day_columns(left_days: set[object], right_days: set[object]) -> frozenset[str]:
    """The columns to leave out when comparing two builds of a mart whose `evaluated_on` values
    are `left_days` and `right_days`: none when they were built on the same day."""
    return frozenset() if left_days == right_days else EVALUATION_DAY_COLUMNS


# The slowest modules, run first: `make test` runs the modules on two pytest-xdist workers, each
# taking the next module when it is done, and a long module taken last would keep one of them
# busy alone. The other modules keep their order.
SLOWEST_MODULES = (
    "test_spark.py",
    "test_operations_days.py",
    "test_incremental.py",
    "test_ui.py",
    "test_incremental_marts.py",
    "test_pipeline.py",
    "test_contracts.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: index for index, name in enumerate(SLOWEST_MODULES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def pytest_configure(config: pytest.Config) -> None:
    """With pytest-xdist workers, parse the dbt project once before they start: their pipeline
    runs would otherwise each parse it into the project's target folder at the same time."""
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        from orchestration.project import prepare_manifest

        prepare_manifest()


@dataclass
class CliRun:
    returncode: int
    stdout: str
    stderr: str
    warehouse: Path
    landing: Path
    dagster_home: Path


def run_cli(
    landing: Path,
    warehouse: Path,
    dagster_home: Path,
    *,
    target: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 600,
) -> CliRun:
    """`nps-warehouse run` in a subprocess; `target` picks the engine (DuckDB when None) and
    `env` adds to this process's environment."""
    command = [sys.executable, "-m", "orchestration.cli", "run"]
    if target:
        command += ["--target", target]
    command += ["--landing", str(landing), "--warehouse", str(warehouse)]
    completed = subprocess.run(
        command,
        cwd=REPO,
        env={
            **os.environ,
            **(env or {}),
            "DAGSTER_HOME": str(dagster_home),
            "NPS_REPORT_DIR": str(warehouse.parent / "reports"),
        },
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return CliRun(
        completed.returncode, completed.stdout, completed.stderr, warehouse, landing, dagster_home
    )


@pytest.fixture(scope="session")
def fixture_run(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    """One real pipeline run (Dagster + dbt + GX) over the fixture landing folder."""
    root = tmp_path_factory.mktemp("fixture_run")
    landing = build_fixture_landing(root / "landing")
    return run_cli(landing, root / "warehouse.duckdb", root / "dagster_home")
