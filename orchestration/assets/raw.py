"""Raw layer: landing files -> `raw` schema, exactly once, validated file by file.

One asset per feed of the landing contract (orchestration/landing/feeds.py); each carries two
checks: every file readable, and the feed's Great Expectations suite on every newly loaded file.
"""

from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import duckdb

from orchestration.engines import SPARK
from orchestration.engines.base import SHARED_RAW_TABLES
from orchestration.landing.feeds import FEEDS, NPS_RESPONSES, Feed
from orchestration.landing.loader import LoadReport
from orchestration.partitions import (
    LOAD_RETRY_POLICY,
    TOUCHED_DAYS_METADATA,
    check_landing_files,
    days_after_load,
    days_before_load,
    load_with_file_errors,
    touched_metadata,
)
from orchestration.quality.runtime import quality_project_dir
from orchestration.resources import LandingResource, WarehouseResource

FILES_READABLE_CHECK = "landing_files_readable"

RAW_LANDING_MANIFEST = dg.AssetKey(["raw", "landing_manifest"])

landing_manifest = dg.AssetSpec(
    RAW_LANDING_MANIFEST,
    group_name="raw",
    description=(
        "One row per landing file of every feed: checksum of the loaded version, rows, status "
        "and the last error. Written by each raw load asset; makes loading idempotent "
        "(unchanged files are skipped, changed files replace their rows, deleted files' rows "
        "stay)."
    ),
    owners=["team:data-platform"],
    kinds={"duckdb"},
)


RAW_BATCH_VALIDATIONS = dg.AssetKey(["raw", "batch_validations"])

batch_validations = dg.AssetSpec(
    RAW_BATCH_VALIDATIONS,
    group_name="raw",
    description=(
        "One row per landing file, load and raw suite: whether the file passed its Great "
        "Expectations suite, whether it is held back (blocked) and which expectations failed. "
        "Written by each raw load asset; the models quarantine a blocked file's rows as "
        "`batch_failed_validation`."
    ),
    owners=["team:data-platform"],
    kinds={"duckdb"},
)


privacy_erasures = dg.AssetSpec(
    dg.AssetKey(["raw", "privacy_erasures"]),
    group_name="raw",
    description=(
        "Rows erased for privacy per file version (counts, no identifiers): by `nps-warehouse "
        "forget`, or dropped at load because the respondent was forgotten (a tombstone in "
        "raw.privacy_tombstones). Written by the loader and orchestration/privacy.py; "
        "nps_load_reconciliation adds them to the row accounting."
    ),
    owners=["team:data-platform"],
    kinds={"duckdb"},
)


def raw_asset_key(feed: Feed) -> dg.AssetKey:
    return dg.AssetKey(["raw", feed.table])


def suite_check_name(feed: Feed) -> str:
    return f"{feed.suite}_suite"


