"""Which rows of an incremental mart its suite validates: the rows rebuilt since it last passed.

A mart whose dbt runs rewrite only the days from some first day on (`nps_rolling`: a change on
day d moves its windows from d on) logs, per run, that first day in `intermediate.nps_rebuilt_from`
(macros/nps_incremental.sql, step 5; null: a full build), in the same transaction as its rows. A
suite opts in with `meta.rebuilt_rows: {"day_column": "calendar_date"}`. When its validation
passes, the check appends to `intermediate.nps_suite_passes` the newest logged run it covered.
The next validation reads only the rows whose day is on or after the earliest first day logged
by the runs since then, so:

- a failed (blocked) run records no pass: its rows stay in scope until a validation passes;
- a run that rebuilt nothing (a no-op) brings nothing into scope: no old row is read again;
- every row is validated when anything is unknown: no pass recorded, the suite or its runtime
  parameters changed (a fingerprint), a full build since the pass, a build of the model that
  logged nothing (its watermark in `nps_incremental_state` has no log row), or an engine that
  keeps no log (Spark).

Only suites whose expectations all judge rows one by one (`gx_engine.row_by_row`) or pass with
more rows (`gx_engine.passes_with_more_rows`: a column's maximum at least a bound, its minimum
at most one) are scoped: the verdict of a row-by-row expectation over the whole table is the
verdicts over its rows, so rows that passed and were not rewritten need no second look, and a
maximum that reaches its bound on the rebuilt rows reaches it on the whole table. When such a
bound fails on the rebuilt rows and they do not hold the whole table's maximum (minimum:
`bounds_judged_in_scope`), the check validates every row instead (`mart_checks`). A pass
records that the rows in scope passed the row-by-row expectations; the bounds are judged again
on every validation. A suite with any other expectation on the whole table (row count, uniqueness,
a mean) is always validated in full.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from orchestration.engines import DUCKDB, POSTGRES, Engine
from orchestration.engines.base import quote

log = logging.getLogger(__name__)

REBUILT_FROM_TABLE = ("intermediate", "nps_rebuilt_from")
STATE_TABLE = ("intermediate", "nps_incremental_state")
PASSES_TABLE = ("intermediate", "nps_suite_passes")
# engines whose dbt runs keep the log (Spark keeps none: its suites read every row)
LOGGING_ENGINES = (DUCKDB, POSTGRES)


@dataclass(frozen=True)
class ValidationScope:
    """The rows a validation reads, and why."""

    where: str | None  # SQL predicate on the mart's rows; None: every row
    reason: str
    fingerprint: str  # of the suite and its parameters: a pass is only reused by the same
    rebuilt_through: datetime | None = None  # the newest logged run the rows in scope include
    first_day: date | None = None

    @property
    def every_row(self) -> bool:
        return self.where is None

    def to_metadata(self) -> dict[str, Any]:
        return {
            "rows_in_scope": "every row" if self.where is None else self.where,
            "reason": self.reason,
            "rebuilt_through": None if self.rebuilt_through is None else str(self.rebuilt_through),
        }


def fingerprint(definition: Mapping[str, Any], parameters: Mapping[str, Any] | None) -> str:
    """What a pass is valid for: the suite as written and the values of its placeholders."""
    text = json.dumps(
        {"suite": definition, "parameters": dict(parameters or {})}, sort_keys=True, default=str
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _row_parameters(
    definition: Mapping[str, Any], parameters: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The runtime parameters a pass depends on: all but those only bounds that are judged on
    every validation (`passes_with_more_rows`, e.g. the freshness cutoff, which moves with the
    clock) use. A pass says the rows in scope passed the row-by-row expectations."""
    from orchestration.quality.gx_engine import passes_with_more_rows

    def names(expectation: Mapping[str, Any]) -> set[str]:
        return {
            str(value["$PARAMETER"])
            for value in (expectation.get("kwargs") or {}).values()
            if isinstance(value, Mapping) and "$PARAMETER" in value
        }

    expectations = definition.get("expectations") or ()
    judged_again = set().union(*(names(e) for e in expectations if passes_with_more_rows(e)))
    kept = set().union(*(names(e) for e in expectations if not passes_with_more_rows(e)))
    return {
        name: value
        for name, value in (parameters or {}).items()
        if name not in judged_again or name in kept
    }


