"""Rebuild the Data Docs site at the end of every run, wherever the run was launched.

`nps-warehouse run` rebuilds the site itself right after its run (orchestration/pipeline.py).
Runs launched from the Dagster UI, a schedule or a sensor run under `dagster dev`, whose daemon
evaluates these run status sensors: one per final status (success, failure, canceled), each
rebuilding the site from the validation results the run left under the Dagster home
(`$DAGSTER_HOME/gx/uncommitted/validations/`). They start RUNNING: no toggle in the UI needed.

The daemon only hands a sensor the runs of its own code location, so runs of the command line
(executed in its own process) are not rendered twice. When several runs end between two
evaluations, the site is rebuilt once: a run that ended before the site was last rebuilt is
skipped.
"""

import logging
from pathlib import Path

import dagster as dg

from orchestration.quality.runtime import data_docs_index, quality_project_dir

log = logging.getLogger(__name__)

SENSOR_NAMES = {
    dg.DagsterRunStatus.SUCCESS: "data_docs_after_success",
    dg.DagsterRunStatus.FAILURE: "data_docs_after_failure",
    dg.DagsterRunStatus.CANCELED: "data_docs_after_cancel",
}


def rebuild_after_run(context: dg.RunStatusSensorContext) -> Path | None:
    """Rebuild the site for the run that just ended; returns the index page, or None when the
    site was already rebuilt after the run ended (or there is no Dagster home to read)."""
    project_dir = quality_project_dir(context.instance)
    if project_dir is None:
        context.log.warning("no Dagster home: Data Docs not rebuilt")
        return None
    run_id = context.dagster_run.run_id
    index = data_docs_index(project_dir)
    record = context.instance.get_run_record_by_id(run_id)
    ended = record.end_time if record is not None else None
    if ended is not None and index.is_file() and index.stat().st_mtime >= ended:
        context.log.info(f"Data Docs already rebuilt after run {run_id}: {index}")
        return None
    # imported here: Great Expectations takes seconds to import
    from orchestration.quality.gx_engine import build_data_docs

    index = build_data_docs(project_dir)
    context.log.info(f"Data Docs rebuilt after run {run_id}: {index}")
    return index


def _sensor(status: dg.DagsterRunStatus) -> dg.RunStatusSensorDefinition:
    @dg.run_status_sensor(
        run_status=status,
        name=SENSOR_NAMES[status],
        description=(
            f"Rebuilds the Great Expectations Data Docs site when a run ends with "
            f"{status.value}, from the validation results kept under the Dagster home."
        ),
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def _rebuild(context: dg.RunStatusSensorContext) -> None:
        # None (not a SkipReason) lets one evaluation go on to every run that ended since the
        # last; a failed rebuild shows as the sensor's error, never as the run's
        rebuild_after_run(context)

    return _rebuild


data_docs_sensors = [_sensor(status) for status in SENSOR_NAMES]