def build_raw_load_asset(feed: Feed) -> dg.AssetsDefinition:
    key = raw_asset_key(feed)
    # the NPS load records the submission days it touched, which the run's dbt invocations
    # reprocess; no raw asset is partitioned: a load takes every pending file, whatever the
    # range (partitioned, it recorded one materialization per day of a run's range)
    records_days = feed is NPS_RESPONSES

    @dg.asset(
        key=key,
        group_name="raw",
        description=feed.description,
        owners=["team:data-platform"],
        kinds={"duckdb", "python"},
        retry_policy=LOAD_RETRY_POLICY,
        check_specs=[
            dg.AssetCheckSpec(
                FILES_READABLE_CHECK,
                asset=key,
                description=(
                    f"Every file under `<landing>/{feed.folder}/` could be read; a failure names "
                    "the file, line and column. The other files still load."
                ),
            ),
            dg.AssetCheckSpec(
                suite_check_name(feed),
                asset=key,
                description=(
                    f"Great Expectations suite expectations/{feed.suite}.json on each newly "
                    "loaded file; metadata lists failing expectations and counts per file."
                ),
            ),
        ],
    )
    def _load(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        landing: LandingResource,
        warehouse_lock: dg.ResourceParam[Path],  # held for the whole run (orchestration/locking.py)
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        # transient (retried with backoff) and permanent (dg.Failure naming the file) file
        # errors surface before anything is written, so a retry starts from a clean state
        check_landing_files(context, landing.directory, feed)
        engine = warehouse.engine
        if engine.name == SPARK:
            # Spark reads the files into its own raw tables; no day range is recorded there: the
            # incremental models find the changed files by comparing raw with their own rows
            from orchestration.quality.spark_batches import load_and_validate

            report, verdicts = load_and_validate(
                engine,
                landing.directory,
                feed,
                context.run_id,
                quality_project_dir(context.instance),
            )
            touched = None
        else:
            with warehouse.connect() as conn:
                replaced_days = days_before_load(conn, landing.directory) if records_days else None
                report = load_with_file_errors(conn, landing.directory, feed, context.run_id)
                verdicts = validate_written_files(
                    conn, feed, report, quality_project_dir(context.instance), context.run_id
                )
                touched = (
                    days_after_load(conn, context.run_id, replaced_days) if records_days else None
                )
                # on PostgreSQL, dbt reads a copy of the raw tables (a no-op on DuckDB)
                copied = engine.write_raw(conn, raw_tables_to_copy(conn, feed))
            if engine.name != "duckdb":
                context.log.info(f"raw tables copied to {engine.name}: {copied}")
        for failed in report.failed:
            context.log.error(f"landing file not loaded: {failed.error}")
        # names only: the values of a forbidden (identifier) column are never read into the log
        dropped = {
            f.source_file: list(f.dropped_columns) for f in report.written if f.dropped_columns
        }
        for source_file, columns in dropped.items():
            context.log.warning(
                f"{source_file}: identifier column(s) dropped at load, not stored: "
                + ", ".join(columns)
            )
        yield dg.MaterializeResult(
            metadata={
                "files_seen": len(report.files),
                "files_loaded": len(report.written),
                "files_failed": len(report.failed),
                "rows_loaded": report.rows_written,
                "loaded_files": dg.MetadataValue.json(
                    {f.source_file: {"outcome": f.outcome, "rows": f.rows} for f in report.written}
                ),
                "dropped_identifier_columns": dg.MetadataValue.json(dropped),
                **({TOUCHED_DAYS_METADATA: touched_metadata(touched)} if records_days else {}),
            },
        )
        yield dg.AssetCheckResult(
            check_name=FILES_READABLE_CHECK,
            passed=not report.failed,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "failed_files": dg.MetadataValue.json(
                    {f.source_file: f.error for f in report.failed}
                ),
                "failed_count": len(report.failed),
            },
        )
        failing = [v for v in verdicts if not v.validation.success]
        blocked = {v.validation.batch: v.failed_summary() for v in verdicts if v.blocked}
        for source_file, failures in blocked.items():
            context.log.error(
                f"{source_file} held back (its rows are quarantined as batch_failed_validation): "
                + ", ".join(f["key"] for f in failures if f["effect"] == "blocks")
            )
        yield dg.AssetCheckResult(
            check_name=suite_check_name(feed),
            passed=not failing,
            # A blocked file is an error; failures that only warn (severity "warning" in the
            # suite's meta, or a share threshold on a tiny file) leave the file flowing.
            severity=dg.AssetCheckSeverity.ERROR if blocked else dg.AssetCheckSeverity.WARN,
            metadata={
                "batches_validated": len(verdicts),
                "batches_failed": len(failing),
                "batches_blocked": len(blocked),
                "blocked_files": dg.MetadataValue.json(blocked),
                "failures": dg.MetadataValue.json(
                    {v.validation.batch: v.to_metadata() for v in failing}
                ),
            },
        )

    return _load


def raw_tables_to_copy(conn: duckdb.DuckDBPyConnection, feed: Feed) -> list[str]:
    """The feed's raw table and the shared bookkeeping tables that exist in the loader's file."""
    present = {
        name
        for (name,) in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'"
        ).fetchall()
    }
    return [t for t in (feed.table, *SHARED_RAW_TABLES) if t in present]


def batch_builders() -> dict[str, Callable[..., object]]:
    """Per feed: (connection, source_file, load_id, columns=None) -> the batch its raw suite
    validates, not read yet (raw_batch_sql.FileBatch; only `columns` when given)."""
    from orchestration.quality.raw_batches import nps_file_batch
    from orchestration.quality.raw_enps_batches import enps_file_batch
    from orchestration.quality.raw_feedback_batches import (
        action_item_file_batch,
        followup_file_batch,
    )
    from orchestration.settings import SEEDS_DIR

    return {
        "nps": lambda conn, source_file, load_id, columns=None: nps_file_batch(
            conn, source_file, load_id, SEEDS_DIR / "surveys.csv", columns
        ),
        "enps": lambda conn, source_file, load_id, columns=None: enps_file_batch(
            conn, source_file, load_id, columns=columns
        ),
        "followups": followup_file_batch,
        "action_plans": action_item_file_batch,
    }


def validate_written_files(
    conn: duckdb.DuckDBPyConnection,
    feed: Feed,
    report: LoadReport,
    project_dir: Path | None = None,
    run_id: str = "",
) -> list:
    """Validate each newly written file and record its verdict (blocking, see
    orchestration/quality/verdicts.py); results are kept under `project_dir` for Data Docs."""
    from orchestration.quality.verdicts import ensure_batch_validations_table

    ensure_batch_validations_table(conn)  # dbt reads it even when nothing was loaded
    if not report.written:
        return []
    # imported here: Great Expectations takes seconds to import
    from orchestration.quality.raw_validation import validate_load
    from orchestration.quality.runtime import validator_for

    return validate_load(
        conn,
        feed.name,
        feed.suite,
        [f.source_file for f in report.written],
        report.load_id,
        batch_builders()[feed.name],
        validator_for(project_dir, run_id or report.load_id),
    )


raw_load_assets = [build_raw_load_asset(feed) for feed in FEEDS]
