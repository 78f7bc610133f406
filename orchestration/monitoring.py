"""What the UI plots over time: numeric metadata on every mart materialization, and freshness.

Metadata (numbers only, so Dagster draws them as plots on the asset page): `dagster/row_count`
for every model; overall NPS, 30-day rolling NPS and the responses of the latest day for the
customer NPS marts; quarantined rows for the quarantine mart and the fact. Freshness: the check
`new_data_arrived` on the customer NPS marts fails (warning) when no landing file brought new
responses within $NPS_FRESHNESS_HOURS (default 36).
"""

import logging
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb

from orchestration.engines import SPARK
from orchestration.resources import WarehouseResource

log = logging.getLogger(__name__)

FRESHNESS_HOURS_ENV = "NPS_FRESHNESS_HOURS"
DEFAULT_FRESHNESS_HOURS = 36.0
FRESHNESS_CHECK = "new_data_arrived"

# marts whose value is the NPS of the responses: they carry the NPS metadata and go stale
NPS_MARTS = ("fct_nps_responses", "nps_daily", "nps_rolling", "nps_by_period")

KPI_SQL = """
with facts as (
    select response_date, is_promoter, is_detractor from marts.fct_nps_responses
),
latest as (select max(response_date) as day from facts)
select
    100.0 * (count_if(is_promoter) - count_if(is_detractor)) / nullif(count(*), 0),
    100.0 * (
        count_if(is_promoter and response_date > latest.day - 30)
        - count_if(is_detractor and response_date > latest.day - 30)
    ) / nullif(count_if(response_date > latest.day - 30), 0),
    count_if(response_date = latest.day),
    count(*)
from facts, latest
group by latest.day
"""


def freshness_hours() -> float:
    return float(os.environ.get(FRESHNESS_HOURS_ENV) or DEFAULT_FRESHNESS_HOURS)


def _table_exists(conn: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    return bool(
        conn.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = ?",
            [schema, name],
        ).fetchall()[0][0]
    )


def model_metadata(warehouse: Path, keys: Iterable[dg.AssetKey]) -> dict[dg.AssetKey, dict]:
    """Numeric metadata per materialized model; empty when the warehouse cannot be read (the
    numbers are a convenience, never a reason to fail the run)."""
    keys = list(keys)
    result: dict[dg.AssetKey, dict] = {key: {} for key in keys}
    try:
        conn = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:
        log.warning("no mart metadata: %s", exc)
        return result
    try:
        kpis = None
        if _table_exists(conn, "marts", "fct_nps_responses"):
            rows = conn.execute(KPI_SQL).fetchall()
            kpis = rows[0] if rows else (None, None, 0, 0)
        quarantined = (
            conn.execute("select count(*) from marts.nps_quarantine").fetchall()[0][0]
            if _table_exists(conn, "marts", "nps_quarantine")
            else None
        )
        for key in keys:
            schema, name = key.path[0], key.path[-1]
            if not _table_exists(conn, schema, name):
                continue
            metadata: dict = {
                "dagster/row_count": conn.execute(
                    f'select count(*) from "{schema}"."{name}"'
                ).fetchall()[0][0]
            }
            if schema == "marts" and name in NPS_MARTS and kpis is not None:
                overall, rolling, latest_day, _ = kpis
                # no value rather than a made-up one when there are no responses
                if overall is not None:
                    metadata["overall_nps"] = round(float(overall), 2)
                if rolling is not None:
                    metadata["rolling_30d_nps"] = round(float(rolling), 2)
                metadata["responses_latest_day"] = int(latest_day or 0)
            if name in ("nps_quarantine", "fct_nps_responses") and quarantined is not None:
                metadata["quarantined_rows"] = int(quarantined)
            result[key] = metadata
    except duckdb.Error as exc:
        log.warning("mart metadata incomplete: %s", exc)
    finally:
        conn.close()
    return result


def last_new_data_at(conn: duckdb.DuckDBPyConnection) -> datetime | None:
    if not _table_exists(conn, "raw", "landing_manifest"):
        return None
    value = conn.execute(
        "select max(loaded_at) from raw.landing_manifest where feed = 'nps' and row_count > 0"
    ).fetchall()[0][0]
    # Spark's timestamps come without offset, in its session's time zone (UTC)
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def build_freshness_checks(
    asset_keys: Iterable[dg.AssetKey],
) -> dg.AssetChecksDefinition:
    keys = [k for k in asset_keys if k.path[0] == "marts" and k.path[-1] in NPS_MARTS]

    @dg.multi_asset_check(
        name="nps_marts_freshness",
        specs=[
            dg.AssetCheckSpec(
                FRESHNESS_CHECK,
                asset=key,
                description=(
                    "Warns (the mart is stale) when no landing file brought customer responses "
                    f"within ${FRESHNESS_HOURS_ENV} hours (default {DEFAULT_FRESHNESS_HOURS:g})."
                ),
            )
            for key in keys
        ],
        can_subset=True,
    )
    def _freshness(
        context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> Iterable[dg.AssetCheckResult]:
        limit = freshness_hours()
        engine = warehouse.engine
        # the manifest is in the DuckDB file (the landing cache on PostgreSQL), on Spark in Spark
        connection = engine.connect if engine.name == SPARK else warehouse.connect
        with connection(read_only=True) as conn:
            last = last_new_data_at(conn)
        now = datetime.now(UTC)
        age = (now - last).total_seconds() / 3600 if last else None
        for check_key in context.selected_asset_check_keys:
            yield dg.AssetCheckResult(
                asset_key=check_key.asset_key,
                check_name=check_key.name,
                passed=age is not None and age <= limit,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "hours_since_new_data": round(age, 2) if age is not None else -1.0,
                    "freshness_hours": limit,
                    "last_new_data_at": last.isoformat() if last else "never",
                },
            )

    return _freshness
