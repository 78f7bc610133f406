"""Build the per-file batches the `raw_followup_events` and `raw_action_items` suites validate.

One landing file written by one load = one batch: its rows of the raw table, every raw column
kept as landed, plus derived columns computed in DuckDB SQL so the suites compare plain values:

raw.followup_events
- `response_id_trimmed` VARCHAR: without surrounding whitespace, NULL when blank.
- `event_normalised` VARCHAR: the event lower-cased and trimmed (`contacted`, `resolved`).
- `event_at_ts` TIMESTAMPTZ: the trimmed text read as ISO 8601 (no offset = UTC), else NULL.
- `event_at_in_future` BOOLEAN: `event_at_ts > _loaded_at`.

raw.action_items
- `action_id_trimmed` VARCHAR, `status_normalised` VARCHAR (lower-cased, trimmed).
- `created_at_ts`, `done_at_ts` TIMESTAMPTZ; `due_on_date` DATE (NULL when unparseable).
- `has_owner_unit` BOOLEAN: the item names a branch or a department.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from orchestration.quality.raw_batch_sql import FileBatch, query_file_batch
from orchestration.quality.raw_batch_sql import trimmed as _trimmed

if TYPE_CHECKING:
    import duckdb


_FOLLOWUP_SQL = f"""
WITH batch AS (
    SELECT
        r.*,
        {_trimmed("r.response_id")} AS response_id_trimmed,
        lower({_trimmed("r.event")}) AS event_normalised,
        try_cast({_trimmed("r.event_at")} AS TIMESTAMPTZ) AS event_at_ts
    FROM raw.followup_events AS r
    WHERE r._source_file = $source_file AND r._load_id = $load_id
)
SELECT *, event_at_ts > _loaded_at AS event_at_in_future
FROM batch
"""

_ACTION_SQL = f"""
SELECT
    r.*,
    {_trimmed("r.action_id")} AS action_id_trimmed,
    lower({_trimmed("r.status")}) AS status_normalised,
    try_cast({_trimmed("r.created_at")} AS TIMESTAMPTZ) AS created_at_ts,
    try_cast({_trimmed("r.done_at")} AS TIMESTAMPTZ) AS done_at_ts,
    try_cast({_trimmed("r.due_on")} AS DATE) AS due_on_date,
    coalesce({_trimmed("r.branch_id")}, {_trimmed("r.department")}) IS NOT NULL AS has_owner_unit
FROM raw.action_items AS r
WHERE r._source_file = $source_file AND r._load_id = $load_id
"""


def followup_file_batch(
    conn: duckdb.DuckDBPyConnection,
    source_file: str,
    load_id: str,
    columns: Collection[str] | None = None,
) -> FileBatch:
    """The rows of `raw.followup_events` that load `load_id` wrote for `source_file`."""
    return query_file_batch(conn, _FOLLOWUP_SQL, source_file, load_id, columns)


def action_item_file_batch(
    conn: duckdb.DuckDBPyConnection,
    source_file: str,
    load_id: str,
    columns: Collection[str] | None = None,
) -> FileBatch:
    """The rows of `raw.action_items` that load `load_id` wrote for `source_file`."""
    return query_file_batch(conn, _ACTION_SQL, source_file, load_id, columns)
