"""Run the whole pipeline through Dagster (recorded in DAGSTER_HOME) and summarise the outcome."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from orchestration.alerts import (
    RunFailureAlert,
    StepFailure,
    error_text,
    first_line,
    send_alert,
)
from orchestration.locking import warehouse_lock
from orchestration.partitions import RANGE_END_TAG, RANGE_START_TAG, DayRange
from orchestration.settings import DAGSTER_HOME_ENV, DEFAULT_DAGSTER_HOME, Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckOutcome:
    asset: str
    check: str
    passed: bool
    severity: str
    metadata: dict


@dataclass
class PipelineOutcome:
    run_id: str
    success: bool
    log_path: Path | None = None
    published: str | None = None
    parquet: str | None = None  # the Parquet folder, on either target
    report: str | None = None
    data_docs: Path | None = None  # GX Data Docs index page, rebuilt after the run
    data_docs_error: str | None = None
    step_failures: list[str] = field(default_factory=list)
    failed_steps: list[tuple[str, str]] = field(default_factory=list)  # (step, error line)
    tags: dict[str, str] = field(default_factory=dict)
    run_failure: str | None = None
    checks: list[CheckOutcome] = field(default_factory=list)
    # set when nothing changed since the last complete run, so no Dagster run was started
    skipped: str | None = None

    @property
    def failed_checks(self) -> list[CheckOutcome]:
        return [c for c in self.checks if not c.passed and c.severity == "ERROR"]

    @property
    def warning_checks(self) -> list[CheckOutcome]:
        return [c for c in self.checks if not c.passed and c.severity == "WARN"]

    @property
    def ok(self) -> bool:
        return self.success and not self.failed_checks


@dataclass(frozen=True)
class WarehouseSummary:
    files_loaded_this_run: int
    rows_loaded_this_run: int
    files_failed_this_run: dict[str, str]
    files_in_warehouse: int
    landed_rows: int
    accepted_rows: int
    duplicate_rows: int
    quarantined_by_reason: dict[str, int]
    overall_nps: float | None


# DuckDB allows one writer: the daemon's run queue starts one run at a time (materializations
# started from the UI run as Dagster's implicit asset job, without the pipeline job's tag, and
# they write too); every run also takes orchestration/locking.py's lock, beside CLI runs.
DAGSTER_YAML = """\
telemetry:
  enabled: false
run_queue:
  max_concurrent_runs: 1
  tag_concurrency_limits:
    - key: "nps/warehouse_writer"
      limit: 1
