"""`nps-warehouse`: the command line the Makefile targets call."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import date
from pathlib import Path

from orchestration.engines import (
    DUCKDB,
    POSTGRES,
    SPARK,
    TARGET_ENV,
    TARGETS,
    current_engine,
    current_target,
    postgres_settings_from_env,
)
from orchestration.settings import (
    DEFAULT_LANDING_DIR,
    DEFAULT_WAREHOUSE,
    FILE_LAYOUT,
    PARQUET_LAYOUT_ENV,
    PUBLISH_DIR_ENV,
    Settings,
    parquet_layout_from_env,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="nps-warehouse",
        description="Load survey exports into a DuckDB warehouse, model and validate them.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the whole pipeline through Dagster")
    _add_paths(run)
    run.add_argument("--verbose", action="store_true", help="show Dagster's step logs")
    run.add_argument(
        "--force",
        action="store_true",
        help="run dbt, GX and publishing even when no landing file changed since the last run",
    )
    run.add_argument(
        "--target",
        choices=TARGETS,
        default=None,
        help="where dbt builds the models (default $DBT_TARGET, else duckdb); postgres connects "
        "with NPS_PG_HOST, NPS_PG_PORT, NPS_PG_USER, NPS_PG_PASSWORD, NPS_PG_DATABASE; spark "
        "runs a local session on $NPS_SPARK_WAREHOUSE_DIR (default: spark/ beside --warehouse)",
    )
    run.set_defaults(handler=_run)

    backfill = commands.add_parser(
        "backfill",
        help="reprocess the responses of a date range (the same marts as a full refresh)",
    )
    _add_paths(backfill)
    backfill.add_argument(
        "--start", required=True, type=date.fromisoformat, help="first day, YYYY-MM-DD"
    )
    backfill.add_argument(
        "--end", required=True, type=date.fromisoformat, help="last day, YYYY-MM-DD (inclusive)"
    )
    backfill.add_argument("--verbose", action="store_true", help="show Dagster's step logs")
    backfill.set_defaults(handler=_run)

    demo = commands.add_parser("demo-data", help="write a realistic demo landing folder")
    demo.add_argument("--landing", type=Path, default=DEFAULT_LANDING_DIR)
    demo.add_argument("--responses", type=int, default=50_000, help="about this many rows")
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument(
        "--end-date", type=date.fromisoformat, default=None, help="last day (default yesterday)"
    )
    demo.add_argument(
        "--if-empty",
        action="store_true",
        help="only write when the landing folder holds no survey files yet",
    )
    demo.set_defaults(handler=_demo_data)

    forget = commands.add_parser(
        "forget", help="erase a respondent from every schema and keep them out of later loads"
    )
    forget.add_argument("--respondent", required=True, help="the respondent_id to erase")
    forget.add_argument(
        "--warehouse",
        type=Path,
        default=None,
        help=f"DuckDB file, the landing cache on PostgreSQL (default {DEFAULT_WAREHOUSE})",
    )
    forget.add_argument(
        "--target",
        choices=TARGETS,
        default=None,
        help="the warehouse to erase from as well (default $DBT_TARGET, else duckdb); postgres "
        "erases in PostgreSQL at once (NPS_PG_* as for run)",
    )
    forget.set_defaults(handler=_forget, landing=None)

    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.ERROR,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "verbose", False):
        # Dagster's loggers reach the root handler at INFO (dagster-dbt logs every dbt command);
        # the run's own console logger still reports errors, and the UI keeps everything.
        logging.getLogger("dagster").propagate = False
    return args.handler(args)


def _add_paths(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--landing", type=Path, default=None, help=f"landing folder (default {DEFAULT_LANDING_DIR})"
    )
    parser.add_argument(
        "--warehouse", type=Path, default=None, help=f"DuckDB file (default {DEFAULT_WAREHOUSE})"
    )


def _settings(args: argparse.Namespace) -> Settings:
    base = Settings.from_env()
    return Settings(
        landing_dir=(args.landing or base.landing_dir).resolve(),
        warehouse_path=(args.warehouse or base.warehouse_path).resolve(),
    )


def _run(args: argparse.Namespace) -> int:
    from orchestration.pipeline import run_pipeline, summarise_warehouse

    settings = _settings(args)
    if not settings.landing_dir.is_dir():
        print(f"landing folder not found: {settings.landing_dir}", file=sys.stderr)
        return 2
    if getattr(args, "target", None):
        os.environ[TARGET_ENV] = args.target  # read by profiles.yml and the engine choice
    target = current_target()
    try:
        layout = parquet_layout_from_env()
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    if layout != FILE_LAYOUT and target != DUCKDB:
        print(
            f"{PARQUET_LAYOUT_ENV}={layout} is implemented for the DuckDB target only",
            file=sys.stderr,
        )
        return 2
    days = None
    if getattr(args, "start", None):
        from orchestration.partitions import DayRange

        if args.end < args.start:
            print(f"--end {args.end} is before --start {args.start}", file=sys.stderr)
            return 2
        # days in $NPS_TIMEZONE; one Dagster run for the whole range (single-run backfill)
        days = DayRange(args.start, args.end)
    outcome = run_pipeline(
        settings, verbose=args.verbose, days=days, force=getattr(args, "force", False)
    )
    if outcome.skipped:
        print(f"Skipped: {outcome.skipped} (--force runs them anyway)")
    else:
        print(
            f"Dagster run {outcome.run_id}"
            + (f" (log: {outcome.log_path})" if outcome.log_path else "")
        )
    try:
        summary = summarise_warehouse(settings.warehouse_path, outcome.run_id)
    except Exception as exc:  # the marts may not exist when the run failed early
        summary = None
        print(f"  (no summary: {exc.__class__.__name__}: {str(exc).splitlines()[0]})")
    if summary:
        print(
            f"Files loaded this run: {summary.files_loaded_this_run} "
            f"({summary.rows_loaded_this_run} rows)"
        )
        for source_file, error in summary.files_failed_this_run.items():
            print(f"  FAILED {error or source_file}")
        print(
            f"Customer responses in the warehouse: {summary.files_in_warehouse} files, "
            f"{summary.landed_rows} rows landed = {summary.accepted_rows} accepted + "
            f"{sum(summary.quarantined_by_reason.values())} quarantined + "
            f"{summary.duplicate_rows} duplicates"
        )
        for reason, rows in summary.quarantined_by_reason.items():
            print(f"  quarantined {reason}: {rows}")
        nps = "n/a" if summary.overall_nps is None else f"{summary.overall_nps:+.1f}"
        print(f"Overall NPS: {nps}")
    for failure in outcome.step_failures:
        print(f"STEP FAILED {failure}")
    if not outcome.success:
        from orchestration.alerts import alert_log_path

        print(f"Alert written to {alert_log_path()}")
    for check in outcome.failed_checks:
        print(f"CHECK FAILED {check.asset}:{check.check} {_short(check.metadata)}")
        # a raw suite that blocked files: which file, which expectation (its rows are quarantined)
        for source_file, failures in (check.metadata.get("blocked_files") or {}).items():
            keys = ", ".join(f["key"] for f in failures if f.get("effect") == "blocks")
            print(f"  BLOCKED {source_file}: {keys} (rows quarantined as batch_failed_validation)")
    for check in outcome.warning_checks:
        print(f"check warning {check.asset}:{check.check}")
    if target == POSTGRES:
        print(f"Warehouse: PostgreSQL {postgres_settings_from_env()!r}")
        print(f"Landing cache (manifest, load log, tombstones): {settings.warehouse_path}")
    elif target == SPARK:
        print(f"Warehouse: {current_engine(settings.warehouse_path).label}")
    else:
        print(f"Warehouse: {settings.warehouse_path}")
    if outcome.data_docs:
        print(f"Data Docs: {outcome.data_docs}")
    else:
        print(f"Data Docs: not rebuilt ({outcome.data_docs_error})")
    if outcome.published:
        print(f"Published for BI tools (read-only): {outcome.published} (+ Parquet per mart)")
    elif target == POSTGRES and outcome.parquet:
        print(
            f"Published for BI tools: Parquet per mart in {outcome.parquet} "
            "(BI tools read PostgreSQL's marts schema)"
        )
    else:
        print("Published for BI tools: not updated (a model or test failed)")
    print(f"Report: {outcome.report}" if outcome.report else "Report: not updated")
    ok = outcome.ok and not (summary and summary.files_failed_this_run)
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


def _short(metadata: dict) -> str:
    text = ", ".join(f"{k}={v}" for k, v in metadata.items())
    return text if len(text) < 400 else text[:400] + "..."


def _demo_data(args: argparse.Namespace) -> int:
    from orchestration.demo_data import write_demo_data

    landing: Path = args.landing.resolve()
    if args.if_empty and any((landing / "nps").rglob("*.*")):
        print(f"{landing} already holds survey files: no demo data written")
        return 0
    summary = write_demo_data(
        landing, responses=args.responses, seed=args.seed, end_date=args.end_date
    )
    print(f"Demo data: {summary.rows} rows in {len(summary.files)} files under {landing}")
    from orchestration.demo_feedback import write_demo_feedback

    feedback = write_demo_feedback(landing, seed=args.seed, end_date=args.end_date)
    print(
        f"Demo feedback: {feedback.followup_events} follow-up events, "
        f"{feedback.action_items} action items"
    )
    from orchestration.demo_enps import write_demo_enps

    enps = write_demo_enps(landing, seed=args.seed, end_date=args.end_date)
    print(
        f"Demo eNPS: {enps.rows} rows in {len(enps.files)} files "
        f"({len(enps.waves)} quarterly waves)"
    )
    return 0


def _forget(args: argparse.Namespace) -> int:
    from orchestration.privacy import forget_respondent
    from orchestration.publish import PARQUET_DIR, PUBLISHED_DATABASE, publish_marts

    warehouse = _settings(args).warehouse_path
    if not warehouse.is_file():
        print(f"warehouse not found: {warehouse}", file=sys.stderr)
        return 2
    try:
        layout = parquet_layout_from_env()  # checked before anything is erased
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.target:
        os.environ[TARGET_ENV] = args.target
    if current_target() == SPARK:
        print("forget does not erase from the Spark warehouse yet", file=sys.stderr)
        return 2
    engine = None
    if current_target() == POSTGRES:
        from orchestration.engines import PostgresEngine

        engine = PostgresEngine(postgres_settings_from_env())
    report = forget_respondent(warehouse, args.respondent, engine=engine)
    # counts only: the command never echoes what it erased
    print(f"Forgot respondent {report.respondent_id} (request {report.request_id})")
    for table, rows in report.raw_rows.items():
        print(f"  raw.{table}: {rows} row(s) erased")
    for table, rows in report.derived_rows.items():
        print(f"  {table}: {rows} row(s) erased")
    for table, rows in report.engine_rows.items():
        print(f"  PostgreSQL {table}: {rows} row(s) erased")
    publish_dir = Path(os.environ.get(PUBLISH_DIR_ENV) or warehouse.parent / "published")
    # BI tools read the published copy: it must not keep what was just erased
    if engine is not None:
        if (publish_dir / PARQUET_DIR).is_dir():
            from orchestration.publish import publish_parquet

            publish_parquet(engine, publish_dir, run_id=f"forget-{report.request_id}")
            print(f"Published Parquet refreshed: {publish_dir / PARQUET_DIR}")
    elif (publish_dir / PUBLISHED_DATABASE).exists():
        # a new file, not a patched copy: deleted rows may linger in a file's free blocks
        publish_marts(
            warehouse,
            publish_dir,
            run_id=f"forget-{report.request_id}",
            fresh=True,
            parquet_layout=layout,
        )
        print(f"Published copy refreshed: {publish_dir / PUBLISHED_DATABASE}")
    print(
        "Tombstone recorded: re-loaded files will not bring them back. Aggregates are "
        "recomputed by the next `nps-warehouse run`."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
