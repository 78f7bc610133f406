"""How a validated model's rows reach Great Expectations: the one place that knows the engine.

GX 1.24 cannot validate DuckDB through SQLAlchemy (duckdb-engine returns empty results), so on
DuckDB a model is read with DuckDB itself into an Arrow table, and the engine
(`gx_engine.Validator`) hands it to GX's pandas datasource. Only the columns a suite uses are
read, so a wide or long mart stays cheap.

On the PostgreSQL target the model is read the same way through the engine
(orchestration/engines): the same columns, the same `meta.recent` window, the same pandas
validation, so a suite means the same on both engines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestration.engines import DuckDBEngine, Engine

if TYPE_CHECKING:
    import pyarrow as pa

_COLUMN_KWARGS = ("column", "column_A", "column_B")


def suite_columns(definition: Mapping[str, Any]) -> set[str]:
    """The columns a suite's expectations name (row conditions are matched against the table)."""
    columns: set[str] = set()
    for expectation in definition.get("expectations") or ():
        kwargs = expectation.get("kwargs") or {}
        columns.update(str(kwargs[k]) for k in _COLUMN_KWARGS if kwargs.get(k) is not None)
        columns.update(str(c) for c in kwargs.get("column_list") or ())
    return columns


def _needs_all_columns(definition: Mapping[str, Any]) -> bool:
    """Table-shape expectations (column sets, column counts) must see every column."""
    return any(
        str(e.get("type", "")).startswith(("expect_table_column", "expect_column_to_exist"))
        for e in definition.get("expectations") or ()
    )


def _condition_words(definition: Mapping[str, Any]) -> set[str]:
    words: set[str] = set()
    for expectation in definition.get("expectations") or ():
        condition = (expectation.get("kwargs") or {}).get("row_condition")
        if isinstance(condition, str):
            words.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", condition))
    return words


def read_relation(
    warehouse: Path | str | Engine,
    schema: str,
    table: str,
    definition: Mapping[str, Any] | None = None,
) -> pa.Table:
    """`schema.table` from the warehouse (a DuckDB file, or an engine), read-only, as Arrow: the
    columns the suite uses (all when `definition` is None). A column the suite names but the
    table lacks is left out, so GX reports it as a failed expectation instead of the read
    failing."""
    engine = warehouse if hasattr(warehouse, "read_arrow") else DuckDBEngine(Path(warehouse))
    existing = engine.table_columns(schema, table)
    if not existing:
        raise LookupError(f"{schema}.{table} does not exist in {warehouse}")
    wanted: Iterable[str] = existing
    if definition is not None and not _needs_all_columns(definition):
        named = suite_columns(definition) | _condition_words(definition)
        wanted = [c for c in existing if c in named] or existing[:1]
    select = ", ".join(_quote(c) for c in wanted)
    relation = f"{_quote(schema)}.{_quote(table)}"
    where = ""
    recent = ((definition or {}).get("meta") or {}).get("recent")
    if isinstance(recent, Mapping) and recent.get("column") in existing:
        # a long mart: only its newest days (meta.recent), by plain SQL date arithmetic
        column = _quote(str(recent["column"]))
        where = (
            f" where {column} >= (select max({column}) from {relation}) - "
            f"{int(recent.get('days', 35))}"
        )
    return engine.read_arrow(f"select {select} from {relation}{where}")


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
