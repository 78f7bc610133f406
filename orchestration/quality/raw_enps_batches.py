"""Build the per-file batch that the `raw_enps_responses` suite validates.

One landing file written by one load = one batch: its rows of `raw.enps_responses`, every raw
column kept as landed, plus the derived columns of the customer batch, computed by the same SQL
(`raw_batch_sql`):

- `response_id_trimmed`, `survey_wave_trimmed` VARCHAR: the value without surrounding
  whitespace, NULL when null or blank.
- `language_code` VARCHAR: `EN`, `nl-BE`, `pl_PL` read as `en`, `nl`, `pl`.
- `submitted_at_ts` TIMESTAMPTZ, `submitted_at_in_future` BOOLEAN (later than `_loaded_at`).
- `score_is_integer` BOOLEAN, `score_value` DOUBLE: decided on text (`7` and `7.0` are integers,
  `7.5` is not).
- `scale_min`, `scale_max` INTEGER: 0 and 10 (eNPS is always asked on 0-10).
- `wave_started_on` DATE: when the row's survey wave opened. There is no seed of waves, so it is
  the suite's `meta.wave_started_on.waves` entry for the wave when there is one (`{"2025-Q1":
  "2025-02-10"}`), else the first day of the period the wave is named after: `2025-Q2` ->
  2025-04-01, `2025-07` -> 2025-07-01, `2025-H2` -> 2025-07-01, `2025` -> 2025-01-01 (any case,
  trimmed); NULL for any other name.
- `submitted_before_wave_start` BOOLEAN: `submitted_at_ts` before `wave_started_on` (midnight
  UTC), NULL when either is NULL.

The eNPS feed has no consent columns, so the batch has no consent flags to check.

The suite also asserts the batch's exact column set: an employee identifier column in a file is
dropped by the loader (Feed.forbidden), so it can never appear here nor inside `extra_columns`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

from orchestration.quality.raw_batch_sql import FileBatch, ResponseBatchSpec, file_batch

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

SUITE = "raw_enps_responses"
ENPS_SCALE_MIN = 0
ENPS_SCALE_MAX = 10

_WAVE = "upper(w.reference_key)"
_YEAR = f"CAST(left({_WAVE}, 4) AS INTEGER)"
_LAST = f"CAST(right({_WAVE}, 1) AS INTEGER)"
# the first day of the period a wave is named after
_WAVE_PERIOD_START = f"""CASE
            WHEN regexp_full_match({_WAVE}, '[0-9]{{4}}-Q[1-4]')
                THEN make_date({_YEAR}, ({_LAST} - 1) * 3 + 1, 1)
            WHEN regexp_full_match({_WAVE}, '[0-9]{{4}}-(0[1-9]|1[0-2])')
                THEN make_date({_YEAR}, CAST(right({_WAVE}, 2) AS INTEGER), 1)
            WHEN regexp_full_match({_WAVE}, '[0-9]{{4}}-H[12]')
                THEN make_date({_YEAR}, ({_LAST} - 1) * 6 + 1, 1)
            WHEN regexp_full_match({_WAVE}, '[0-9]{{4}}')
                THEN make_date({_YEAR}, 1, 1)
        END"""

ENPS_BATCH = ResponseBatchSpec(
    table="raw.enps_responses",
    trimmed=("response_id", "survey_wave"),
    reference_sql=f"""
    SELECT
        w.reference_key,
        {ENPS_SCALE_MIN} AS scale_min,
        {ENPS_SCALE_MAX} AS scale_max,
        coalesce(o.started_on, {_WAVE_PERIOD_START}) AS started_on
    FROM (SELECT DISTINCT survey_wave_trimmed AS reference_key FROM batch) AS w
    LEFT JOIN (
        SELECT
            unnest(CAST($override_waves AS VARCHAR[])) AS wave,
            try_cast(unnest(CAST($override_starts AS VARCHAR[])) AS DATE) AS started_on
    ) AS o ON o.wave = w.reference_key
    WHERE w.reference_key IS NOT NULL
""",
    reference_key="survey_wave_trimmed",
    started_on="wave_started_on",
    before_start="submitted_before_wave_start",
)


def enps_file_batch(
    conn: duckdb.DuckDBPyConnection,
    source_file: str,
    load_id: str,
    wave_started_on: Mapping[str, str] | None = None,
    columns: Collection[str] | None = None,
) -> FileBatch:
    """The rows of `raw.enps_responses` that load `load_id` wrote for `source_file`, not read
    yet (`FileBatch`): every raw column plus the derived columns of this module's docstring.
    `wave_started_on` (wave -> ISO date) defaults to the suite's `meta.wave_started_on.waves`.
    Sets the connection's TimeZone to UTC.
    """
    if wave_started_on is None:
        from orchestration.quality.gx_engine import load_suite_definition

        meta = load_suite_definition(SUITE).get("meta") or {}
        wave_started_on = (meta.get("wave_started_on") or {}).get("waves") or {}
    overrides = {str(k).strip(): str(v).strip() for k, v in wave_started_on.items()}
    return file_batch(
        conn,
        ENPS_BATCH,
        source_file,
        load_id,
        {"override_waves": list(overrides), "override_starts": list(overrides.values())},
        columns,
    )


def raw_enps_batch(
    conn: duckdb.DuckDBPyConnection,
    source_file: str,
    load_id: str,
    wave_started_on: Mapping[str, str] | None = None,
    columns: Collection[str] | None = None,
) -> pa.Table:
    """`enps_file_batch` read whole, ordered by `_source_row`."""
    return enps_file_batch(conn, source_file, load_id, wave_started_on, columns).table()