def day_column(definition: Mapping[str, Any]) -> str | None:
    """The day column of a suite that validates only rebuilt rows (meta.rebuilt_rows)."""
    config = (definition.get("meta") or {}).get("rebuilt_rows")
    if isinstance(config, Mapping) and config.get("day_column"):
        return str(config["day_column"])
    return None


def validation_scope(
    engine: Engine,
    schema: str,
    table: str,
    suite: str,
    definition: Mapping[str, Any],
    parameters: Mapping[str, Any] | None = None,
) -> ValidationScope:
    """The rows of `schema.table` that suite `suite` must validate in this run (module doc)."""
    from orchestration.quality.gx_engine import judged_on_some_rows

    printed = fingerprint(definition, _row_parameters(definition, parameters))

    def every_row(reason: str, through: datetime | None = None) -> ValidationScope:
        return ValidationScope(None, reason, printed, through)

    column = day_column(definition)
    if column is None:
        return every_row("the suite validates every row (no meta.rebuilt_rows)")
    if not judged_on_some_rows(definition):
        return every_row("the suite has expectations on the whole table")
    if engine.name not in LOGGING_ENGINES:
        return every_row(f"{engine.name} keeps no log of rebuilt days (full builds)")
    if not (_exists(engine, *REBUILT_FROM_TABLE) and _exists(engine, *STATE_TABLE)):
        return every_row("no log of rebuilt days yet")
    through = newest_logged_build(engine.fetchall, table)
    if through is None:
        return every_row(f"{table} logged no build")
    last_pass = _last_pass(engine, suite, table)
    if last_pass is None:
        return every_row("no passing validation recorded", through)
    passed_fingerprint, passed_through = last_pass
    if passed_fingerprint != printed:
        return every_row("the suite or its parameters changed since it last passed", through)
    since = rebuilds_since(engine.fetchall, table, passed_through)
    if since.unlogged:
        return every_row(
            f"{since.unlogged} build(s) of {table} since the last pass logged no day", through
        )
    if since.runs == 0:
        return ValidationScope(
            "1 = 0", f"{table} was not rebuilt since the suite last passed", printed, through
        )
    if since.first_day is None:
        return every_row(f"a full build of {table} since the suite last passed", through)
    runs, first_day = since.runs, since.first_day
    return ValidationScope(
        f"{quote(column)} >= cast('{first_day.isoformat()}' as date)",
        f"{runs} build(s) of {table} since the suite last passed rewrote the days from "
        f"{first_day.isoformat()} on",
        printed,
        through,
        first_day,
    )


@dataclass(frozen=True)
class RebuildsSince:
    """The dbt builds of a model logged after a moment: what they rewrote."""

    runs: int
    unlogged: int  # builds with a watermark but no log row (e.g. an older model): unknown
    first_day: date | None  # the earliest first day logged; None: a full build among them, or none


def newest_logged_build(
    fetchall: Callable[[str, list[Any]], list[tuple[Any, ...]]], model: str
) -> datetime | None:
    """When the newest build of `model` that logged its first day ran (None: none did)."""
    ((through,),) = fetchall(
        f"select max(processed_at) from {_relation(*REBUILT_FROM_TABLE)} where model_name = ?",
        [model],
    )
    return through


