"""Build the per-file batch that the `raw_nps_responses` suite validates.

One landing file written by one load = one batch: its rows of `raw.nps_responses`, every raw
column kept as landed, plus the survey's scale from the surveys seed and derived columns
computed in DuckDB SQL so the suite only compares plain values:

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

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

DEFAULT_SCALE_MIN = 0
DEFAULT_SCALE_MAX = 10

# Integer-ness of a trimmed score: `7`, `+7`, `-0`, `7.0`, `7.00`; not `7.5`, `7.`, `seven`.
INTEGER_SCORE_PATTERN = r"[+-]?[0-9]+(\.0+)?"


def _trimmed(expr: str) -> str:
    """SQL: `expr` without surrounding whitespace (tabs/newlines too), NULL when blank."""
    return rf"NULLIF(regexp_replace({expr}, '^\s+|\s+$', '', 'g'), '')"


_BATCH_SQL = f"""
WITH surveys AS (
    SELECT
        {_trimmed("survey_id")} AS survey_key,
        min(try_cast({_trimmed("scale_min")} AS INTEGER)) AS scale_min,
        max(try_cast({_trimmed("scale_max")} AS INTEGER)) AS scale_max,
        min(try_cast({_trimmed("started_on")} AS DATE)) AS started_on
    FROM read_csv($surveys_csv, header = true, all_varchar = true)
    GROUP BY ALL
),
batch AS (
    SELECT
        r.*,
        {_trimmed("r.response_id")} AS response_id_trimmed,
        {_trimmed("r.survey_id")} AS survey_id_trimmed,
        {_trimmed("r.submitted_at")} AS submitted_at_text,
        {_trimmed("r.score")} AS score_text,
        lower({_trimmed("r.consent_contact")}) AS consent_contact_text,
        lower({_trimmed("r.consent_testimonial")}) AS consent_testimonial_text,
        lower(split_part(replace({_trimmed("r.language")}, '_', '-'), '-', 1)) AS language_code,
        {_trimmed("r.branch_id")} AS branch_id_trimmed
    FROM raw.nps_responses AS r
    WHERE r._source_file = $source_file AND r._load_id = $load_id
),
derived AS (
    SELECT
        b.*,
        try_cast(b.submitted_at_text AS TIMESTAMPTZ) AS submitted_at_ts,
        regexp_full_match(b.score_text, '{INTEGER_SCORE_PATTERN}') AS score_is_integer,
        coalesce(s.scale_min, {DEFAULT_SCALE_MIN}) AS scale_min,
        coalesce(s.scale_max, {DEFAULT_SCALE_MAX}) AS scale_max,
        s.started_on AS survey_started_on
    FROM batch AS b
    LEFT JOIN surveys AS s ON s.survey_key = b.survey_id_trimmed
)
SELECT
    * EXCLUDE (submitted_at_text, score_text, submitted_at_ts, score_is_integer,
               scale_min, scale_max, survey_started_on),
    submitted_at_ts,
    submitted_at_ts > _loaded_at AS submitted_at_in_future,
    score_is_integer,
    CASE WHEN score_is_integer THEN CAST(score_text AS DOUBLE) END AS score_value,
    scale_min,
    scale_max,
    survey_started_on,
    submitted_at_ts < CAST(survey_started_on AS TIMESTAMPTZ) AS submitted_before_survey_start
FROM derived
ORDER BY _source_row
"""


def raw_nps_batch(
    conn: duckdb.DuckDBPyConnection, source_file: str, load_id: str, surveys_csv: Path
) -> pa.Table:
    """The rows of `raw.nps_responses` that load `load_id` wrote for `source_file`.

    Returns every raw column plus the derived columns described in this module's docstring,
    ordered by `_source_row`. Sets the connection's TimeZone to UTC (so a submitted_at without
    offset is read as UTC) and leaves it so. Raises FileNotFoundError if `surveys_csv` is
    missing: validating scores against default scales would hide a broken deployment.
    """
    surveys_csv = Path(surveys_csv)
    if not surveys_csv.is_file():
        raise FileNotFoundError(f"surveys seed not found: {surveys_csv}")
    conn.execute("SET TimeZone = 'UTC'")
    return conn.sql(
        _BATCH_SQL,
        params={
            "surveys_csv": str(surveys_csv),
            "source_file": source_file,
            "load_id": load_id,
        },
    ).to_arrow_table()
