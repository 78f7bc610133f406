"""Great Expectations suites on models (reference, staging, marts) as Dagster asset checks.

Every `expectations/<name>.json` whose `meta.asset` names a model asset (e.g.
`marts/nps_daily`) becomes the asset check `<name>_suite` on that asset. A suite whose asset is
not (yet) in the asset graph is skipped, so a suite can be committed before its mart. Raw suites
(`raw/...`) are run by the raw load assets, file by file, instead.

The check validates the model with the run's shared Validator on the engine's route
(orchestration/quality/readers.py: GX's SQL datasource on PostgreSQL; on DuckDB the suite's
columns read into GX's pandas datasource, in record batches for long marts) and reports per
expectation the observed value and failing count. Its severity comes from the suite's meta
(verdicts.check_severity): ERROR when a failed expectation has severity "error", else WARN. A
suite with `meta.blocking: true` is a blocking check: when it fails with ERROR, the assets
downstream of its model (the copy published for BI tools, the report) are not built in that
run. The suites whose rules dbt does not test a second time block: eNPS anonymity, and the
ranges and intervals of the NPS marts and facts.

A suite with `meta.rebuilt_rows` (nps_rolling, fct_nps_responses) validates only the rows its
incremental mart rebuilt since the suite last passed (orchestration/quality/rebuilt_rows.py): a
blocked run's rows stay in scope until a validation passes; anything unknown validates every
row, and so does a bound on the whole table that fails on rebuilt rows not holding the table's
maximum (fct_nps_responses' freshness, when no rebuilt row is new).
"""

import dataclasses
import json
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg

from orchestration.quality.gx_engine import DEFAULT_EXPECTATIONS_DIR, load_suite_definition
from orchestration.resources import WarehouseResource

RAW_PREFIX = "raw/"


def suite_check_name(suite: str) -> str:
    return f"{suite}_suite"


def model_suites(expectations_dir: Path | None = None) -> dict[str, dict[str, Any]]:
    """Suite name -> definition, for every suite whose meta.asset is a model (not raw)."""
    directory = Path(expectations_dir or DEFAULT_EXPECTATIONS_DIR)
    suites = {}
    for path in sorted(directory.glob("*.json")):
        meta = json.loads(path.read_text(encoding="utf-8")).get("meta") or {}
        asset = meta.get("asset")
        if isinstance(asset, str) and asset and not asset.startswith(RAW_PREFIX):
            suites[path.stem] = load_suite_definition(path.stem, directory)
    return suites


def suite_parameters(definition: Mapping[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """Runtime values for a model suite's placeholders (today: the freshness cutoff)."""
    meta = definition.get("meta") or {}
    parameters: dict[str, Any] = {}
    freshness = meta.get("freshness")
    if isinstance(freshness, Mapping):
        hours = float(freshness.get("max_age_hours", 72))
        override = os.environ.get(str(freshness.get("env") or ""), "").strip()
        if override:
            hours = float(override)
        now = now or datetime.now(UTC)
        parameters[str(freshness.get("parameter", "freshness_cutoff"))] = now - timedelta(
            hours=hours
        )
    return parameters


def evaluation_metadata(definition: Mapping[str, Any], validation: Any, rows: int | None) -> dict:
    """Check metadata: per expectation its observed value and failing count, plus failures."""
    from orchestration.quality.verdicts import expectation_severity

    expectations = {
        o.key or o.expectation: {
            "success": o.success,
            "severity": expectation_severity(definition, o.key),
            "unexpected_count": o.unexpected_count,
            "element_count": o.element_count,
            "observed_value": o.observed_value,
            **({"exception": o.exception} if o.exception else {}),
        }
        for o in validation.outcomes
    }
    failures = validation.failures()
    return {
        "rows": rows,
        # which GX datasource read the batch (pandas for DuckDB, postgres for PostgreSQL) and
        # in how many chunks (a long DuckDB mart is validated in record batches)
        "gx_datasource": validation.datasource,
        "chunks": validation.chunks,
        "evaluated_expectations": len(validation.outcomes),
        "failed_expectations": len(failures),
        "failed": dg.MetadataValue.json([o.key or o.expectation for o in failures]),
        "failing_counts": dg.MetadataValue.json(
            {o.key or o.expectation: o.unexpected_count for o in failures}
        ),
        "expectations": dg.MetadataValue.json(expectations),
        "outcomes": dg.MetadataValue.json([o.to_dict() for o in validation.outcomes]),
    }


def _build_check(suite: str, definition: dict[str, Any]) -> dg.AssetChecksDefinition:
    asset_key = dg.AssetKey.from_user_string(definition["meta"]["asset"])
    schema, table = asset_key.path[0], asset_key.path[-1]
    meta = definition.get("meta") or {}

    blocking = bool(meta.get("blocking", False))

    @dg.asset_check(
        asset=asset_key,
        name=suite_check_name(suite),
        description=(
            f"Great Expectations suite expectations/{suite}.json "
            f"(severity {meta.get('severity', 'warning')}{', blocking' if blocking else ''}): "
            + str(meta.get("description", "")).split(". ")[0]
        ),
        blocking=blocking,
    )
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
        # imported here: Great Expectations takes seconds to import
        from orchestration.quality.gx_engine import failed_bounds, rows_passed
        from orchestration.quality.readers import validate_relation
        from orchestration.quality.rebuilt_rows import (
            bounds_judged_in_scope,
            record_pass,
            validation_scope,
        )
        from orchestration.quality.runtime import quality_project_dir, validator_for
        from orchestration.quality.verdicts import check_severity

        parameters = suite_parameters(definition)
        validator = validator_for(
            quality_project_dir(context.instance), context.op_execution_context.run_id
        )
        engine = warehouse.engine
        scope = validation_scope(engine, schema, table, suite, definition, parameters or None)
        validation = validate_relation(
            validator,
            engine,
            schema,
            table,
            suite,
            definition,
            parameters or None,
            where=scope.where,
        )
        bounds = None if scope.where is None else failed_bounds(definition, validation)
        if bounds and not bounds_judged_in_scope(engine, schema, table, bounds, scope.where):
            # the newest submitted_at is not among the rebuilt rows: judge the whole table
            scope = dataclasses.replace(
                scope,
                where=None,
                first_day=None,
                reason=f"{scope.reason}; a bound on the whole table failed on those rows alone",
            )
            validation = validate_relation(
                validator, engine, schema, table, suite, definition, parameters or None
            )
        if rows_passed(definition, validation):
            record_pass(engine, scope, suite, table, validation.rows)
        metadata = evaluation_metadata(definition, validation, validation.rows)
        metadata["validated_rows"] = dg.MetadataValue.json(scope.to_metadata())
        if parameters:
            metadata["suite_parameters"] = dg.MetadataValue.json(
                {k: str(v) for k, v in parameters.items()}
            )
        severity = check_severity(definition, validation.failures())
        return dg.AssetCheckResult(
            passed=validation.success,
            severity=dg.AssetCheckSeverity(severity),
            metadata=metadata,
        )

    return _check


def build_suite_checks(
    asset_keys: Iterable[dg.AssetKey], expectations_dir: Path | None = None
) -> list[dg.AssetChecksDefinition]:
    """One asset check per model suite whose asset is among `asset_keys`."""
    present = {k.to_user_string() for k in asset_keys}
    return [
        _build_check(suite, definition)
        for suite, definition in model_suites(expectations_dir).items()
        if definition["meta"]["asset"] in present
    ]