"""


# Dagster writes one "materialization planned" event per asset and partition of a run's range
# by default: a full run over a year of files (366 days x 9 partitioned assets, as then) spent
# minutes writing ~3,400 events to the run's SQLite log before its first step. With this set it
# writes one event per asset carrying the range. The price (Dagster's own note): when such a run
# fails, the UI does not mark its partitions failed; the run itself is failed and alerted as before.
PLANNED_EVENTS_ENV = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"


def ensure_dagster_home() -> Path:
    os.environ.setdefault(PLANNED_EVENTS_ENV, "true")
    home = Path(os.environ.get(DAGSTER_HOME_ENV) or DEFAULT_DAGSTER_HOME).resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    os.environ[DAGSTER_HOME_ENV] = str(home)
    return home


def run_pipeline(
    settings: Settings,
    verbose: bool = False,
    days: DayRange | None = None,
    full_refresh: bool = False,
    force: bool = False,
) -> PipelineOutcome:
    """Materialise every asset and run every check, as one Dagster run in the local instance.

    The run's partitions are `days` (a backfill) or else the days the pending landing files'
    rows span (none pending: the last $NPS_LOOKBACK_DAYS days and today). It holds the warehouse
    lock from before its files are listed to its end, so no other run writes in between.
    A failed run writes an alert (orchestration/alerts.py).

    Unless verbose, the console output of the steps (dbt echoes its whole log) goes to
    `$DAGSTER_HOME/logs/`, and `log_path` of the outcome says where.

    Unless `force`, a run is skipped (no Dagster run, no dbt, GX or publishing: `skipped` says
    why) when nothing it reads changed since the last complete run, see `unchanged_since`."""
    settings.export()
    from orchestration.engines import prepare_target_environment

    prepare_target_environment(settings.warehouse_path)
    _export_duckdb_settings()
    # a backfill or a full refresh is asked for explicitly: never skipped
    if not (force or days or full_refresh):
        skipped = _skip_if_unchanged(settings)
        if skipped is not None:
            return skipped
    home = ensure_dagster_home()
    with warehouse_lock(settings.warehouse_path):
        outcome = _run_locked(settings, home, verbose, days, full_refresh)
    if not outcome.success:
        _alert(outcome)
    return outcome


def _run_tags(settings: Settings, days: DayRange | None) -> dict[str, str]:
    from orchestration.engines import SPARK, current_target
    from orchestration.partitions import (
        WarehouseBusy,
        latest_days,
        lookback_days,
        partition_key_range,
        pending_work,
        range_tags,
    )
    from orchestration.sensors import ALERT_ORIGIN_TAG, TRIGGER_TAG

    tags = {ALERT_ORIGIN_TAG: "cli", TRIGGER_TAG: "backfill" if days else "cli"}
    # Spark builds in full (no incremental runs there yet), and listing the pending files' days
    # would read every new file on this machine: the range only names the run's partitions
    if days is None and settings.landing_dir.is_dir() and current_target() != SPARK:
        try:
            days = pending_work(settings.landing_dir, settings.warehouse_path).days
        except WarehouseBusy:  # another program holds the DuckDB file: the load will say so
            log.warning("pending files not inspected: the warehouse is busy")
    # nothing pending: the last days again (late responses); Dagster runs the chain of
    # partitioned assets only with a partition range
    days = days or latest_days(lookback_days())
    tags.update(range_tags(partition_key_range(days)))
    return tags


def _run_locked(
    settings: Settings,
    home: Path,
    verbose: bool,
    days: DayRange | None,
    full_refresh: bool,
) -> PipelineOutcome:
    import dagster as dg

    from orchestration.definitions import PIPELINE_JOB, defs

    job = defs.resolve_job_def(PIPELINE_JOB)
    tags = _run_tags(settings, days)
    run_config: dict = {
        "loggers": {"console": {"config": {"log_level": "INFO" if verbose else "ERROR"}}}
    }
    if full_refresh:
        from orchestration.assets.dbt import NPS_DBT_ASSETS

        run_config["ops"] = {
            assets.op.name: {"config": {"full_refresh": True}} for assets in NPS_DBT_ASSETS
        }
    log_path = None
    with contextlib.ExitStack() as stack:
        if not verbose:
            (home / "logs").mkdir(exist_ok=True)
            log_path = home / "logs" / f"run-{datetime.now(UTC):%Y%m%dT%H%M%S}.log"
            stream = stack.enter_context(log_path.open("w"))
            stack.enter_context(contextlib.redirect_stdout(stream))
            stack.enter_context(contextlib.redirect_stderr(stream))
        instance = stack.enter_context(dg.DagsterInstance.get())
        result = job.execute_in_process(
            instance=instance, raise_on_error=False, run_config=run_config, tags=tags
        )
        docs, docs_error = _rebuild_data_docs(home)
    outcome = PipelineOutcome(run_id=result.run_id, success=result.success, log_path=log_path)
    outcome.tags = tags
    outcome.run_failure = (
        result.get_run_failure_event().message
        if not result.success and result.get_run_failure_event()
        else None
    )
    outcome.data_docs, outcome.data_docs_error = docs, docs_error
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            message = error.message.strip() if error else "unknown error"
            outcome.step_failures.append(f"{event.step_key}: {message}")
            outcome.failed_steps.append((event.step_key or "?", error_text(error)))
    for materialization in result.get_asset_materialization_events():
        data = materialization.event_specific_data.materialization
        if data.asset_key.path == ["serving", "published_marts"] and "database" in data.metadata:
            outcome.published = str(data.metadata["database"].value)
        if data.asset_key.path == ["serving", "published_marts"] and "parquet_dir" in data.metadata:
            outcome.parquet = str(data.metadata["parquet_dir"].value)
        if data.asset_key.path == ["serving", "report"] and "path" in data.metadata:
            outcome.report = str(data.metadata["path"].value)
    for evaluation in result.get_asset_check_evaluations():
        outcome.checks.append(
            CheckOutcome(
                asset=evaluation.asset_key.to_user_string(),
                check=evaluation.check_name,
                passed=evaluation.passed,
                severity=evaluation.severity.value,
                metadata={k: v.value for k, v in evaluation.metadata.items()},
            )
        )
    from orchestration.engines import SPARK, current_target

    # the fast path compares the DuckDB manifest, which a Spark run does not write
    if outcome.ok and outcome.published and current_target() != SPARK:
        _remember_complete_run(settings, outcome)
    return outcome


# -- the no-change fast path ------------------------------------------------------------------
# A complete, successful run stores a fingerprint of everything it read in STATE_TABLE. The next
# run compares before starting Dagster (importing it and the definitions alone takes seconds):
# when no landing file is new, changed or failed and the fingerprint is the same, there is
# nothing to load, so dbt, GX and publishing would rebuild exactly what is there.

STATE_TABLE = "raw.pipeline_state"
# what a run reads besides the landing files: models, seeds, suites (their content)
_FINGERPRINTED_SOURCES = (
    "models",
    "macros",
    "seeds",
    "tests/dbt",
    "expectations",
    "dbt_project.yml",
    "profiles.yml",
)


def _export_duckdb_settings() -> None:
    # dbt runs in its own process and reads these in profiles.yml: give it this machine's
    # defaults, not the profile's fixed fallbacks
    from orchestration.landing.loader import MEMORY_LIMIT_ENV, THREADS_ENV, duckdb_settings

    defaults = duckdb_settings()
    os.environ.setdefault(MEMORY_LIMIT_ENV, defaults["memory_limit"])
    os.environ.setdefault(THREADS_ENV, defaults["threads"])


def _fingerprint(conn: duckdb.DuckDBPyConnection, settings: Settings) -> str:
    """Everything whose change must rebuild the marts, hashed: the manifest of loaded files,
    the privacy tables (forget erases rows and expects the next run to recompute), the dbt
    project and suites, the landing folder and the UTC day (time-dependent marts such as
    overdue follow-ups are refreshed at least once a day)."""
    from orchestration.settings import PROJECT_DIR

    digest = hashlib.sha256()
    tables = {
        name
        for (name,) in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'"
        ).fetchall()
    }
    parts: dict[str, object] = {
        "landing": str(settings.landing_dir),
        # a run against another engine builds other marts: never skipped because of this one
        "target": os.environ.get("DBT_TARGET", "duckdb"),
        "day": datetime.now(UTC).date().isoformat(),
    }
    if "landing_manifest" in tables:
        parts["manifest"] = conn.execute(
            "select source_file, file_checksum, status, load_id from raw.landing_manifest "
            "order by source_file"
        ).fetchall()
    for table in ("privacy_tombstones", "privacy_erasures"):
        if table in tables:
            parts[table] = conn.execute(f"select count(*) from raw.{table}").fetchall()
    digest.update(json.dumps(parts, default=str).encode())
    for name in _FINGERPRINTED_SOURCES:
        root = PROJECT_DIR / name
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            digest.update(path.relative_to(PROJECT_DIR).as_posix().encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def unchanged_since(settings: Settings) -> dict | None:
    """The last complete run (run_id, published, report, data_docs) when nothing changed
    since it, else None."""
    from orchestration.landing.feeds import FEEDS
    from orchestration.landing.loader import pending_files

    if not settings.warehouse_path.is_file():
        return None
    try:
        conn = duckdb.connect(str(settings.warehouse_path), read_only=True)
    except duckdb.Error:  # e.g. another process is writing it: just run
        return None
    try:
        has_state = conn.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'raw' and table_name = 'pipeline_state'"
        ).fetchall()[0][0]
        if not has_state:
            return None
        state = conn.execute(
            f"select fingerprint, run_id, published, report, data_docs from {STATE_TABLE}"
        ).fetchall()
        if not state or pending_files(conn, settings.landing_dir, FEEDS):
            return None
        fingerprint, run_id, published, report, data_docs = state[0]
        if fingerprint != _fingerprint(conn, settings):
            return None
    finally:
        conn.close()
    if not Path(published).exists():
        return None
    return {"run_id": run_id, "published": published, "report": report, "data_docs": data_docs}


def _skip_if_unchanged(settings: Settings) -> PipelineOutcome | None:
    last = unchanged_since(settings)
    if last is None:
        return None
    reason = (
        f"no landing file changed since the last complete run ({last['run_id']}): "
        "nothing loaded; dbt, GX and publishing skipped"
    )
    log.warning("%s (nps-warehouse run --force runs them anyway)", reason)
    report = last["report"] if last["report"] and Path(last["report"]).exists() else None
    docs = Path(last["data_docs"]) if last["data_docs"] else None
    return PipelineOutcome(
        run_id=f"skipped-{datetime.now(UTC):%Y%m%dT%H%M%S}",
        success=True,
        published=last["published"],
        report=report,
        data_docs=docs if docs and docs.exists() else None,
        data_docs_error=None if docs and docs.exists() else "not rebuilt: nothing changed",
        skipped=reason,
    )


def _remember_complete_run(settings: Settings, outcome: PipelineOutcome) -> None:
    try:
        conn = duckdb.connect(str(settings.warehouse_path))
    except duckdb.Error:
        log.warning("run state not saved: the next run will not skip", exc_info=True)
        return
    try:
        conn.execute("set TimeZone = 'UTC'")
        conn.execute(
            f"create table if not exists {STATE_TABLE} (fingerprint varchar, run_id varchar, "
            "published varchar, report varchar, data_docs varchar, finished_at timestamptz)"
        )
        fingerprint = _fingerprint(conn, settings)
        conn.execute("begin transaction")
        conn.execute(f"delete from {STATE_TABLE}")
        conn.execute(
            f"insert into {STATE_TABLE} values (?, ?, ?, ?, ?, now())",
            [
                fingerprint,
                outcome.run_id,
                outcome.published,
                outcome.report,
                str(outcome.data_docs) if outcome.data_docs else None,
            ],
        )
        conn.execute("commit")
    finally:
        conn.close()


def _alert(outcome: PipelineOutcome) -> None:
    start, end = outcome.tags.get(RANGE_START_TAG), outcome.tags.get(RANGE_END_TAG)
    send_alert(
        RunFailureAlert(
            run_id=outcome.run_id,
            job="nps_pipeline",
            failed_steps=[StepFailure(step, error) for step, error in outcome.failed_steps],
            message=first_line(outcome.run_failure),
            origin="cli",
            partition_range=f"{start}..{end}" if start else None,
        )
    )


def _rebuild_data_docs(home: Path) -> tuple[Path | None, str | None]:
    """The GX Data Docs site over the results kept under the Dagster home (never fails the run:
    the evidence is a convenience, the checks themselves are recorded by Dagster)."""
    from orchestration.quality.gx_engine import build_data_docs
    from orchestration.quality.runtime import quality_project_dir

    try:
        return build_data_docs(quality_project_dir(None) or home), None
    except Exception as exc:  # noqa: BLE001 - reported in the summary instead
        log.warning("Data Docs not rebuilt", exc_info=True)
        return None, f"{exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def summarise_warehouse(warehouse: Path, run_id: str) -> WarehouseSummary:
    """Counts of this run and of the warehouse, from the configured target (DBT_TARGET)."""
    from orchestration.engines import current_engine

    with current_engine(warehouse).connect(read_only=True) as conn:
        this_run = conn.execute(
            "select outcome, source_file, row_count, error from raw.landing_load_log "
            "where load_id = ?",
            [run_id],
        ).fetchall()
        loaded = [r for r in this_run if r[0] in ("loaded", "replaced")]
        totals = conn.execute(
            """
            select count(*), sum(landed_rows), sum(accepted_rows), sum(duplicate_rows)
            from marts.nps_load_reconciliation
            """
        ).fetchall()[0]
        reasons = Counter(
            dict(
                conn.execute(
                    "select quarantine_reason, count(*) from marts.nps_quarantine group by 1"
                ).fetchall()
            )
        )
        overall = conn.execute(
            "select 100.0 * (sum(case when is_promoter then 1 else 0 end)"
            " - sum(case when is_detractor then 1 else 0 end)) / nullif(count(*), 0)"
            " from marts.fct_nps_responses"
        ).fetchall()[0][0]
    overall = None if overall is None else float(overall)
    return WarehouseSummary(
        files_loaded_this_run=len(loaded),
        rows_loaded_this_run=sum(r[2] or 0 for r in loaded),
        files_failed_this_run={r[1]: r[3] for r in this_run if r[0] == "failed"},
        files_in_warehouse=totals[0] or 0,
        landed_rows=totals[1] or 0,
        accepted_rows=totals[2] or 0,
        duplicate_rows=totals[3] or 0,
        quarantined_by_reason=dict(sorted(reasons.items())),
        overall_nps=overall,
    )
