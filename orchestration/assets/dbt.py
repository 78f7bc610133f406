"""Staging, intermediate and mart models: the dbt project as Dagster assets.

Three selections of one dbt project, each one dbt invocation, in dependency order: the models the
response facts are built from (`nps_dbt_upstream_models`, unpartitioned), the day-grained facts
(`nps_dbt_partitioned_models`, partitioned by day) and every other model
(`nps_dbt_models`, unpartitioned). A run with a partition range passes it to each invocation,
widened to the days the run's raw load touched (see `dbt_partition_env`); without one, dbt makes a
normal incremental run.
"""

from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)

from orchestration.engines import before_dbt
from orchestration.landing.feeds import NPS_RESPONSES
from orchestration.monitoring import model_metadata
from orchestration.partitions import (
    TOUCHED_DAYS_METADATA,
    DayRange,
    dbt_partition_env,
    dbt_vars_args,
    nps_daily_partitions,
    run_day_range,
    union_all,
)
from orchestration.project import invocation_target_path, keep_parse, nps_dbt_project
from orchestration.resources import WarehouseResource

# Daily-partitioned: only the day-grained facts (by response_date). Their ancestors (seeds,
# staging views, int_nps_responses_validated, which is incremental by file, and the categorised
# view) are unpartitioned and run first: partitioned, each of them recorded one materialization
# per day of a run's range (9 assets x 366 days for a year), for models with no day grain.
PARTITIONED_MODELS = ("fct_nps_responses", "nps_daily")
PARTITIONED_SELECT = " ".join(PARTITIONED_MODELS)
PARTITIONED_LINEAGE_SELECT = " ".join(f"+{model}" for model in PARTITIONED_MODELS)

LAYER_OWNERS = {
    "staging": "team:data-platform",
    "intermediate": "team:data-platform",
    "reference": "team:data-platform",
    "marts": "team:cx-analytics",
}


