"""The static HTML report: `reports/index.html` plus PNG charts, rendered from the marts.

Usage: `render_report(source, output_dir)` with `source` the published marts file
(`published/nps_warehouse.duckdb`), the warehouse itself (both hold schema `marts`) or an engine
(PostgreSQL's `marts` schema, on that target). Each
section is drawn only when the marts it needs exist; the page says which were left out and why.
"""

from orchestration.report.render import (
    DEFAULT_MIN_SAMPLE,
    REPORT_DIR_ENV,
    Report,
    default_min_sample,
    default_report_dir,
    render_report,
)

__all__ = [
    "DEFAULT_MIN_SAMPLE",
    "REPORT_DIR_ENV",
    "Report",
    "default_min_sample",
    "default_report_dir",
    "render_report",
]
