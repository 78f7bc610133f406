"""Build the per-file batch that the `raw_enps_responses` suite validates.

One landing file written by one load = one batch: its rows of `raw.enps_responses`, every raw
column kept as landed, plus derived columns computed in DuckDB SQL so the suite only compares
plain values (the same derivations as `raw_batches.raw_nps_batch`, on the fixed 0-10 scale):

- `response_id_trimmed`, `survey_wave_trimmed` VARCHAR: the value without surrounding
  whitespace, NULL when null or blank.
- `submitted_at_ts` TIMESTAMPTZ: the trimmed text read as ISO 8601 (no offset = UTC), NULL when
  blank or unparseable.
- `submitted_at_in_future` BOOLEAN: `submitted_at_ts > _loaded_at`, NULL when either is NULL.
- `score_is_integer` BOOLEAN, `score_value` DOUBLE: as in the customer batch (decided on text:
  `7` and `7.0` are integers, `7.5` is not).
- `scale_min`, `scale_max` INTEGER: 0 and 10 (eNPS is always asked on 0-10).

The suite also asserts the batch's exact column set: an employee identifier column in a file is
dropped by the loader (Feed.forbidden), so it can never appear here nor inside `extra_columns`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestration.quality.raw_batches import INTEGER_SCORE_PATTERN

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

ENPS_SCALE_MIN = 0
ENPS_SCALE_MAX = 10


def _trimmed(expr: str) -> str:
    """SQL: `expr` without surrounding whitespace (tabs/newlines too), NULL when blank."""
    return rf"NULLIF(regexp_replace({expr}, '^\s+|\s+$', '', 'g'), '')"


_BATCH_SQL = f"""
WITH batch AS (
    SELECT
        r.*,
        {_trimmed("r.response_id")} AS response_id_trimmed,
        {_trimmed("r.survey_wave")} AS survey_wave_trimmed,
        {_trimmed("r.submitted_at")} AS submitted_at_text,
        {_trimmed("r.score")} AS score_text
    FROM raw.enps_responses AS r
    WHERE r._source_file = $source_file AND r._load_id = $load_id
),
derived AS (
    SELECT
        *,
        try_cast(submitted_at_text AS TIMESTAMPTZ) AS submitted_at_ts,
        regexp_full_match(score_text, '{INTEGER_SCORE_PATTERN}') AS score_is_integer
    FROM batch
)
SELECT
    * EXCLUDE (submitted_at_text, score_text, submitted_at_ts, score_is_integer),
    submitted_at_ts,
    submitted_at_ts > _loaded_at AS submitted_at_in_future,
    score_is_integer,
    CASE WHEN score_is_integer THEN CAST(score_text AS DOUBLE) END AS score_value,
    {ENPS_SCALE_MIN} AS scale_min,
    {ENPS_SCALE_MAX} AS scale_max
FROM derived
ORDER BY _source_row
"""


def raw_enps_batch(conn: duckdb.DuckDBPyConnection, source_file: str, load_id: str) -> pa.Table:
    """The rows of `raw.enps_responses` that load `load_id` wrote for `source_file`.

    Every raw column plus the derived columns of this module's docstring, ordered by
    `_source_row`. Sets the connection's TimeZone to UTC (a submitted_at without offset is UTC).
    """
    conn.execute("SET TimeZone = 'UTC'")
    return conn.sql(
        _BATCH_SQL, params={"source_file": source_file, "load_id": load_id}
    ).to_arrow_table()
