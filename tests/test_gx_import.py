"""GX imports in any process, whatever the extras installed."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.skipif(
    importlib.util.find_spec("pyspark") is None,
    reason="only pyspark's connect package exits a process without a main file (spark extra)",
)
def test_great_expectations_imports_in_a_process_without_a_main_file() -> None:
    # `python -c` has a main module without a spec or a file, like the process a Dagster code
    # server spawns for a run launched from the UI
    code = (
        "from orchestration.quality.gx_engine import _import_gx\n"
        "import sys\n"
        "gx = _import_gx()\n"
        "print('imported', gx.__name__, hasattr(sys, 'ps1'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert out.stdout.split() == ["imported", "great_expectations", "False"], out.stderr[-2000:]


@pytest.mark.skipif(
    importlib.util.find_spec("pyspark") is None,
    reason="only pyspark's connect package exits a process without a main file (spark extra)",
)
def test_a_validation_runs_in_a_process_without_a_main_file() -> None:
    # the path a mart check takes (record batches), first thing in a fresh process: no entry
    # point may import GX around the guard
    code = (
        "import pyarrow as pa\n"
        "from orchestration.quality.gx_engine import Validator\n"
        "table = pa.table({'responses': [10], 'promoters': [5], 'passives': [3],\n"
        "                  'detractors': [2], 'nps': [30.0]})\n"
        "result = Validator().validate_chunks('nps_daily', iter([table]), 'one row')\n"
        "print('validated', result.rows, result.success)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert out.stdout.split() == ["validated", "1", "True"], out.stderr[-2000:]