def rebuilds_since(
    fetchall: Callable[[str, list[Any]], list[tuple[Any, ...]]], model: str, since: datetime
) -> RebuildsSince:
    """The builds of `model` after `since`, read with `fetchall(sql, parameters)` from the
    warehouse holding the logs (both must exist). Shared by the suites' scope and publishing,
    which fingerprints only the days rebuilt since the last publication."""
    log_table, state_table = _relation(*REBUILT_FROM_TABLE), _relation(*STATE_TABLE)
    ((unlogged,),) = fetchall(
        f"select count(*) from {state_table} as state "
        "where state.model_name = ? and state.processed_at > ? and not exists ("
        f"select 1 from {log_table} as logged where logged.model_name = state.model_name "
        "and logged.processed_at = state.processed_at)",
        [model, since],
    )
    ((runs, partial_runs, first_day),) = fetchall(
        f"select count(*), count(first_day), min(first_day) from {log_table} "
        "where model_name = ? and processed_at > ?",
        [model, since],
    )
    if partial_runs < runs or first_day is None:
        first_day = None
    elif not isinstance(first_day, date):
        first_day = date.fromisoformat(str(first_day))
    return RebuildsSince(int(runs), int(unlogged), first_day)


def bounds_judged_in_scope(
    engine: Engine,
    schema: str,
    table: str,
    bounds: list[Mapping[str, Any]],
    where: str,
) -> bool:
    """Whether the rows in scope (`where`) hold the whole table's maximum (minimum) of the
    column of each bound expectation (gx_engine.passes_with_more_rows): then its verdict on
    those rows is its verdict on the whole table. Two aggregates in SQL, no rows read out."""
    relation = _relation(schema, table)
    for bound in bounds:
        column = quote(str((bound.get("kwargs") or {})["column"]))
        aggregate = "max" if bound.get("type") == "expect_column_max_to_be_between" else "min"
        ((whole, in_scope),) = engine.fetchall(
            f"select {aggregate}({column}), "
            f"(select {aggregate}({column}) from {relation} where {where}) from {relation}"
        )
        if whole is None or whole != in_scope:
            return False
    return True


def record_pass(
    engine: Engine,
    scope: ValidationScope,
    suite: str,
    table: str,
    validated_rows: int | None,
    now: datetime | None = None,
) -> bool:
    """Append the pass of a validation over `scope` (the suite succeeded). False when it could
    not be recorded: the next validation then reads more rows, never fewer."""
    if engine.name not in LOGGING_ENGINES or scope.rebuilt_through is None:
        return False
    passes = _relation(*PASSES_TABLE)
    try:
        with engine.connect() as conn:
            conn.execute(f"create schema if not exists {quote(PASSES_TABLE[0])}")
            conn.execute(
                f"create table if not exists {passes} (suite varchar, model_name varchar, "
                "fingerprint varchar, rebuilt_through timestamp with time zone, "
                "first_day date, validated_rows bigint, passed_at timestamp with time zone)"
            )
            conn.execute(
                f"insert into {passes} values (?, ?, ?, ?, ?, ?, ?)",
                [
                    suite,
                    table,
                    scope.fingerprint,
                    scope.rebuilt_through,
                    scope.first_day,
                    validated_rows,
                    now or datetime.now(UTC),
                ],
            )
    except Exception:  # a warehouse locked by a reader: the pass is simply not reused
        log.warning("could not record the pass of suite %s on %s", suite, table, exc_info=True)
        return False
    return True


def _last_pass(engine: Engine, suite: str, table: str) -> tuple[str, datetime] | None:
    if not _exists(engine, *PASSES_TABLE):
        return None
    rows = engine.fetchall(
        f"select fingerprint, rebuilt_through from {_relation(*PASSES_TABLE)} "
        "where suite = ? and model_name = ? order by passed_at desc limit 1",
        [suite, table],
    )
    return (rows[0][0], rows[0][1]) if rows else None


def _exists(engine: Engine, schema: str, table: str) -> bool:
    return bool(engine.table_columns(schema, table))


def _relation(schema: str, table: str) -> str:
    return f"{quote(schema)}.{quote(table)}"
