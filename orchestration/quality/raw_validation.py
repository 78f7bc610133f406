"""Validate the files one raw load wrote, judge them and record the verdicts (blocking).

Called by the raw load assets (orchestration/assets/raw.py) with the feed's batch builder.
Each newly written file is one batch: its suite parameters (if the feed has any, see
`SUITE_PARAMETERS`), one GX validation, then a verdict (orchestration/quality/verdicts.py) that
is stored in `raw.batch_validations` in the same connection, before dbt runs.

A file of more rows than `NPS_GX_CHUNK_ROWS` (default 500,000; a backfill of millions) is
never read whole: DuckDB counts it, gives the distinct values its suite parameters need, and
streams it in chunks of about that many rows (`FileBatch.chunks`) whose results are merged into
the file's one verdict (`Validator.validate_chunks`). GX's pandas copy of a whole
multi-million-row file took gigabytes, and the Arrow table of a 74M-row backfill's suite
columns alone more than this machine's 24 GiB. The rows are split by the hash of their
response key, so every copy of a duplicate lands in one chunk and uniqueness is counted as over
the whole file; the row-count band is judged on the chunks' total.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import duckdb

from orchestration.quality.gx_engine import Validator, chunk_key, load_suite_definition
from orchestration.quality.verdicts import Verdict, judge, record_verdicts

if TYPE_CHECKING:
    from orchestration.quality.raw_batch_sql import FileBatch

# (connection, source_file, load_id, columns=...) -> the file's batch, not read yet
# (raw_batch_sql.FileBatch): only `columns` (all if None), a keyword argument
BatchBuilder = Callable[..., "FileBatch"]
# (connection, suite meta, source_file, load_id, a frame holding at least the distinct values
# of the suite's SUITE_PARAMETER_COLUMNS in the file) -> (parameters, metadata details)
ParameterBuilder = Callable[
    [duckdb.DuckDBPyConnection, Mapping[str, Any], str, str, Any],
    tuple[dict[str, Any], dict[str, Any]],
]


def _nps_parameters(
    conn: duckdb.DuckDBPyConnection,
    meta: Mapping[str, Any],
    source_file: str,
    load_id: str,
    frame: Any,
) -> tuple[dict[str, Any], dict[str, Any]]:
    from orchestration.quality.raw_parameters import raw_nps_suite_parameters

    survey_ids = frame.column("survey_id_trimmed").to_pylist()
    # the daily counts were prepared once for this load (SUITE_PREPARE)
    parameters, band = raw_nps_suite_parameters(
        conn, meta, source_file, load_id, survey_ids, refresh=False
    )
    return parameters, {
        "row_count_band": band.to_metadata(),
        "score_mostly": parameters["score_mostly"],
    }


def _enps_parameters(
    conn: duckdb.DuckDBPyConnection,
    meta: Mapping[str, Any],
    source_file: str,
    load_id: str,
    frame: Any,
) -> tuple[dict[str, Any], dict[str, Any]]:
    from orchestration.quality.raw_parameters import raw_enps_suite_parameters

    waves = frame.column("survey_wave_trimmed").to_pylist()
    parameters, band = raw_enps_suite_parameters(conn, meta, source_file, load_id, waves)
    return parameters, {
        "row_count_band": band.to_metadata(),
        "score_mostly": parameters["score_mostly"],
    }


def _nps_prepare(conn: duckdb.DuckDBPyConnection) -> None:
    from orchestration.quality.raw_parameters import prepare_daily_counts

    prepare_daily_counts(conn)


# suite name -> how to compute its runtime parameters (suites without placeholders need none)
SUITE_PARAMETERS: dict[str, ParameterBuilder] = {
    "raw_nps_responses": _nps_parameters,
    "raw_enps_responses": _enps_parameters,
}
# suite name -> the batch columns its parameters read, besides those the suite names
SUITE_PARAMETER_COLUMNS: dict[str, tuple[str, ...]] = {
    "raw_nps_responses": ("survey_id_trimmed",),
    "raw_enps_responses": ("survey_wave_trimmed",),
}
# suite name -> work done once per load before its files are validated
SUITE_PREPARE: dict[str, Callable[[duckdb.DuckDBPyConnection], None]] = {
    "raw_nps_responses": _nps_prepare
}


def validate_load(
    conn: duckdb.DuckDBPyConnection,
    feed_name: str,
    suite: str,
    source_files: Sequence[str],
    load_id: str,
    build_batch: BatchBuilder,
    validator: Validator,
    record: bool = True,
) -> list[Verdict]:
    """Validate, judge and (when `record`) store the verdict of each file of one load."""
    if not source_files:
        return []
    definition = load_suite_definition(suite)
    parameters_for = SUITE_PARAMETERS.get(suite)
    if suite in SUITE_PREPARE:
        SUITE_PREPARE[suite](conn)
    verdicts = []
    read = columns_read(definition)
    # GX copies the frame to pandas and hashes every cell of it (its batch fingerprint), and
    # DuckDB derives every batch column it is asked for: read only what the suite needs
    needed = None if read is None else read | set(SUITE_PARAMETER_COLUMNS.get(suite, ()))
    chunkable, key = chunk_key(definition)
    from orchestration.quality.readers import configured_chunk_rows

    chunk_rows = configured_chunk_rows()
    # a Spark validator takes whole frames only
    streams = chunkable and hasattr(validator, "validate_chunks")
    for source_file in source_files:
        batch = build_batch(conn, source_file, load_id, columns=needed)
        # None when longer than a chunk: then counted and streamed by DuckDB
        frame = batch.table(max_rows=chunk_rows if streams else None)
        rows = batch.rows() if frame is None else frame.num_rows
        parameters: dict[str, Any] | None = None
        details: dict[str, Any] = {}
        if parameters_for is not None:
            values = frame if frame is not None else batch.distinct(SUITE_PARAMETER_COLUMNS[suite])
            parameters, details = parameters_for(
                conn, definition.get("meta") or {}, source_file, load_id, values
            )
        if frame is None:
            validation = validator.validate_chunks(
                suite,
                batch.chunks(key, chunk_rows, rows, columns=read),
                batch=source_file,
                suite_parameters=parameters,
                grouped_by=key,
            )
        else:
            # the parameters' columns are not the suite's
            validation = validator.validate(
                suite, only_columns(frame, read), batch=source_file, suite_parameters=parameters
            )
        del frame
        verdicts.append(judge(definition, validation, rows, details))
    if record:
        record_verdicts(conn, feed_name, load_id, verdicts)
    return verdicts


# expectations whose verdict depends only on the named columns being there (not on the others)
_COLUMN_SET_TYPES = ("expect_table_columns_to_match_set",)


def columns_read(definition: Mapping[str, Any]) -> set[str] | None:
    """The batch columns a suite's expectations look at, or None when one of them looks at the
    table's whole shape (column counts, ordered lists, an exact column set): then all."""
    from orchestration.quality.readers import suite_columns

    columns = set(suite_columns(definition))
    for expectation in definition.get("expectations") or ():
        kind = str(expectation.get("type", ""))
        kwargs = expectation.get("kwargs") or {}
        if kind in _COLUMN_SET_TYPES and kwargs.get("exact_match") is False:
            columns.update(str(c) for c in kwargs.get("column_set") or ())
        elif kind.startswith(("expect_table_column", "expect_column_to_exist")):
            return None
        if kwargs.get("row_condition") is not None:
            return None  # a condition may name any column
    return columns


def only_columns(frame: Any, columns: set[str] | None) -> Any:
    """`frame` (Arrow table or pandas) with just `columns`, in its own order; all if None.
    A named column the frame lacks stays missing, so its expectation still fails."""
    if columns is None:
        return frame
    if hasattr(frame, "column_names") and hasattr(frame, "select"):  # pyarrow Table
        return frame.select([c for c in frame.column_names if c in columns])
    if hasattr(frame, "columns") and hasattr(frame, "loc"):  # pandas DataFrame
        return frame[[c for c in frame.columns if c in columns]]
    return frame
