"""Raw layer: landing files -> `raw` schema, exactly once, validated file by file.

One asset per feed of the landing contract (orchestration/landing/feeds.py); each carries two
checks: every file readable, and the feed's Great Expectations suite on every newly loaded file.
"""

from collections.abc import Callable, Iterator

import dagster as dg
import duckdb

from orchestration.landing.feeds import FEEDS, Feed
from orchestration.landing.loader import LoadReport, load_feed
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


def raw_asset_key(feed: Feed) -> dg.AssetKey:
    return dg.AssetKey(["raw", feed.table])


def suite_check_name(feed: Feed) -> str:
    return f"{feed.suite}_suite"


def build_raw_load_asset(feed: Feed) -> dg.AssetsDefinition:
    key = raw_asset_key(feed)

    @dg.asset(
        key=key,
        group_name="raw",
        description=feed.description,
        owners=["team:data-platform"],
        kinds={"duckdb", "python"},
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
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, landing: LandingResource
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        with warehouse.connect() as conn:
            report = load_feed(conn, landing.directory, feed, load_id=context.run_id)
            validations = validate_written_files(conn, feed, report)
        for failed in report.failed:
            context.log.error(f"landing file not loaded: {failed.error}")
        yield dg.MaterializeResult(
            metadata={
                "files_seen": len(report.files),
                "files_loaded": len(report.written),
                "files_failed": len(report.failed),
                "rows_loaded": report.rows_written,
                "loaded_files": dg.MetadataValue.json(
                    {f.source_file: {"outcome": f.outcome, "rows": f.rows} for f in report.written}
                ),
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
        failing = [v for v in validations if not v.success]
        yield dg.AssetCheckResult(
            check_name=suite_check_name(feed),
            passed=not failing,
            # Dirty rows are expected and quarantined downstream: a failing batch warns.
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "batches_validated": len(validations),
                "batches_failed": len(failing),
                "failures": dg.MetadataValue.json({v.batch: v.to_metadata() for v in failing}),
            },
        )

    return _load


def batch_builders() -> dict[str, Callable[[duckdb.DuckDBPyConnection, str, str], object]]:
    """Per feed: (connection, source_file, load_id) -> the frame its raw suite validates."""
    from orchestration.quality.raw_batches import raw_nps_batch
    from orchestration.settings import SEEDS_DIR

    return {
        "nps": lambda conn, source_file, load_id: raw_nps_batch(
            conn, source_file, load_id, SEEDS_DIR / "surveys.csv"
        ),
    }


def validate_written_files(conn: duckdb.DuckDBPyConnection, feed: Feed, report: LoadReport) -> list:
    if not report.written:
        return []
    # imported here: Great Expectations takes seconds to import
    from orchestration.quality.gx_engine import Validator

    build_batch = batch_builders()[feed.name]
    validator = Validator()
    return [
        validator.validate(
            feed.suite, build_batch(conn, f.source_file, report.load_id), batch=f.source_file
        )
        for f in report.written
    ]


raw_load_assets = [build_raw_load_asset(feed) for feed in FEEDS]
