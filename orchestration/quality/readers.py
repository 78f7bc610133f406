"""How a validated model's rows reach Great Expectations: the one place that knows the engine.

`validate_relation` picks the route by the warehouse engine (orchestration/engines):

- PostgreSQL: GX's SQL datasource reads the table where it is (`Validator.validate_table`);
  GX computes each expectation in SQL over the whole table, nothing is copied out. The
  connection comes from the engine's settings (the NPS_PG_* variables, as in profiles.yml).
- DuckDB: GX 1.24 cannot validate DuckDB through SQLAlchemy (duckdb-engine returns empty
  results), so DuckDB reads the model into Arrow for GX's pandas datasource. Only the columns
  a suite uses are read. A suite whose expectations all judge rows one by one (ranges, nulls,
  sets, column pairs: `gx_engine.row_by_row`) is validated over every row in record batches
  (`NPS_GX_CHUNK_ROWS` rows, default 500,000), one at a time, and the results merged
  (`Validator.validate_chunks`), so a mart of millions of rows is checked whole in bounded
  memory. Other suites (aggregates such as the freshness maximum) are read as one frame of
  their columns.

- Spark: the model is a Spark DataFrame of the table, validated through GX's Spark datasource;
  Spark computes every metric where the data is, nothing is copied to this process.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestration.engines import POSTGRES, SPARK, DuckDBEngine, Engine

if TYPE_CHECKING:
    import pyarrow as pa

    from orchestration.engines.postgres_engine import PostgresSettings
    from orchestration.quality.gx_engine import BatchValidation, SqlSource, Validator

_COLUMN_KWARGS = ("column", "column_A", "column_B")
# rows per frame handed to GX's pandas datasource: tens of MB for a mart's columns; GX's copy to
# pandas and its batch fingerprint cost several times the Arrow size, so a whole 10M-row file
# at once would take gigabytes
CHUNK_ROWS = 500_000
CHUNK_ROWS_ENV = "NPS_GX_CHUNK_ROWS"


def configured_chunk_rows() -> int:
    """Rows per frame GX validates at a time: `NPS_GX_CHUNK_ROWS`, default `CHUNK_ROWS`."""
    text = os.environ.get(CHUNK_ROWS_ENV, "").strip()
    if not text:
        return CHUNK_ROWS
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{CHUNK_ROWS_ENV} must be a whole number of rows above 0, not {text!r}")
    return int(text)


def suite_columns(definition: Mapping[str, Any]) -> set[str]:
    """The columns a suite's expectations name, those of their row conditions included."""
    columns: set[str] = set()
    for expectation in definition.get("expectations") or ():
        kwargs = expectation.get("kwargs") or {}
        columns.update(str(kwargs[k]) for k in _COLUMN_KWARGS if kwargs.get(k) is not None)
        columns.update(str(c) for c in kwargs.get("column_list") or ())
        columns.update(condition_columns(kwargs.get("row_condition")))
    return columns


def condition_columns(condition: Any) -> set[str]:
    """The columns a GX row condition (the JSON form of GX's Condition objects) names."""
    if not isinstance(condition, Mapping):
        return set()
    columns: set[str] = set()
    column = condition.get("column")
    if isinstance(column, Mapping) and column.get("name") is not None:
        columns.add(str(column["name"]))
    for part in condition.get("conditions") or ():
        columns |= condition_columns(part)
    return columns


def _needs_all_columns(definition: Mapping[str, Any]) -> bool:
    """Table-shape expectations (column sets, column counts) must see every column; so must a
    condition GX passes through as text (its column names are not known here)."""
    return any(
        str(e.get("type", "")).startswith(("expect_table_column", "expect_column_to_exist"))
        or isinstance((e.get("kwargs") or {}).get("row_condition"), str)
        for e in definition.get("expectations") or ()
    )


def _engine(warehouse: Path | str | Engine) -> Engine:
    return warehouse if hasattr(warehouse, "read_arrow") else DuckDBEngine(Path(warehouse))


def _select(
    engine: Engine,
    schema: str,
    table: str,
    definition: Mapping[str, Any] | None,
    where: str | None = None,
) -> str:
    """The query reading the suite's columns of `schema.table` (its rows matching `where`). A
    column the suite names but the table lacks is left out, so GX reports it as a failed
    expectation instead of the read failing."""
    existing = engine.table_columns(schema, table)
    if not existing:
        raise LookupError(f"{schema}.{table} does not exist in {engine}")
    wanted: Iterable[str] = existing
    if definition is not None and not _needs_all_columns(definition):
        named = suite_columns(definition)
        wanted = [c for c in existing if c in named] or existing[:1]
    select = ", ".join(_quote(c) for c in wanted)
    return f"select {select} from {_quote(schema)}.{_quote(table)}" + _where(where)


def read_relation(
    warehouse: Path | str | Engine,
    schema: str,
    table: str,
    definition: Mapping[str, Any] | None = None,
) -> pa.Table:
    """`schema.table` from the warehouse (a DuckDB file, or an engine), read-only, as one Arrow
    table: the columns the suite uses (all when `definition` is None)."""
    engine = _engine(warehouse)
    return engine.read_arrow(_select(engine, schema, table, definition))


