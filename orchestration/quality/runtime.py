"""Where validation evidence lives during a run, and the one Validator a run shares.

Results go to a file-backed GX project under the Dagster home (`$DAGSTER_HOME/gx/`), so they
sit next to the run history Dagster keeps there, and the Data Docs site is built from them at
the end of each `nps-warehouse run` (`$DAGSTER_HOME/gx/uncommitted/data_docs/local_site/`).

The steps of a run execute in one process (in-process executor): the raw load, then the mart
checks. They share one Validator (and so one GX context) per run, so GX's setup is paid once.
"""

from __future__ import annotations

import functools
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchestration.quality.gx_engine import Validator
from orchestration.settings import DAGSTER_HOME_ENV


def quality_project_dir(instance: Any = None) -> Path | None:
    """The GX project root for a Dagster instance: its root directory, else $DAGSTER_HOME
    (GX adds `gx/` under it). None when neither is known: then results are not kept."""
    root = getattr(instance, "root_directory", None) if instance is not None else None
    root = root or os.environ.get(DAGSTER_HOME_ENV)
    return Path(root).resolve() if root else None


def data_docs_index(project_dir: Path) -> Path:
    """Where `build_data_docs` writes the site's index page for a project root."""
    return Path(project_dir) / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"


@functools.lru_cache(maxsize=2)
def validator_for(project_dir: Path | None, run_id: str) -> Validator:
    """The Validator of one Dagster run (results grouped under one GX run time)."""
    return Validator(project_dir=project_dir, run_time=datetime.now(UTC))
