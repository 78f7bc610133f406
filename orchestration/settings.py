"""Where things live: every path the pipeline uses comes from here (environment, then defaults)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
SEEDS_DIR = PROJECT_DIR / "seeds"
EXPECTATIONS_DIR = PROJECT_DIR / "expectations"

LANDING_ENV = "NPS_LANDING_DIR"
WAREHOUSE_ENV = "NPS_WAREHOUSE"
PUBLISH_DIR_ENV = "NPS_PUBLISH_DIR"
DAGSTER_HOME_ENV = "DAGSTER_HOME"
PARQUET_LAYOUT_ENV = "NPS_PARQUET_LAYOUT"

# how the published Parquet is laid out: `file`, one file per mart (`parquet/<mart>.parquet`);
# `monthly`, a folder per mart with a file per month (`parquet/<mart>/<YYYY-MM>.parquet`)
FILE_LAYOUT = "file"
MONTHLY_LAYOUT = "monthly"
PARQUET_LAYOUTS = (FILE_LAYOUT, MONTHLY_LAYOUT)

DEFAULT_LANDING_DIR = PROJECT_DIR / "data" / "landing"
DEFAULT_WAREHOUSE = PROJECT_DIR / "data" / "warehouse.duckdb"
DEFAULT_DAGSTER_HOME = PROJECT_DIR / ".dagster_home"


@dataclass(frozen=True)
class Settings:
    landing_dir: Path
    warehouse_path: Path

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            landing_dir=Path(os.environ.get(LANDING_ENV) or DEFAULT_LANDING_DIR).resolve(),
            warehouse_path=Path(os.environ.get(WAREHOUSE_ENV) or DEFAULT_WAREHOUSE).resolve(),
        )

    def export(self) -> None:
        """Export the paths to the environment, read by dbt's profile and Dagster's resources."""
        os.environ[LANDING_ENV] = str(self.landing_dir)
        os.environ[WAREHOUSE_ENV] = str(self.warehouse_path)


def parquet_layout_from_env() -> str:
    """$NPS_PARQUET_LAYOUT, `file` when unset; ValueError naming the choices otherwise."""
    layout = (os.environ.get(PARQUET_LAYOUT_ENV) or FILE_LAYOUT).strip().lower()
    if layout not in PARQUET_LAYOUTS:
        raise ValueError(
            f"{PARQUET_LAYOUT_ENV}={os.environ.get(PARQUET_LAYOUT_ENV)!r}: "
            f"expected one of {', '.join(PARQUET_LAYOUTS)}"
        )
    return layout
