"""Run-failure alerts: always a local JSON-lines log, and a webhook when one is configured.

One function, `send_alert`, serves the run-failure sensor (daemon-launched runs) and the CLI
(in-process runs). Sending never raises: an alert that cannot be delivered is logged, and the
local log line is written first.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from orchestration.settings import DAGSTER_HOME_ENV, DEFAULT_DAGSTER_HOME

log = logging.getLogger(__name__)

WEBHOOK_ENV = "NPS_ALERT_WEBHOOK_URL"
ALERT_LOG_ENV = "NPS_ALERT_LOG"
ALERT_LOG_NAME = "alerts.jsonl"
WEBHOOK_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class StepFailure:
    step: str
    error: str


@dataclass(frozen=True)
class RunFailureAlert:
    run_id: str
    job: str
    failed_steps: list[StepFailure]
    message: str  # the run's own failure message, when Dagster gave one
    origin: str  # "sensor" (daemon-launched runs) or "cli"
    partition_range: str | None = None
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    @property
    def text(self) -> str:
        steps = "; ".join(f"{s.step}: {s.error}" for s in self.failed_steps) or self.message
        scope = f" [{self.partition_range}]" if self.partition_range else ""
        return f"NPS warehouse run {self.run_id} ({self.job}{scope}) failed: {steps}"

    def to_json(self) -> dict:
        return {"event": "run_failure", **asdict(self), "text": self.text}


def alert_log_path() -> Path:
    configured = os.environ.get(ALERT_LOG_ENV)
    if configured:
        return Path(configured)
    home = os.environ.get(DAGSTER_HOME_ENV) or str(DEFAULT_DAGSTER_HOME)
    return Path(home) / ALERT_LOG_NAME


@dataclass(frozen=True)
class Delivery:
    log_path: Path | None
    webhook_status: int | None = None
    webhook_error: str | None = None


def send_alert(alert: RunFailureAlert) -> Delivery:
    """Append the alert to the JSON-lines log, POST it to $NPS_ALERT_WEBHOOK_URL; never raises."""
    payload = alert.to_json()
    log_path: Path | None = alert_log_path()
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(payload, ensure_ascii=False) + "\n")
    except OSError:
        log.exception("alert not written to %s", log_path)
        log_path = None
    url = os.environ.get(WEBHOOK_ENV)
    if not url:
        return Delivery(log_path)
    # Slack-style `text` plus the structured fields: most chat webhooks read `text`
    request = urllib.request.Request(
        url,
        data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        headers={"content-type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
            return Delivery(log_path, webhook_status=response.status)
    except Exception as exc:  # noqa: BLE001 - a dead webhook must not fail the sensor or the CLI
        log.warning("alert webhook failed: %s: %s", exc.__class__.__name__, exc)
        return Delivery(log_path, webhook_error=f"{exc.__class__.__name__}: {exc}")


def first_line(text: str | None) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[0].strip() if lines else "unknown error"


# Dagster's wrappers around the error a step raised: the alert names the error inside them
WRAPPER_ERRORS = frozenset(
    {
        "DagsterExecutionStepExecutionError",
        "DagsterUserCodeExecutionError",
        "RetryRequestedFromPolicy",
        "RetryRequested",
    }
)
QUALIFIED_PREFIXES = ("dagster._core.definitions.events.Failure: ",)


def error_text(error: object | None) -> str:
    """The user-facing line of a Dagster SerializableErrorInfo: the first error in its cause
    chain that is not one of Dagster's wrappers (a dg.Failure naming the file, a dbt error)."""
    if error is None:
        return "unknown error"
    current = error
    while getattr(current, "cls_name", "") in WRAPPER_ERRORS and getattr(current, "cause", None):
        current = current.cause
    if getattr(current, "cls_name", "") in WRAPPER_ERRORS:
        current = error  # nothing inside: "Exceeded max_retries" is still better than nothing
    text = first_line(getattr(current, "message", None) or str(current))
    for prefix in QUALIFIED_PREFIXES:
        text = text.removeprefix(prefix)
    return text
