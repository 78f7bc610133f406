"""Sensors: new or changed landing files launch a run; a failed run sends an alert."""

import hashlib
import json

import dagster as dg

from orchestration.alerts import RunFailureAlert, StepFailure, error_text, first_line, send_alert
from orchestration.partitions import (
    RANGE_END_TAG,
    RANGE_START_TAG,
    WarehouseBusy,
    latest_days,
    partition_key_range,
    pending_work,
    range_tags,
    settle_seconds,
)
from orchestration.settings import Settings

PIPELINE_JOB = "nps_pipeline"
LANDING_SENSOR = "landing_files_sensor"
FAILURE_SENSOR = "run_failure_alerts"
TRIGGER_TAG = "nps/trigger"
# set on runs that alert by themselves (the CLI): the failure sensor leaves them alone
ALERT_ORIGIN_TAG = "nps/alerts"


@dg.sensor(
    name=LANDING_SENSOR,
    job_name=PIPELINE_JOB,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Looks for new or changed files in the landing folder (size and modification time "
        "against the load manifest, and against the files it already requested) and launches "
        "one run for exactly them: the partition range their rows span, old and new version."
    ),
)
def landing_files_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    settings = Settings.from_env()
    cursor = json.loads(context.cursor) if context.cursor else {}
    requested: dict[str, list[int]] = cursor.get("requested", {})
    if not settings.landing_dir.is_dir():
        return dg.SkipReason(f"no landing folder at {settings.landing_dir}")
    try:
        work = pending_work(
            settings.landing_dir,
            settings.warehouse_path,
            already_requested=requested,
            settle_seconds=settle_seconds(),
        )
    except WarehouseBusy:
        return dg.SkipReason("a run is writing the warehouse: looking again at the next tick")
    if not work.files:
        return dg.SkipReason("no new or changed landing files")
    # files without a submission date (other feeds, unreadable files) still need a run: today
    key_range = partition_key_range(work.days or latest_days(0))
    signature = sorted((f.source_file, f.size, f.mtime_ns) for f in work.files)
    run_key = hashlib.sha256(json.dumps(signature).encode()).hexdigest()[:20]
    for f in work.files:
        requested[f.source_file] = f.signature
    # once the manifest holds a file's current version, the manifest alone keeps it from a rerun
    requested = {k: v for k, v in requested.items() if k not in work.loaded}
    context.log.info(
        f"{len(work.files)} new or changed file(s), partitions {key_range.start}..{key_range.end}"
    )
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=run_key,
                tags={
                    **range_tags(key_range),
                    TRIGGER_TAG: LANDING_SENSOR,
                    "nps/files": str(len(work.files)),
                },
            )
        ],
        cursor=json.dumps({"requested": requested}),
    )


@dg.run_failure_sensor(
    name=FAILURE_SENSOR,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Sends an alert for every failed run: a JSON line in $DAGSTER_HOME/alerts.jsonl "
        "($NPS_ALERT_LOG) and a POST to $NPS_ALERT_WEBHOOK_URL when set, naming the failed step "
        "and its error."
    ),
)
def run_failure_alerts(context: dg.RunFailureSensorContext) -> None:
    run = context.dagster_run
    if run.tags.get(ALERT_ORIGIN_TAG) == "cli":
        return
    send_alert(alert_for_run(context))


def alert_for_run(context: dg.RunFailureSensorContext) -> RunFailureAlert:
    run = context.dagster_run
    steps = [
        StepFailure(event.step_key or "?", error_text(event.step_failure_data.error))
        for event in context.get_step_failure_events()
    ]
    start, end = run.tags.get(RANGE_START_TAG), run.tags.get(RANGE_END_TAG)
    return RunFailureAlert(
        run_id=run.run_id,
        job=run.job_name,
        failed_steps=steps,
        message=first_line(context.failure_event.message),
        origin="sensor",
        partition_range=f"{start}..{end}" if start else run.tags.get("dagster/partition"),
    )
