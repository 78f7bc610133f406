"""The Dagster code location: every asset, check, job and resource of the warehouse."""

from __future__ import annotations

import dagster as dg

from orchestration.project import dbt_resource, prepare_manifest
from orchestration.settings import LANDING_ENV, WAREHOUSE_ENV, Settings

# Paths are read from the environment when a run starts (dg.EnvVar), not when this module is
# imported, so `nps-warehouse run --warehouse ...` and `dagster dev` both point where they should.
# Exported before the parse: the warehouse path is part of dbt's profile, and a parse made with
# another profile than the runs' is no start for their partial parsing.
Settings.from_env().export()
prepare_manifest()

from orchestration.assets.dbt import NPS_DBT_ASSETS  # noqa: E402  (needs the manifest)
from orchestration.assets.raw import (  # noqa: E402
    batch_validations,
    landing_manifest,
    privacy_erasures,
    raw_load_assets,
)
from orchestration.assets.report import report  # noqa: E402
from orchestration.assets.serving import published_marts  # noqa: E402
from orchestration.checks import unregistered_reference_ids  # noqa: E402
from orchestration.enps_checks import enps_checks  # noqa: E402
from orchestration.locking import warehouse_writer_lock  # noqa: E402
from orchestration.monitoring import build_freshness_checks  # noqa: E402
from orchestration.quality.data_docs_sensor import data_docs_sensors  # noqa: E402
from orchestration.quality.mart_checks import build_suite_checks  # noqa: E402
from orchestration.resources import LandingResource, WarehouseResource  # noqa: E402
from orchestration.schedules import daily_pipeline_schedule  # noqa: E402
from orchestration.sensors import (  # noqa: E402
    PIPELINE_JOB,
    landing_files_sensor,
    run_failure_alerts,
)

# one writer at a time: daemon-launched runs carrying this tag are queued one by one (the run
# queue's tag concurrency limit in dagster.yaml, see orchestration/pipeline.py)
WAREHOUSE_WRITER_TAG = "nps/warehouse_writer"

nps_pipeline = dg.define_asset_job(
    PIPELINE_JOB,
    selection=dg.AssetSelection.all(),
    description="Load new landing files, build and test every model, validate every layer.",
    tags={WAREHOUSE_WRITER_TAG: "duckdb"},
)

DBT_MODEL_KEYS = [key for assets in NPS_DBT_ASSETS for key in assets.keys]

defs = dg.Definitions(
    assets=[
        *raw_load_assets,
        landing_manifest,
        batch_validations,
        privacy_erasures,
        *NPS_DBT_ASSETS,
        published_marts,
        report,
    ],
    # one Great Expectations suite per validated model (expectations/<model>.json)
    asset_checks=[
        unregistered_reference_ids,
        *enps_checks,
        *build_suite_checks(DBT_MODEL_KEYS),
        build_freshness_checks(DBT_MODEL_KEYS),
    ],
    jobs=[nps_pipeline],
    # the Data Docs site is rebuilt after every run the daemon sees (UI, schedules, sensors)
    sensors=[landing_files_sensor, run_failure_alerts, *data_docs_sensors],
    schedules=[daily_pipeline_schedule],
    resources={
        "warehouse": WarehouseResource(path=dg.EnvVar(WAREHOUSE_ENV)),
        "landing": LandingResource(path=dg.EnvVar(LANDING_ENV)),
        "dbt": dbt_resource(),
        "warehouse_lock": warehouse_writer_lock,
    },
    # in-process: the multiprocess executor re-imports everything for each step
    executor=dg.in_process_executor,
)
