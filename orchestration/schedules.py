"""The daily run at 06:00 ($NPS_SCHEDULE_TIMEZONE, default UTC).

The landing sensor runs new files as they arrive; this run does the rest once a day: any file
the sensor did not take, the last days again (the lookback for late responses), the marts that
depend on the date (overdue follow-ups, freshness), the published copy and the report.
"""

import os
from datetime import timedelta

import dagster as dg

from orchestration.partitions import (
    latest_days,
    lookback_days,
    nps_timezone,
    partition_key_range,
    range_tags,
)
from orchestration.sensors import PIPELINE_JOB, TRIGGER_TAG

SCHEDULE_TIMEZONE_ENV = "NPS_SCHEDULE_TIMEZONE"
DAILY_SCHEDULE = "daily_pipeline_schedule"
DAILY_CRON = "0 6 * * *"


def schedule_timezone() -> str:
    return os.environ.get(SCHEDULE_TIMEZONE_ENV) or "UTC"


@dg.schedule(
    name=DAILY_SCHEDULE,
    cron_schedule=DAILY_CRON,
    job_name=PIPELINE_JOB,
    execution_timezone=schedule_timezone(),
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=(
        "Every day at 06:00 ($NPS_SCHEDULE_TIMEZONE): the whole pipeline for the last "
        "$NPS_LOOKBACK_DAYS (default 3) days up to yesterday, plus any pending landing file."
    ),
)
def daily_pipeline_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    from zoneinfo import ZoneInfo

    # yesterday in the partitions' time zone, seen from the scheduled moment
    today = context.scheduled_execution_time.astimezone(ZoneInfo(nps_timezone())).date()
    yesterday = today - timedelta(days=1)
    days = latest_days(max(lookback_days() - 1, 0), today=yesterday)
    key_range = partition_key_range(days, now=context.scheduled_execution_time)
    return dg.RunRequest(
        run_key=f"daily-{today.isoformat()}",
        tags={**range_tags(key_range), TRIGGER_TAG: DAILY_SCHEDULE},
    )
