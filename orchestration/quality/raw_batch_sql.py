"""The SQL both response batch builders share (customer `raw_batches`, employee `raw_enps_batches`).

A response feed's batch is one landing file written by one load: its raw rows as landed plus
derived columns computed in DuckDB, so the raw suites only compare plain values. What differs
between feeds is said in a `ResponseBatchSpec` (the raw table, which id columns are trimmed,
which flags are lower-cased, and a `reference` relation giving each row its scale and the date
its survey or wave started); the derivations themselves live here once:

- `<column>_trimmed` for each `trimmed` column: without surrounding whitespace, NULL when blank.
- `<column>_text` for each `lowered` column (consent flags): trimmed and lower-cased.
- `language_code`: the trimmed language as the `language_code` macro reads it (`EN`, `nl-BE`,
  `pl_PL` -> `en`, `nl`, `pl`), NULL when null or blank.
- `submitted_at_ts` TIMESTAMPTZ: the trimmed text read as ISO 8601 (a value without offset is
  UTC), NULL when blank or unparseable; `submitted_at_in_future`: later than `_loaded_at`.
- `score_is_integer` (decided on text by `INTEGER_SCORE_PATTERN`: DuckDB's `try_cast('7.5' AS
  INTEGER)` rounds to 8) and `score_value` DOUBLE (only for whole numbers).
- `scale_min`, `scale_max` from the reference (0 and 10 when it has no row for the key).
- `<started_on>` DATE from the reference and `<before_start>` BOOLEAN: `submitted_at_ts` before
  that date (midnight UTC), NULL when either is NULL.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

DEFAULT_SCALE_MIN = 0
DEFAULT_SCALE_MAX = 10

# Integer-ness of a trimmed score: `7`, `+7`, `-0`, `7.0`, `7.00`; not `7.5`, `7.`, `seven`.
INTEGER_SCORE_PATTERN = r"[+-]?[0-9]+(\.0+)?"


def trimmed(expr: str) -> str:
    """SQL: `expr` without surrounding whitespace (tabs/newlines too), NULL when blank."""
    return rf"NULLIF(regexp_replace({expr}, '^\s+|\s+$', '', 'g'), '')"


def language_code(expr: str) -> str:
    """SQL: the ISO 639-1 part of a language tag (`nl-BE`, `pl_PL`, ` EN `), lower-cased."""
    return f"lower(split_part(replace({trimmed(expr)}, '_', '-'), '-', 1))"


@dataclass(frozen=True)
class ResponseBatchSpec:
    """What one response feed's batch is made of.

    `reference_sql` is the body of a CTE named `reference` with the columns `reference_key`,
    `scale_min`, `scale_max` and `started_on`, at most one row per key; it may select from the
    CTE `batch` (the file's rows with the trimmed columns). Rows join it on `reference_key`."""

    table: str
    trimmed: tuple[str, ...]
    reference_sql: str
    reference_key: str
    started_on: str
    before_start: str
    lowered: tuple[str, ...] = ()

    def sql(self, ordered: bool = True) -> str:
        """The batch query; `ordered` sorts it by `_source_row` (see `read_batch`)."""
        derived_inputs = [
            *(f"{trimmed('r.' + c)} AS {c}_trimmed" for c in self.trimmed),
            *(f"lower({trimmed('r.' + c)}) AS {c}_text" for c in self.lowered),
            f"{language_code('r.language')} AS language_code",
            f"{trimmed('r.submitted_at')} AS submitted_at_text",
            f"{trimmed('r.score')} AS score_text",
        ]
        inputs = ",\n        ".join(derived_inputs)
        return f"""
WITH batch AS (
    SELECT
        r.*,
        {inputs}
    FROM {self.table} AS r
    WHERE r._source_file = $source_file AND r._load_id = $load_id
),
reference AS (
{self.reference_sql}
),
derived AS (
    SELECT
        b.*,
        try_cast(b.submitted_at_text AS TIMESTAMPTZ) AS submitted_at_ts,
        regexp_full_match(b.score_text, '{INTEGER_SCORE_PATTERN}') AS score_is_integer,
        coalesce(ref.scale_min, {DEFAULT_SCALE_MIN}) AS scale_min,
        coalesce(ref.scale_max, {DEFAULT_SCALE_MAX}) AS scale_max,
        ref.started_on AS started_on
    FROM batch AS b
    LEFT JOIN reference AS ref ON ref.reference_key = b.{self.reference_key}
)
SELECT
    * EXCLUDE (submitted_at_text, score_text, submitted_at_ts, score_is_integer,
               scale_min, scale_max, started_on),
    submitted_at_ts,
    submitted_at_ts > _loaded_at AS submitted_at_in_future,
    score_is_integer,
    CASE WHEN score_is_integer THEN CAST(score_text AS DOUBLE) END AS score_value,
    scale_min,
    scale_max,
    started_on AS {self.started_on},
    submitted_at_ts < CAST(started_on AS TIMESTAMPTZ) AS {self.before_start}
FROM derived
{"ORDER BY _source_row" if ordered else ""}
"""


def read_batch(
    conn: duckdb.DuckDBPyConnection,
    spec: ResponseBatchSpec,
    source_file: str,
    load_id: str,
    parameters: Mapping[str, Any] | None = None,
    columns: Collection[str] | None = None,
) -> pa.Table:
    """The batch of `source_file` as written by load `load_id`, as an Arrow table ordered by
    `_source_row`: only `columns` (and `_source_row`) when given (see `_projected`).

    Sets the connection's TimeZone to UTC (a submitted_at without offset is UTC) and leaves it
    so. `parameters` are extra named parameters `spec.reference_sql` uses."""
    import pyarrow.compute as pc

    conn.execute("SET TimeZone = 'UTC'")
    if columns is None:
        relation = conn.sql(
            spec.sql(),
            params={"source_file": source_file, "load_id": load_id, **(parameters or {})},
        )
        return relation.to_arrow_table()
    # sorted here, not by DuckDB: a sort in the query holds the whole result in DuckDB as well
    # as in Arrow (2.8 GiB against 1.3 GiB for a 7.4M-row backfill's suite columns)
    relation = conn.sql(
        spec.sql(ordered=False),
        params={"source_file": source_file, "load_id": load_id, **(parameters or {})},
    )
    unordered = _projected(relation, {*columns, "_source_row"}).to_arrow_table()
    return unordered.take(pc.sort_indices(unordered.column("_source_row")))


def read_feed_batch(
    conn: duckdb.DuckDBPyConnection,
    sql: str,
    source_file: str,
    load_id: str,
    columns: Collection[str] | None = None,
) -> pa.Table:
    """A batch of a feed without scores (follow-ups, action items): `sql` filters on
    `$source_file` and `$load_id`. TimeZone UTC and `columns`, as `read_batch`."""
    conn.execute("SET TimeZone = 'UTC'")
    relation = conn.sql(sql, params={"source_file": source_file, "load_id": load_id})
    return _projected(relation, columns).to_arrow_table()


def _projected(
    relation: duckdb.DuckDBPyRelation, columns: Collection[str] | None
) -> duckdb.DuckDBPyRelation:
    """`relation` with only those of `columns` it has (in its order), all when None. DuckDB
    then neither reads nor derives the others: a 7.4M-row backfill's batch took 8.7 GiB with
    every column (comments included), 2.8 GiB with the 15 its suite reads. A column the batch
    lacks stays missing, so the expectation that names it still fails."""
    if columns is None:
        return relation
    wanted = set(columns)
    kept = [name for name in relation.columns if name in wanted]
    if not kept:  # nothing the suite names: keep one column, so the row count still counts
        kept = relation.columns[:1]
    return relation.project(", ".join(_quoted(name) for name in kept))


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