class NpsDbtTranslator(DagsterDbtTranslator):
    """Groups assets by layer (the models' top folder) and takes owners from the models' meta."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "reference"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "marts"

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str] | None:
        meta = dbt_resource_props.get("config", {}).get("meta", {}) or dbt_resource_props.get(
            "meta", {}
        )
        if meta.get("owner"):
            return [f"team:{meta['owner']}"]
        group = self.get_group_name(dbt_resource_props)
        return [LAYER_OWNERS[group]] if group in LAYER_OWNERS else None


nps_dbt_translator = NpsDbtTranslator(
    settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)
)


class DbtBuildConfig(dg.Config):
    full_refresh: bool = False  # rebuild incremental models from scratch (dbt --full-refresh)


def touched_days(context: dg.AssetExecutionContext) -> DayRange | None:
    """Days whose facts this run's raw load changed (new rows, replaced files' old rows), as
    the raw asset recorded them: a file of any date loaded by any run is never left out."""
    raw_key = dg.AssetKey(["raw", NPS_RESPONSES.table])
    ranges = []
    for record in context.instance.all_logs(
        context.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ):
        materialization = record.asset_materialization
        if materialization is None or materialization.asset_key != raw_key:
            continue
        value = materialization.metadata.get(TOUCHED_DAYS_METADATA)
        ranges.append(DayRange.from_json(value.value if value is not None else None))
    return union_all(ranges)


def backfill_days(context: dg.AssetExecutionContext) -> DayRange | None:
    """The days of the UI backfill this run belongs to: an asset backfill runs the unpartitioned
    models in a run of their own, which must still recompute the backfilled days."""
    backfill_id = context.run.tags.get("dagster/backfill")
    if not backfill_id:
        return None
    try:
        backfill = context.instance.get_backfill(backfill_id)
        if backfill is None or not backfill.is_asset_backfill:
            return None
        data = backfill.get_asset_backfill_data(context.repository_def.asset_graph)
        days = sorted(
            date.fromisoformat(item.partition_key)
            for item in data.target_subset.iterate_asset_partitions()
            if item.partition_key
        )
    except Exception as exc:  # noqa: BLE001 - only the widening is lost: the run still builds
        context.log.warning(f"days of backfill {backfill_id} not read: {exc}")
        return None
    return DayRange(days[0], days[-1]) if days else None


def reprocess_range(context: dg.AssetExecutionContext) -> DayRange | None:
    return union_all(
        [run_day_range(context.run.tags), touched_days(context), backfill_days(context)]
    )


def build_models(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
    config: DbtBuildConfig,
) -> Iterator[Any]:
    days = reprocess_range(context)
    vars_args = dbt_vars_args()
    args = [
        "build",
        "--exclude-resource-type",
        "unit_test",
        # a test between two selections (a relationship from a voice mart to the facts) runs
        # with the later one, once both its models exist
        "--indirect-selection",
        "buildable",
        *vars_args,
    ]
    engine = warehouse.engine
    if config.full_refresh:
        args.append("--full-refresh")
    context.log.info(
        f"dbt reprocesses {days.start}..{days.end}" if days else "dbt: normal incremental run"
    )
    before_dbt(engine)  # on Spark: dbt's process takes the metastore over from this one
    # unit tests prove the SQL, not the data: they run in `make test`, not on every load
    target = invocation_target_path(
        f"{context.op_execution_context.op.name}-{context.run.run_id[:7]}", vars_args
    )
    with dbt_partition_env(days):  # the dbt process is started inside
        invocation = dbt.cli(args, context=context, raise_on_error=False, target_path=target)
    # events are held until dbt exits: the metadata queries need the DuckDB file dbt writes
    events = list(invocation.stream())
    outputs = [e for e in events if isinstance(e, dg.Output)]
    metadata = model_metadata(
        warehouse.warehouse_path,
        [context.asset_key_for_output(e.output_name) for e in outputs],
    )
    for event in events:
        if isinstance(event, dg.Output):
            key = context.asset_key_for_output(event.output_name)
            event = event.with_metadata({**event.metadata, **metadata.get(key, {})})
        yield event
    keep_parse(target, vars_args)
    if not invocation.is_successful():
        raise invocation.get_error() or dg.Failure("dbt build failed")


@dbt_assets(
    manifest=nps_dbt_project.manifest_path,
    project=nps_dbt_project,
    dagster_dbt_translator=nps_dbt_translator,
    name="nps_dbt_upstream_models",
    select=PARTITIONED_LINEAGE_SELECT,
    exclude=PARTITIONED_SELECT,
)
def nps_dbt_upstream_models(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
    warehouse_lock: dg.ResourceParam[Path],
    config: DbtBuildConfig,
) -> Iterator[Any]:
    # the range too: int_nps_responses_validated rejects a malformed one before any day is built
    yield from build_models(context, dbt, warehouse, config)


@dbt_assets(
    manifest=nps_dbt_project.manifest_path,
    project=nps_dbt_project,
    dagster_dbt_translator=nps_dbt_translator,
    name="nps_dbt_partitioned_models",
    select=PARTITIONED_SELECT,
    partitions_def=nps_daily_partitions,
    # a backfill of any range is one run: one dbt invocation with the range
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def nps_dbt_partitioned_models(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
    warehouse_lock: dg.ResourceParam[Path],
    config: DbtBuildConfig,
) -> Iterator[Any]:
    yield from build_models(context, dbt, warehouse, config)


@dbt_assets(
    manifest=nps_dbt_project.manifest_path,
    project=nps_dbt_project,
    dagster_dbt_translator=nps_dbt_translator,
    name="nps_dbt_models",
    exclude=PARTITIONED_LINEAGE_SELECT,
)
def nps_dbt_models(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
    config: DbtBuildConfig,
) -> Iterator[Any]:
    # the same range: downstream incremental marts (rolling windows) recompute the affected days
    yield from build_models(context, dbt, warehouse, config)


# every dbt selection, in the order a run invokes them
NPS_DBT_ASSETS = (nps_dbt_upstream_models, nps_dbt_partitioned_models, nps_dbt_models)