def read_chunks(
    warehouse: Path | str | DuckDBEngine,
    schema: str,
    table: str,
    definition: Mapping[str, Any] | None = None,
    chunk_rows: int | None = None,
    where: str | None = None,
) -> Iterator[pa.Table]:
    """Like read_relation, as consecutive Arrow tables of about `chunk_rows` rows (default
    `configured_chunk_rows()`), read from one DuckDB snapshot; at least one (empty for an empty
    table), so the suite still runs."""
    import pyarrow as pa

    chunk_rows = chunk_rows or configured_chunk_rows()
    engine = _engine(warehouse)
    sql = _select(engine, schema, table, definition, where)
    with engine.connect(read_only=True) as conn:
        reader = conn.sql(sql).to_arrow_reader(chunk_rows)
        # DuckDB hands over smaller record batches than asked for; GX pays a fixed cost per
        # validation, so they are gathered up to chunk_rows
        pending: list[pa.RecordBatch] = []
        pending_rows = 0
        produced = False
        for record_batch in reader:
            pending.append(record_batch)
            pending_rows += record_batch.num_rows
            if pending_rows >= chunk_rows:
                produced = True
                yield pa.Table.from_batches(pending, schema=reader.schema)
                pending, pending_rows = [], 0
        if pending or not produced:
            yield pa.Table.from_batches(pending, schema=reader.schema)


def postgres_source(settings: PostgresSettings) -> SqlSource:
    """GX's SQL datasource for the PostgreSQL warehouse: the password and the session options
    the engine uses go to the driver, not into the URL GX keeps."""
    from urllib.parse import quote_plus

    from orchestration.quality.gx_engine import SqlSource

    connect_args: dict[str, Any] = {"options": "-c jit=off -c TimeZone=UTC"}
    if settings.password:
        connect_args["password"] = settings.password
    return SqlSource(
        kind="postgres",
        connection_string=(
            f"postgresql+psycopg2://{quote_plus(settings.user)}@{settings.host}:{settings.port}"
            f"/{quote_plus(settings.database)}"
        ),
        connect_args=connect_args,
    )


def validate_relation(
    validator: Validator,
    warehouse: Path | str | Engine,
    schema: str,
    table: str,
    suite: str,
    definition: Mapping[str, Any],
    suite_parameters: Mapping[str, Any] | None = None,
    chunk_rows: int | None = None,
    where: str | None = None,
) -> BatchValidation:
    """Validate model `schema.table` with `suite` on the warehouse's own route (see above):
    only its rows matching the SQL predicate `where` when given (orchestration/quality/
    rebuilt_rows.py). Raises LookupError when the table does not exist."""
    from orchestration.quality.gx_engine import row_by_row

    engine = _engine(warehouse)
    batch = f"{schema}.{table}"
    if engine.name == POSTGRES:
        if not engine.table_columns(schema, table):
            raise LookupError(f"{batch} does not exist in {engine}")
        relation = f"{_quote(schema)}.{_quote(table)}"
        if where is None:
            validation = validator.validate_table(
                suite, postgres_source(engine.settings), schema, table, batch, suite_parameters
            )
        else:
            validation = validator.validate_query(
                suite,
                postgres_source(engine.settings),
                f"select * from {relation}{_where(where)}",
                batch,
                suite_parameters,
            )
        ((rows,),) = engine.fetchall(f"select count(*) from {relation}{_where(where)}")
        return _with_rows(validation, int(rows))
    if engine.name == SPARK:
        if where is not None:  # the scope is SQL of the other engines; Spark keeps no log
            raise ValueError(f"{batch}: Spark validates every row, got a scope ({where})")
        if not engine.table_columns(schema, table):
            raise LookupError(f"{batch} does not exist in {engine}")
        frame = engine.table(schema, table)
        return validator.validate_spark(
            suite, frame, batch, _naive_utc(suite_parameters), rows=frame.count()
        )
    if row_by_row(definition):
        return validator.validate_chunks(
            suite,
            read_chunks(engine, schema, table, definition, chunk_rows, where),
            batch,
            suite_parameters,
        )
    frame = engine.read_arrow(_select(engine, schema, table, definition, where))
    return validator.validate(suite, frame, batch, suite_parameters)


def _naive_utc(parameters: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Spark hands GX its timestamps without offset, in the session's time zone (UTC): an
    instant parameter (the freshness cutoff) is compared in the same form."""
    if parameters is None:
        return None
    from datetime import UTC, datetime

    return {
        name: value.astimezone(UTC).replace(tzinfo=None)
        if isinstance(value, datetime) and value.tzinfo is not None
        else value
        for name, value in parameters.items()
    }


def _with_rows(validation: BatchValidation, rows: int) -> BatchValidation:
    from dataclasses import replace

    return replace(validation, rows=rows)


def _where(where: str | None) -> str:
    return "" if where is None else f" where {where}"


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
