"""Build the per-file batch that the `raw_nps_responses` suite validates.

One landing file written by one load = one batch: its rows of `raw.nps_responses`, every raw
column kept as landed, plus the survey's scale from the surveys seed and derived columns
computed in DuckDB SQL (shared with the employee feed: `raw_batch_sql`) so the suite only
compares plain values:

- `response_id_trimmed`, `survey_id_trimmed` VARCHAR: the value with surrounding whitespace
  removed, NULL when null or blank.
- `submitted_at_ts` TIMESTAMPTZ: `try_cast` of the trimmed text (ISO 8601; a value without
  offset is UTC), NULL when blank or unparseable.
- `submitted_at_in_future` BOOLEAN: `submitted_at_ts > _loaded_at`, NULL when either is NULL.
- `score_is_integer` BOOLEAN: the trimmed score matches `[+-]?digits(.0+)?` (`7`, `7.0`; not
  `7.5`, `seven`), NULL when the score is null or blank. A regex, not a cast: DuckDB's
  `try_cast('7.5' AS INTEGER)` rounds to 8.
- `score_value` DOUBLE: the score as a number when it is an integer, else NULL.
- `scale_min`, `scale_max` INTEGER: the survey's scale, joined on trimmed survey_id; 0 and 10
  when the survey is not in the seed (or its scale cell is blank). A survey listed twice gets
  the widest scale (min of mins, max of maxes) so the join never multiplies rows.
- `survey_started_on` DATE: the survey's `started_on` (the earliest if listed twice), NULL when
  the survey is not in the seed or the cell is blank.
- `submitted_before_survey_start` BOOLEAN: `submitted_at_ts` is before `survey_started_on`
  (midnight UTC), NULL when either is NULL.
- `consent_contact_text`, `consent_testimonial_text` VARCHAR: the trimmed, lower-cased flag,
  NULL when null or blank (the suite checks the spellings `parse_boolean` understands).
- `language_code` VARCHAR: the trimmed language as the `language_code` macro reads it
  (`EN`, `nl-BE`, `pl_PL` -> `en`, `nl`, `pl`), NULL when null or blank.
- `branch_id_trimmed` VARCHAR: the trimmed branch id, NULL when null or blank.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

from orchestration.quality.raw_batch_sql import (
    DEFAULT_SCALE_MAX,
    DEFAULT_SCALE_MIN,
    INTEGER_SCORE_PATTERN,
    FileBatch,
    ResponseBatchSpec,
    file_batch,
    trimmed,
)

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

__all__ = [
    "DEFAULT_SCALE_MAX",
    "DEFAULT_SCALE_MIN",
    "INTEGER_SCORE_PATTERN",
    "NPS_BATCH",
    "nps_file_batch",
    "raw_nps_batch",
]

# A survey listed twice gets the widest scale (min of mins, max of maxes) and its earliest start,
# so the join never multiplies rows.
NPS_BATCH = ResponseBatchSpec(
    table="raw.nps_responses",
    trimmed=("response_id", "survey_id", "branch_id"),
    lowered=("consent_contact", "consent_testimonial"),
    reference_sql=f"""
    SELECT
        {trimmed("survey_id")} AS reference_key,
        min(try_cast({trimmed("scale_min")} AS INTEGER)) AS scale_min,
        max(try_cast({trimmed("scale_max")} AS INTEGER)) AS scale_max,
        min(try_cast({trimmed("started_on")} AS DATE)) AS started_on
    FROM read_csv($surveys_csv, header = true, all_varchar = true)
    GROUP BY ALL
""",
    reference_key="survey_id_trimmed",
    started_on="survey_started_on",
    before_start="submitted_before_survey_start",
)


def nps_file_batch(
    conn: duckdb.DuckDBPyConnection,
    source_file: str,
    load_id: str,
    surveys_csv: Path,
    columns: Collection[str] | None = None,
) -> FileBatch:
    """The rows of `raw.nps_responses` that load `load_id` wrote for `source_file`, not read
    yet (`FileBatch`): every raw column plus the derived columns described in this module's
    docstring. Sets the connection's TimeZone to UTC (so a submitted_at without offset is read
    as UTC) and leaves it so. Raises FileNotFoundError if `surveys_csv` is missing: validating
    scores against default scales would hide a broken deployment.
    """
    surveys_csv = Path(surveys_csv)
    if not surveys_csv.is_file():
        raise FileNotFoundError(f"surveys seed not found: {surveys_csv}")
    return file_batch(
        conn, NPS_BATCH, source_file, load_id, {"surveys_csv": str(surveys_csv)}, columns
    )


def raw_nps_batch(
    conn: duckdb.DuckDBPyConnection,
    source_file: str,
    load_id: str,
    surveys_csv: Path,
    columns: Collection[str] | None = None,
) -> pa.Table:
    """`nps_file_batch` read whole, ordered by `_source_row`."""
    return nps_file_batch(conn, source_file, load_id, surveys_csv, columns).table()
