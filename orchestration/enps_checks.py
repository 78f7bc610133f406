"""Asset checks guarding eNPS anonymity on what BI tools read (the `marts` schema).

The Great Expectations suite expectations/enps_by_wave.json (no row with fewer than k responses
carries a score) runs as the check `enps_by_wave_suite` through orchestration/quality/mart_checks.
"""

import dagster as dg

from orchestration.resources import WarehouseResource

ENPS_BY_WAVE = dg.AssetKey(["marts", "enps_by_wave"])

# Columns that only a per-response table has: none of them may appear in an eNPS mart.
PER_RESPONSE_COLUMNS = ("response_id", "source_row", "submitted_at", "score")

PER_RESPONSE_SQL = f"""
select table_name, column_name
from information_schema.columns
where table_schema = 'marts' and table_name like 'enps%'
    and column_name in ({", ".join(f"'{c}'" for c in PER_RESPONSE_COLUMNS)})
order by 1, 2
"""


@dg.asset_check(
    asset=ENPS_BY_WAVE,
    name="enps_marts_hold_no_response_rows",
    description=(
        "No eNPS table in the `marts` schema (what BI tools and the published copy read) has a "
        "per-response column (response_id, source_row, submitted_at, score): per-response eNPS "
        "data stays in `people_restricted`."
    ),
)
def enps_marts_hold_no_response_rows(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    found = warehouse.engine.fetchall(PER_RESPONSE_SQL)
    return dg.AssetCheckResult(
        passed=not found,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"per_response_columns": dg.MetadataValue.json([list(r) for r in found])},
    )


enps_checks = [enps_marts_hold_no_response_rows]
