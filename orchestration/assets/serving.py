"""Serving layer: what BI tools read, published only from a run whose models and tests passed."""

import dagster as dg

from orchestration.assets.dbt import nps_dbt_models, nps_dbt_partitioned_models
from orchestration.engines import SPARK
from orchestration.publish import publish_marts, publish_parquet, publish_spark_marts
from orchestration.resources import WarehouseResource
from orchestration.settings import FILE_LAYOUT, PARQUET_LAYOUT_ENV, parquet_layout_from_env

MART_KEYS = sorted(
    (
        key
        for key in (*nps_dbt_models.keys, *nps_dbt_partitioned_models.keys)
        if key.path[0] == "marts"
    ),
    key=lambda k: k.path,
)


@dg.asset(
    key=["serving", "published_marts"],
    group_name="serving",
    deps=MART_KEYS,
    owners=["team:data-platform"],
    kinds={"duckdb", "postgres", "spark", "parquet"},
    description=(
        "The marts published for BI tools: a read-only DuckDB file "
        "(`published/nps_warehouse.duckdb`, schema `marts`) swapped in by rename, so readers "
        "see the old or the new marts and never block the pipeline, and one Parquet file per "
        "mart (`published/parquet/<mart>.parquet`; with NPS_PARQUET_LAYOUT=monthly a folder "
        "per mart, `published/parquet/<mart>/<YYYY-MM>.parquet`); only the marts (and days, "
        "or months) whose rows changed are written again. "
        "Skipped when a model or an error-severity dbt test failed. On the PostgreSQL target "
        "BI tools connect to PostgreSQL's `marts` schema: only the Parquet files are written, "
        "read from one snapshot of that schema. On Spark, Spark writes the Parquet files and "
        "the DuckDB file holds a view per mart over them."
    ),
)
def published_marts(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    engine = warehouse.engine
    parquet_layout = parquet_layout_from_env()
    if parquet_layout != FILE_LAYOUT and not engine.publishes_duckdb_file:
        raise dg.Failure(
            f"{PARQUET_LAYOUT_ENV}={parquet_layout} is implemented for the DuckDB target only "
            f"(target {engine.name} publishes one Parquet file per mart)"
        )
    if engine.name == SPARK:
        publication = publish_spark_marts(engine, warehouse.publish_path, context.run_id)
    elif engine.publishes_duckdb_file:
        publication = publish_marts(
            warehouse.warehouse_path,
            warehouse.publish_path,
            context.run_id,
            parquet_layout=parquet_layout,
        )
    else:
        context.log.info(
            f"target {engine.name}: no DuckDB copy (BI tools read the marts schema of "
            f"{engine!r}); Parquet files are written from it"
        )
        publication = publish_parquet(engine, warehouse.publish_path, context.run_id)
    database = (
        {"database": dg.MetadataValue.path(str(publication.database))}
        if publication.database
        else {"target": engine.name}
    )
    return dg.MaterializeResult(
        metadata={
            **database,
            "parquet_dir": dg.MetadataValue.path(str(publication.parquet_dir)),
            "marts": len(publication.tables),
            # on DuckDB only the marts whose rows changed are written again
            "marts_changed": dg.MetadataValue.json(list(publication.changed)),
            "rows": dg.MetadataValue.json(publication.tables),
        }
    )
