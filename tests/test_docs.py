"""dbt docs generate works offline on the warehouse and the page loads nothing from the network."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, CliRun

# resources the page would load: scripts, stylesheets, images, fonts (not links or strings in code)
REMOTE_ASSET = re.compile(
    r"""<(?:script|img|iframe)\b[^>]*\bsrc\s*=\s*["']?(?:https?:)?//"""
    r"""|<link\b[^>]*\bhref\s*=\s*["']?(?:https?:)?//"""
    r"""|url\(\s*["']?(?:https?:)?//|@import\s+["'](?:https?:)?//""",
    re.IGNORECASE,
)


@pytest.mark.timeout(600)
def test_dbt_docs_generate_offline(fixture_run: CliRun, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(fixture_run.warehouse, warehouse)
    target = tmp_path / "target"
    completed = subprocess.run(
        [
            str(Path(sys.executable).parent / "dbt"),
            "docs",
            "generate",
            "--static",
            "--target-path",
            str(target),
        ],
        cwd=REPO,
        env={**os.environ, "NPS_WAREHOUSE": str(warehouse), "DBT_PROFILES_DIR": str(REPO)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout[-3000:]
    page = (target / "static_index.html").read_text()
    assert "fct_nps_responses" in page and "nps_load_reconciliation" in page
    assert not REMOTE_ASSET.search(page), REMOTE_ASSET.search(page)
