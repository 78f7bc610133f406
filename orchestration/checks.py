"""Asset checks written in Python (dbt's tests become asset checks by themselves)."""

import dagster as dg

from orchestration.resources import WarehouseResource

UNREGISTERED_SQL = """
select 'survey' as kind, survey_id as id, count(*) as responses
from marts.fct_nps_responses where not is_registered_survey group by survey_id
union all
select 'branch', branch_id, count(*)
from marts.fct_nps_responses where not is_registered_branch group by branch_id
order by kind, id
"""


@dg.asset_check(
    asset=dg.AssetKey(["marts", "fct_nps_responses"]),
    name="unregistered_reference_ids",
    description=(
        "Lists survey and branch ids that responses carry but the `surveys` / `branches` seeds "
        "do not. Such responses are accepted (0-10 scale, hierarchy 'unknown'); register the ids "
        "in the seeds to place them in the hierarchy."
    ),
)
def unregistered_reference_ids(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    rows = warehouse.engine.fetchall(UNREGISTERED_SQL)
    listed = {
        kind: {identifier: responses for k, identifier, responses in rows if k == kind}
        for kind in ("survey", "branch")
    }
    return dg.AssetCheckResult(
        passed=not rows,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "unregistered_surveys": dg.MetadataValue.json(listed["survey"]),
            "unregistered_branches": dg.MetadataValue.json(listed["branch"]),
            "responses_affected": sum(r[2] for r in rows),
        },
    )
