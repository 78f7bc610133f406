"""The static HTML report people look at, rendered from the marts just published."""

import dagster as dg

from orchestration.assets.serving import published_marts
from orchestration.engines import SPARK
from orchestration.publish import PUBLISHED_DATABASE
from orchestration.report import REPORT_DIR_ENV, default_report_dir, render_report
from orchestration.resources import WarehouseResource


@dg.asset(
    key=["serving", "report"],
    group_name="serving",
    deps=[published_marts],
    owners=["team:cx-analytics"],
    kinds={"html"},
    description=(
        "The static NPS report: `index.html` plus PNG charts (trend with rolling 30/90-day NPS "
        "and its interval, promoter/passive/detractor mix, region > district > branch table, "
        "eNPS heatmap, detractor themes, follow-up SLA), read from the published marts. Each "
        "section appears once its marts exist; anything below the minimum sample is marked. "
        "On PostgreSQL it reads the marts schema there (one snapshot). "
        f"Written to ${REPORT_DIR_ENV}, else `reports/` in the project root; works offline."
    ),
)
def report(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    engine = warehouse.engine
    # what BI tools see: the publication on DuckDB (on Spark: views over the Parquet files
    # Spark wrote), PostgreSQL's marts themselves there
    published = engine.publishes_duckdb_file or engine.name == SPARK
    source = warehouse.publish_path / PUBLISHED_DATABASE if published else engine
    output_dir = default_report_dir().resolve()
    rendered = render_report(source, output_dir)
    for key, reason in rendered.skipped.items():
        context.log.info(f"report section {key} not shown: {reason}")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(rendered.index)),
            "sections": dg.MetadataValue.json(rendered.sections),
            "not_shown": dg.MetadataValue.json(rendered.skipped),
            "charts": len(rendered.images),
        }
    )
