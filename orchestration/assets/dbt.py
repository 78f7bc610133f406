"""Staging, intermediate and mart models: the dbt project as Dagster assets."""

from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)

from orchestration.project import nps_dbt_project

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


@dbt_assets(
    manifest=nps_dbt_project.manifest_path,
    project=nps_dbt_project,
    dagster_dbt_translator=nps_dbt_translator,
    name="nps_dbt_models",
)
def nps_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
    # unit tests prove the SQL, not the data: they run in `make test`, not on every load
    yield from dbt.cli(["build", "--exclude-resource-type", "unit_test"], context=context).stream()
