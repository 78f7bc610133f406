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

from collections.abc import Collection, Iterator, Mapping
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

    def sql(self) -> str:
        """The batch query, unordered (`FileBatch` orders by `_source_row`)."""
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
"""


# the chunk each row of a streamed batch goes to (FileBatch.chunks); not a raw column name
_CHUNK = "__nps_chunk"
_ORDER = "__nps_order"
# rows per record batch DuckDB streams into FileBatch.chunks (gathered into chunks)
_STREAM_ROWS = 100_000


@dataclass(frozen=True)
class FileBatch:
    """One landing file's batch, still a DuckDB relation (lazy, unordered): read whole when it
    is small (`table`), or streamed in chunks (`chunks`) so a backfill of tens of millions of
    rows is never held in memory at once (a 74M-row file's suite columns took more than the
    machine's 24 GiB as one Arrow table). `order_by` is the column that gives the file's row
    order (`_source_row`): a relation is unordered, whatever its query said."""

    relation: duckdb.DuckDBPyRelation
    order_by: str = "_source_row"

    def rows(self) -> int:
        ((count,),) = self.relation.aggregate("count(*)").fetchall()
        return int(count)

    def table(self, max_rows: int | None = None) -> pa.Table | None:
        """The batch as one Arrow table in the file's row order; None when `max_rows` is given
        and the batch has more rows (read no further than one row past it)."""
        import pyarrow.compute as pc

        relation = self.relation if max_rows is None else self.relation.limit(max_rows + 1)
        table = relation.to_arrow_table()
        if max_rows is not None and table.num_rows > max_rows:
            return None
        if self.order_by not in table.column_names:
            return table
        # sorted here, not by DuckDB: a sort in the query holds the whole result in DuckDB as
        # well as in Arrow (2.8 GiB against 1.3 GiB for a 7.4M-row backfill's suite columns)
        return table.take(pc.sort_indices(table.column(self.order_by)))

    def distinct(self, columns: Collection[str]) -> pa.Table:
        """The distinct values of `columns` (those the batch has): what a suite's parameters
        need of a file too long to read whole."""
        return _projected(self.relation, columns).distinct().to_arrow_table()

    def chunks(
        self,
        key: str | None,
        chunk_rows: int,
        rows: int | None = None,
        columns: Collection[str] | None = None,
    ) -> Iterator[pa.Table]:
        """The batch as ceil(rows / chunk_rows) Arrow tables of about `chunk_rows` rows each,
        one at a time, of `columns` only (all if None). With `key`, every row sharing a value
        of that column is in one table (its chunk is the value's hash modulo the number of
        chunks, nulls together), so a duplicate is counted as in the whole file; without it
        (or without that column), consecutive rows. Rows keep the file's order within a
        table. DuckDB sorts the rows by chunk within its memory limit (spilling to disk)."""
        import pyarrow as pa

        rows = self.rows() if rows is None else rows
        parts = max(1, -(-rows // chunk_rows))
        kept = [c for c in self.relation.columns if columns is None or c in set(columns)]
        grouped = key is not None and key in self.relation.columns and parts > 1
        chunk = f"hash({_quoted(key)}) % {parts}" if grouped else "0"
        ordered = self.order_by in self.relation.columns
        sort_keys = [*([_CHUNK] if grouped else []), *([_ORDER] if ordered else [])]
        selected = [
            *map(_quoted, kept or self.relation.columns[:1]),  # one column still counts rows
            f"{chunk} AS {_CHUNK}",
            *([f"{_quoted(self.order_by)} AS {_ORDER}"] if ordered else []),
        ]
        relation = self.relation.project(", ".join(selected))
        if sort_keys:
            relation = relation.order(", ".join(sort_keys))
        reader = relation.to_arrow_reader(_STREAM_ROWS)
        dropped = [_CHUNK, *([_ORDER] if ordered else [])]
        pending: list[pa.Table] = []
        pending_rows, current, produced = 0, None, False
        for record_batch in reader:
            table = pa.Table.from_batches([record_batch]).drop_columns(dropped)
            for value, start, length in _runs(record_batch.column(_CHUNK)):
                if pending and value != current:
                    produced = True
                    yield pa.concat_tables(pending)
                    pending, pending_rows = [], 0
                current = value
                piece = table.slice(start, length)
                while piece.num_rows:
                    # a key's chunk is taken whole; consecutive rows are cut at chunk_rows
                    room = piece.num_rows if grouped else chunk_rows - pending_rows
                    pending.append(piece.slice(0, room))
                    pending_rows += min(room, piece.num_rows)
                    piece = piece.slice(room)
                    if not grouped and pending_rows >= chunk_rows:
                        produced = True
                        yield pa.concat_tables(pending)
                        pending, pending_rows = [], 0
        if pending or not produced:
            empty = reader.schema.empty_table().drop_columns(dropped)
            yield pa.concat_tables(pending) if pending else empty


def _runs(values: pa.Array) -> Iterator[tuple[int, int, int]]:
    """(value, start, length) of each run of equal values of a sorted integer array."""
    import numpy as np

    array = values.to_numpy(zero_copy_only=False)
    starts = [0, *(np.flatnonzero(array[1:] != array[:-1]) + 1).tolist()]
    ends = [*starts[1:], len(array)]
    for start, end in zip(starts, ends, strict=True):
        if end > start:
            yield int(array[start]), start, end - start


def file_batch(
    conn: duckdb.DuckDBPyConnection,
    spec: ResponseBatchSpec,
    source_file: str,
    load_id: str,
    parameters: Mapping[str, Any] | None = None,
    columns: Collection[str] | None = None,
) -> FileBatch:
    """The batch of `source_file` as written by load `load_id` (`spec`'s query), not read yet.
    `parameters` are extra named parameters `spec.reference_sql` uses; the rest as
    `query_file_batch`."""
    return query_file_batch(conn, spec.sql(), source_file, load_id, columns, parameters)


def query_file_batch(
    conn: duckdb.DuckDBPyConnection,
    sql: str,
    source_file: str,
    load_id: str,
    columns: Collection[str] | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> FileBatch:
    """The batch `sql` selects from a raw table (it filters on `$source_file` and `$load_id`),
    not read yet: only `columns` (and `_source_row`, the file's row order) when given (see
    `_projected`).

    Sets the connection's TimeZone to UTC (a timestamp without offset is UTC) and leaves it
    so."""
    conn.execute("SET TimeZone = 'UTC'")
    relation = conn.sql(
        sql, params={"source_file": source_file, "load_id": load_id, **(parameters or {})}
    )
    if columns is not None:
        relation = _projected(relation, {*columns, "_source_row"})
    return FileBatch(relation)


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
