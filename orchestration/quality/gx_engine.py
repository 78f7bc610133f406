"""The one place that talks to Great Expectations (GX 1.x).

Suites are version-controlled JSON files in `expectations/<suite name>.json`, in GX 1.x suite
format (`{"name", "expectations": [{"type", "kwargs", "meta"}], "meta"}`). Each expectation's
`meta.description` is a plain-words statement shown next to its result, and `meta.key` is an
optional stable identifier (e.g. for naming Dagster asset checks).

Three ways to hand GX a batch, one result type (`BatchValidation`, which records the GX
datasource type that read it):
- `Validator.validate`: one in-memory frame (pyarrow Table or pandas DataFrame) through GX's
  pandas datasource. GX 1.24 cannot validate DuckDB through SQLAlchemy/duckdb-engine (results
  come back empty), so DuckDB batches come this way.
- `Validator.validate_chunks`: a long table as a stream of frames, for suites whose
  expectations judge each row on its own (`row_by_row`). Each chunk is validated like a frame
  and the per-expectation results are merged (counts summed, `mostly` re-judged on the totals),
  so memory stays bounded by one chunk while every row is checked.
- `Validator.validate_table`: a table in a database through GX's SQL datasource (`SqlSource`,
  e.g. PostgreSQL): GX computes the metrics in SQL, nothing is copied out.
- `Validator.validate_spark`: a Spark DataFrame through GX's Spark datasource: Spark computes
  the metrics where the data is, nothing is copied out.
Which route a warehouse takes is decided in `orchestration/quality/readers.py`.

`import great_expectations` costs seconds, so GX is imported lazily on the first validation and
never at module import time (the Dagster definitions import this module).

Evidence: a Validator made with `project_dir` keeps every validation result (one JSON file per
batch, a few milliseconds) in the validations store of the file-backed GX project
`<project_dir>/gx/`; `build_data_docs` opens that project and renders the results, with every
suite, as a static Data Docs site. Validation itself stays on the fast ephemeral context.
Without `project_dir` nothing is kept.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import hashlib
import json
import math
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

DEFAULT_EXPECTATIONS_DIR = Path(__file__).resolve().parents[2] / "expectations"

# BASIC gives counts plus a partial list of unexpected values, without per-row indexes.
_PARTIAL_UNEXPECTED = 20
_RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": _PARTIAL_UNEXPECTED}
PANDAS = "pandas"  # the GX datasource type of frames and chunks
SPARK = "spark"  # the GX datasource type of Spark DataFrames

# Expectations whose verdict on a row depends on that row alone: their results on disjoint
# chunks of a table add up to the result on the whole table. Uniqueness, ordering and every
# aggregate (min, max, row count, column set) need all rows at once and are not listed.
ROW_BY_ROW_EXPECTATIONS = frozenset(
    {
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_null",
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_not_be_in_set",
        "expect_column_values_to_match_regex",
        "expect_column_values_to_not_match_regex",
        "expect_column_values_to_match_regex_list",
        "expect_column_values_to_not_match_regex_list",
        "expect_column_values_to_match_like_pattern",
        "expect_column_values_to_not_match_like_pattern",
        "expect_column_values_to_match_strftime_format",
        "expect_column_values_to_be_dateutil_parseable",
        "expect_column_values_to_be_json_parseable",
        "expect_column_value_lengths_to_be_between",
        "expect_column_value_lengths_to_equal",
        "expect_column_pair_values_a_to_be_greater_than_b",
        "expect_column_pair_values_to_be_equal",
        "expect_column_pair_values_to_be_in_set",
        "expect_multicolumn_sum_to_equal",
        "expect_select_column_values_to_be_unique_within_record",
    }
)
_SAMPLE_SIZE = 5
_SUITE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class ExpectationOutcome:
    """The result of one expectation on one batch (JSON-friendly values only)."""

    expectation: str  # e.g. "expect_column_values_to_not_be_null"
    column: str | None  # "a" for column expectations, "a, b" for pair/multi-column ones
    description: str | None  # the suite's meta.description
    success: bool
    element_count: int | None
    unexpected_count: int | None
    unexpected_percent: float | None  # of the values GX evaluated (nulls ignored where GX does)
    observed_value: Any  # table/aggregate expectations; JSON-serialisable
    key: str | None = None  # the suite's meta.key, a stable id for the expectation
    unexpected_sample: tuple[Any, ...] = ()  # up to 5 distinct non-null unexpected values
    details: Any = None  # GX's result details of a failure (e.g. missing columns)
    exception: str | None = None  # set when GX could not evaluate the expectation

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "expectation": self.expectation,
            "column": self.column,
            "description": self.description,
            "success": self.success,
            "element_count": self.element_count,
            "unexpected_count": self.unexpected_count,
            "unexpected_percent": self.unexpected_percent,
            "observed_value": self.observed_value,
            "unexpected_sample": list(self.unexpected_sample),
            "details": self.details,
            "exception": self.exception,
        }


@dataclass(frozen=True)
class BatchValidation:
    """The result of one suite on one batch."""

    suite: str
    batch: str  # what was validated, e.g. the landing file path
    success: bool
    outcomes: tuple[ExpectationOutcome, ...] = field(default_factory=tuple)
    datasource: str = PANDAS  # the type of the GX datasource that read it: pandas, postgres
    chunks: int = 1  # frames validated and merged (validate_chunks)
    rows: int | None = None  # rows of the batch, when the route counted them

    def failures(self) -> tuple[ExpectationOutcome, ...]:
        return tuple(o for o in self.outcomes if not o.success)

    def outcome(self, key: str) -> ExpectationOutcome:
        """The outcome of the expectation whose meta.key is `key`."""
        for o in self.outcomes:
            if o.key == key:
                return o
        raise KeyError(f"suite {self.suite!r} has no expectation with meta.key {key!r}")

    def to_metadata(self) -> dict[str, Any]:
        """A JSON-serialisable summary, e.g. for Dagster asset-check metadata."""
        failures = self.failures()
        return {
            "suite": self.suite,
            "batch": self.batch,
            "success": self.success,
            "datasource": self.datasource,
            "chunks": self.chunks,
            "rows": self.rows,
            "evaluated_expectations": len(self.outcomes),
            "failed_expectations": len(failures),
            "failed": [o.key or o.expectation for o in failures],
            "outcomes": [o.to_dict() for o in self.outcomes],
        }


@dataclass(frozen=True)
class SqlSource:
    """A database GX reads through its SQL datasource. `connect_args` go to the driver (e.g. the
    password and session options), so the URL, which GX keeps in its datasource config, holds
    no secret."""

    kind: str  # the GX datasource type: "postgres"
    connection_string: str  # a SQLAlchemy URL without password
    connect_args: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def __repr__(self) -> str:  # never print the password
        return f"SqlSource(kind={self.kind!r}, connection_string={self.connection_string!r})"


def row_by_row(definition: Mapping[str, Any]) -> bool:
    """Whether every expectation of a suite judges rows one by one (see validate_chunks)."""
    expectations = definition.get("expectations") or ()
    return bool(expectations) and all(
        e.get("type") in ROW_BY_ROW_EXPECTATIONS for e in expectations
    )


def passes_with_more_rows(expectation: Mapping[str, Any]) -> bool:
    """Whether the expectation, passing on some of a table's rows, passes on the whole table: a
    column's maximum at least a bound (the whole table's maximum is at least the subset's), its
    minimum at most one. Its verdict on the whole table is only known when it passes."""
    kwargs = expectation.get("kwargs") or {}
    bounds = {k for k in ("min_value", "max_value") if kwargs.get(k) is not None}
    kind = expectation.get("type")
    return (kind == "expect_column_max_to_be_between" and bounds == {"min_value"}) or (
        kind == "expect_column_min_to_be_between" and bounds == {"max_value"}
    )


def judged_on_some_rows(definition: Mapping[str, Any]) -> bool:
    """Whether a suite can be validated on some rows of a table (the rows rebuilt since it last
    passed, orchestration/quality/rebuilt_rows.py): every expectation judges rows one by one
    or passes with more rows (then a failure on those rows needs the whole table)."""
    expectations = definition.get("expectations") or ()
    return bool(expectations) and all(
        e.get("type") in ROW_BY_ROW_EXPECTATIONS or passes_with_more_rows(e) for e in expectations
    )


def failed_bounds(
    definition: Mapping[str, Any], validation: BatchValidation
) -> list[Mapping[str, Any]] | None:
    """The expectations that may pass on the whole table (passes_with_more_rows) a validation
    of some rows failed, when those are all it failed (None otherwise). Outcomes come in the
    suite's order."""
    expectations = definition.get("expectations") or ()
    failed = [e for e, o in zip(expectations, validation.outcomes, strict=False) if not o.success]
    if failed and all(passes_with_more_rows(e) for e in failed):
        return failed
    return None


def rows_passed(definition: Mapping[str, Any], validation: BatchValidation) -> bool:
    """Whether the rows validated passed every expectation judged row by row: what a pass of
    the rows in scope records (rebuilt_rows.record_pass); bounds on the whole table are judged
    again on every validation."""
    expectations = definition.get("expectations") or ()
    return all(
        outcome.success
        for expectation, outcome in zip(expectations, validation.outcomes, strict=False)
        if not passes_with_more_rows(expectation)
    )


# table-level expectations whose per-chunk results add up to the whole batch's: the row count
# is the sum of the chunks' counts, and every chunk of one batch has the batch's columns
_SUMMED_TABLE_EXPECTATIONS = frozenset({"expect_table_row_count_to_be_between"})
_SAME_IN_EVERY_CHUNK_EXPECTATIONS = frozenset({"expect_table_columns_to_match_set"})
_UNIQUE = "expect_column_values_to_be_unique"


def chunk_key(definition: Mapping[str, Any]) -> tuple[bool, str | None]:
    """Whether a suite can be validated chunk by chunk (`validate_chunks(grouped_by=...)`),
    and the column whose equal values must fall in one chunk for that.

    A suite of row-by-row expectations, row counts and column sets can be split anyhow
    (`(True, None)`). With `expect_column_values_to_be_unique` on one column it can be split
    only into chunks that never divide a value of that column (`(True, column)`): a duplicate
    is then counted exactly as in the whole batch. Other expectations (means, quantiles,
    uniqueness of two columns) need every row at once: `(False, None)`."""
    expectations = definition.get("expectations") or ()
    unique_columns: set[str] = set()
    for expectation in expectations:
        kind = expectation.get("type")
        if kind == _UNIQUE:
            unique_columns.add(str((expectation.get("kwargs") or {}).get("column")))
        elif kind not in (
            ROW_BY_ROW_EXPECTATIONS | _SUMMED_TABLE_EXPECTATIONS | _SAME_IN_EVERY_CHUNK_EXPECTATIONS
        ):
            return False, None
    if not expectations or len(unique_columns) > 1:
        return False, None
    return True, next(iter(unique_columns), None)


def load_suite_definition(name: str, expectations_dir: Path | None = None) -> dict[str, Any]:
    """Read `expectations/<name>.json` (GX 1.x suite format) and check its basic shape."""
    if not _SUITE_NAME.match(name):
        raise ValueError(f"invalid suite name {name!r}")
    path = Path(expectations_dir or DEFAULT_EXPECTATIONS_DIR) / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"expectation suite {name!r} not found: {path}")
    definition = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(definition, dict) or definition.get("name") != name:
        raise ValueError(f"{path}: expected a JSON object whose 'name' is {name!r}")
    expectations = definition.get("expectations")
    if not isinstance(expectations, list) or not all(
        isinstance(e, dict) and isinstance(e.get("type"), str) for e in expectations
    ):
        raise ValueError(f"{path}: 'expectations' must be a list of {{'type', 'kwargs'}} objects")
    return definition


class Validator:
    """Validates batches against suites, reusing one ephemeral GX context for all batches.

    The GX context, its datasources and one validation definition per suite and data asset are
    created on first use and then reused (a validation of a small frame takes tens of
    milliseconds; building the context and importing GX takes seconds). Safe to share between
    threads: validations are serialised with a lock.
    """

    def __init__(
        self,
        expectations_dir: Path | None = None,
        project_dir: Path | None = None,
        run_time: _dt.datetime | None = None,
    ) -> None:
        """`project_dir`: keep results in a file-backed GX project there (for Data Docs);
        `run_time` groups the results of one pipeline run (default: when this was made)."""
        self._expectations_dir = Path(expectations_dir or DEFAULT_EXPECTATIONS_DIR)
        self._project_dir = Path(project_dir) if project_dir is not None else None
        self._run_time = run_time or _dt.datetime.now(_dt.UTC)
        self._lock = threading.Lock()
        self._context: Any = None
        self._batch_definition: Any = None  # the pandas frame's
        # suite name -> (GX ExpectationSuite, {expectation id: position in the suite})
        self._suites: dict[str, tuple[Any, dict[str, int]]] = {}
        # (suite name, data asset) -> GX ValidationDefinition
        self._definitions: dict[tuple[str, str], Any] = {}
        # SqlSource -> GX SQL datasource; (datasource, schema, table) -> batch definition
        self._sql_datasources: dict[SqlSource, Any] = {}
        self._table_batches: dict[tuple[str, str, str], Any] = {}
        self._spark_batch_definition: Any = None

    def validate(
        self,
        suite_name: str,
        frame: pa.Table | pd.DataFrame,
        batch: str,
        suite_parameters: Mapping[str, Any] | None = None,
    ) -> BatchValidation:
        """Run suite `suite_name` over `frame` (one batch, e.g. one landing file).

        `batch` names what was validated and is copied into the result. `suite_parameters`
        supplies runtime values for `{"$PARAMETER": "<name>"}` placeholders in the suite's
        kwargs (e.g. `{"now": "2025-05-01T00:00:00Z"}`); a placeholder without a value makes
        GX raise (`great_expectations.exceptions.SuiteParameterError`).
        Outcomes are returned in the suite file's order.
        """
        df = _to_pandas(frame)
        with self._lock:
            self._ensure_context()
            definition = self._validation_definition(suite_name, "frame", self._batch_definition)
            result = self._run(definition, batch, {"dataframe": df}, suite_parameters)
            order = self._suites[suite_name][1]
        return _batch_validation(suite_name, batch, result, order, PANDAS, rows=len(df))

    def validate_table(
        self,
        suite_name: str,
        source: SqlSource,
        schema: str,
        table: str,
        batch: str,
        suite_parameters: Mapping[str, Any] | None = None,
    ) -> BatchValidation:
        """Run suite `suite_name` over the whole table `schema.table` of `source` through GX's
        SQL datasource: the metrics are computed by the database."""
        return self._validate_sql(
            suite_name,
            source,
            lambda: self._table_batch_definition(source, schema, table),
            batch,
            suite_parameters,
        )

    def validate_query(
        self,
        suite_name: str,
        source: SqlSource,
        query: str,
        batch: str,
        suite_parameters: Mapping[str, Any] | None = None,
    ) -> BatchValidation:
        """Like validate_table, over the rows of an SQL query (e.g. a table's rebuilt days)."""
        return self._validate_sql(
            suite_name,
            source,
            lambda: self._query_batch_definition(source, query),
            batch,
            suite_parameters,
        )

    def _validate_sql(
        self,
        suite_name: str,
        source: SqlSource,
        batch_definition_of: Callable[[], Any],
        batch: str,
        suite_parameters: Mapping[str, Any] | None,
    ) -> BatchValidation:
        with self._lock:  # the batch definition is made (once) under the lock too
            batch_definition = batch_definition_of()
            definition = self._validation_definition(
                suite_name, f"{source.kind}.{batch_definition.data_asset.name}", batch_definition
            )
            result = self._run(definition, batch, None, suite_parameters)
            order = self._suites[suite_name][1]
        return _batch_validation(suite_name, batch, result, order, source.kind)

    def validate_spark(
        self,
        suite_name: str,
        frame: Any,
        batch: str,
        suite_parameters: Mapping[str, Any] | None = None,
        rows: int | None = None,
    ) -> BatchValidation:
        """Run suite `suite_name` over a Spark DataFrame through GX's Spark datasource: Spark
        computes each metric over the whole frame. `rows`, when the caller counted them, is
        copied into the result."""
        with self._lock:
            context = self._ensure_context()
            if self._spark_batch_definition is None:
                asset = context.data_sources.add_spark(name="spark_frames").add_dataframe_asset(
                    name="spark_frame"
                )
                self._spark_batch_definition = asset.add_batch_definition_whole_dataframe(
                    "whole_spark_frame"
                )
            definition = self._validation_definition(
                suite_name, "spark_frame", self._spark_batch_definition
            )
            result = self._run(definition, batch, {"dataframe": frame}, suite_parameters)
            order = self._suites[suite_name][1]
        return _batch_validation(suite_name, batch, result, order, SPARK, rows=rows)

    def validate_chunks(
        self,
        suite_name: str,
        frames: Iterable[pa.Table | pa.RecordBatch | pd.DataFrame],
        batch: str,
        suite_parameters: Mapping[str, Any] | None = None,
        grouped_by: str | None = None,
    ) -> BatchValidation:
        """Run suite `suite_name` over a batch given as consecutive frames (e.g. the record
        batches of one table), holding one frame at a time, and merge the results: counts are
        summed, up to 20 unexpected values kept, and an expectation with `mostly` is judged on
        the totals. Only for suites whose expectations all judge rows one by one (`row_by_row`),
        or, when the caller promises that no value of column `grouped_by` spans two frames,
        for suites `chunk_key` allows with that column (row counts, column sets, uniqueness of
        `grouped_by`); others raise ValueError. The one merged result is what Data Docs shows."""
        definition = load_suite_definition(suite_name, self._expectations_dir)
        chunkable, key = chunk_key(definition)
        if not (row_by_row(definition) or (chunkable and key in (None, grouped_by))):
            raise ValueError(
                f"suite {suite_name!r} has expectations that need all rows at once: "
                "validate it as one frame"
                + (f" or in chunks grouped by {key!r}" if chunkable and key else "")
            )
        _import_gx()  # GX's first import goes through it: see there
        from great_expectations.validator.v1_validator import Validator as GxValidator

        parameters = dict(suite_parameters) if suite_parameters else None
        merged: Any = None
        chunks = rows = 0
        with self._lock:
            self._ensure_context()
            suite, order = self._suite(suite_name)
            for frame in frames:
                df = _to_pandas(frame)
                if chunks and df.empty:
                    continue  # an empty tail adds nothing
                gx_validator = GxValidator(
                    batch_definition=self._batch_definition,
                    batch_parameters={"dataframe": df},
                    result_format=_RESULT_FORMAT,
                )
                with _configurations_computed_once():
                    result = gx_validator.validate_expectation_suite(suite, parameters)
                merged = result if merged is None else _merge(merged, result)
                chunks += 1
                rows += len(df)
                del df, result
            if merged is None:
                raise ValueError(f"no frame to validate for {batch!r}")
            _judge(merged, parameters)
            if self._project_dir is not None:
                self._store(merged, suite.name, batch, gx_validator.active_batch_id)
        return _batch_validation(suite_name, batch, merged, order, PANDAS, chunks=chunks, rows=rows)

    # -- GX plumbing ---------------------------------------------------------------------------

    def _run(
        self,
        definition: Any,
        batch: str,
        batch_parameters: dict[str, Any] | None,
        suite_parameters: Mapping[str, Any] | None,
    ) -> Any:
        try:
            with _configurations_computed_once():
                return definition.run(
                    batch_parameters=batch_parameters,
                    expectation_parameters=dict(suite_parameters) if suite_parameters else None,
                    result_format=_RESULT_FORMAT,
                    run_id=self._run_id(batch),
                )
        finally:
            if self._project_dir is None:
                self._forget_results()

    def _run_id(self, batch: str) -> Any:
        if self._project_dir is None:
            return None
        _import_gx()  # GX's first import goes through it: see there
        from great_expectations.core.run_identifier import RunIdentifier

        return RunIdentifier(run_name=docs_run_name(batch), run_time=self._run_time)

    def _store(self, result: Any, suite_name: str, batch: str, batch_id: str | None) -> None:
        """Keep a result made without a ValidationDefinition (merged chunks) for Data Docs."""
        _import_gx()  # GX's first import goes through it: see there
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
            ValidationResultIdentifier,
        )

        run_id = self._run_id(batch)
        result.meta["run_id"] = run_id
        result.meta["validation_time"] = run_id.run_time
        suite_id = ExpectationSuiteIdentifier(name=suite_name)
        self._context.validation_results_store.store_validation_results(
            suite_validation_result=result,
            suite_validation_result_identifier=ValidationResultIdentifier(
                expectation_suite_identifier=suite_id, run_id=run_id, batch_identifier=batch_id
            ),
            expectation_suite_identifier=suite_id,
        )

    def _suite(self, suite_name: str) -> tuple[Any, dict[str, int]]:
        if suite_name in self._suites:
            return self._suites[suite_name]
        definition = load_suite_definition(suite_name, self._expectations_dir)
        gx = _import_gx()
        context = self._ensure_context()
        try:
            suite = gx.ExpectationSuite(**definition)
        except Exception as error:  # e.g. pydantic errors for missing/invalid kwargs
            raise ValueError(f"suite {suite_name!r} is not a valid GX suite: {error}") from error
        if len(suite.expectations) != len(definition["expectations"]):
            # GX logs and drops some invalid expectations (e.g. unknown types); refuse instead.
            raise ValueError(
                f"suite {suite_name!r}: {len(definition['expectations'])} expectations in the "
                f"file but only {len(suite.expectations)} are valid for GX (see GX's log)"
            )
        suite = context.suites.add_or_update(suite)
        order = {str(e.id): i for i, e in enumerate(suite.expectations)}
        self._suites[suite_name] = (suite, order)
        return self._suites[suite_name]

    def _validation_definition(self, suite_name: str, asset: str, batch_definition: Any) -> Any:
        key = (suite_name, asset)
        if key not in self._definitions:
            gx = _import_gx()
            suite, _ = self._suite(suite_name)
            self._definitions[key] = self._context.validation_definitions.add_or_update(
                gx.ValidationDefinition(
                    name=f"{suite_name}__{asset}", data=batch_definition, suite=suite
                )
            )
        return self._definitions[key]

    def _table_batch_definition(self, source: SqlSource, schema: str, table: str) -> Any:
        datasource = self._sql_datasource(source)
        key = (datasource.name, schema, table)
        if key not in self._table_batches:
            asset = datasource.add_table_asset(
                name=f"{schema}.{table}", table_name=table, schema_name=schema
            )
            self._table_batches[key] = asset.add_batch_definition_whole_table("whole_table")
        return self._table_batches[key]

    def _sql_datasource(self, source: SqlSource) -> Any:
        context = self._ensure_context()
        datasource = self._sql_datasources.get(source)
        if datasource is None:
            add = getattr(context.data_sources, f"add_{source.kind}", None)
            if add is None:
                raise ValueError(f"GX has no SQL datasource of type {source.kind!r}")
            datasource = add(
                name=f"{source.kind}_{len(self._sql_datasources)}",
                connection_string=source.connection_string,
                kwargs={"connect_args": dict(source.connect_args)},
            )
            self._sql_datasources[source] = datasource
        return datasource

    def _query_batch_definition(self, source: SqlSource, query: str) -> Any:
        datasource = self._sql_datasource(source)
        key = (datasource.name, "query", query)
        if key not in self._table_batches:
            asset = datasource.add_query_asset(
                name=f"query_{hashlib.sha256(query.encode()).hexdigest()[:16]}", query=query
            )
            self._table_batches[key] = asset.add_batch_definition_whole_table("whole_query")
        return self._table_batches[key]

    def _ensure_context(self) -> Any:
        if self._context is None:
            gx = _import_gx()
            from great_expectations.data_context.types.base import (
                DataContextConfig,
                InMemoryStoreBackendDefaults,
                ProgressBarsConfig,
            )

            config = DataContextConfig(
                store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
                analytics_enabled=False,
                progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
            )
            if self._project_dir is not None:
                # Results go where the file-backed project (build_data_docs) reads them; suites
                # and definitions stay in memory, so validators of several runs or processes
                # never rewrite each other's GX objects.
                config.stores[config.validation_results_store_name] = {
                    "class_name": "ValidationResultsStore",
                    "store_backend": {
                        "class_name": "TupleFilesystemStoreBackend",
                        "base_directory": str(results_directory(self._project_dir)),
                    },
                }
            context = gx.get_context(mode="ephemeral", project_config=config)
            asset = context.data_sources.add_pandas(name="frames").add_dataframe_asset(name="frame")
            self._batch_definition = asset.add_batch_definition_whole_dataframe("whole_frame")
            self._context = context
        return self._context

    def _forget_results(self) -> None:
        # ValidationDefinition.run stores every result in the context's (in-memory) results
        # store; drop them so a long-lived Validator does not grow with each batch.
        store = self._context.validation_results_store
        for key in store.list_keys():
            store.remove_key(key)


def _batch_validation(
    suite_name: str,
    batch: str,
    result: Any,
    order: Mapping[str, int],
    datasource: str,
    chunks: int = 1,
    rows: int | None = None,
) -> BatchValidation:
    outcomes = [_outcome(r) for r in result.results]
    positions = [order.get(str(r.expectation_config.id), len(order)) for r in result.results]
    ordered = tuple(o for _, o in sorted(zip(positions, outcomes, strict=True), key=_first))
    return BatchValidation(
        suite=suite_name,
        batch=batch,
        success=bool(result.success),
        outcomes=ordered,
        datasource=datasource,
        chunks=chunks,
        rows=rows,
    )


_SUMMED = ("element_count", "unexpected_count", "missing_count")


def _merge(total: Any, chunk: Any) -> Any:
    """Fold one chunk's suite result into the running total (same suite, same order)."""
    for kept, new in zip(total.results, chunk.results, strict=True):
        if new.exception_info and _exception_messages(new.exception_info):
            if not (kept.exception_info and _exception_messages(kept.exception_info)):
                kept.exception_info = new.exception_info
            kept.success = False
        detail, more = dict(kept.result or {}), dict(new.result or {})
        for name in _SUMMED:
            if name in detail or name in more:
                detail[name] = int(detail.get(name) or 0) + int(more.get(name) or 0)
        partial = list(detail.get("partial_unexpected_list") or ())
        room = _PARTIAL_UNEXPECTED - len(partial)
        if room > 0:
            partial.extend(list(more.get("partial_unexpected_list") or ())[:room])
        if "partial_unexpected_list" in detail or "partial_unexpected_list" in more:
            detail["partial_unexpected_list"] = partial
        if _kind(kept) in _SUMMED_TABLE_EXPECTATIONS:
            detail["observed_value"] = int(detail.get("observed_value") or 0) + int(
                more.get("observed_value") or 0
            )
        kept.result = detail
        kept.success = bool(kept.success) and bool(new.success)  # re-judged by _judge
    return total


def _kind(item: Any) -> str:
    return str(getattr(item.expectation_config, "type", ""))


def _judge(result: Any, parameters: Mapping[str, Any] | None) -> None:
    """Recompute the percentages and successes of a merged result from its summed counts, as
    GX judges one batch: the share of unexpected among the rows considered (non-missing) must
    be at most 1 - mostly; no rows considered passes."""
    _import_gx()  # GX's first import goes through it: see there
    from great_expectations.validator.validator import calc_validation_statistics

    for item in result.results:
        detail = dict(item.result or {})
        if _kind(item) in _SUMMED_TABLE_EXPECTATIONS and not (
            item.exception_info and _exception_messages(item.exception_info)
        ):
            item.success = _count_within(item, detail.get("observed_value"), parameters)
            continue
        if detail.get("unexpected_count") is None or (
            item.exception_info and _exception_messages(item.exception_info)
        ):
            continue
        total = int(detail.get("element_count") or 0)
        missing = int(detail.get("missing_count") or 0)
        unexpected = int(detail["unexpected_count"])
        considered = total - missing
        percent = unexpected / considered * 100 if considered else None
        detail["unexpected_percent"] = percent
        if "unexpected_percent_nonmissing" in detail:
            detail["unexpected_percent_nonmissing"] = percent
        if "unexpected_percent_total" in detail:
            detail["unexpected_percent_total"] = unexpected / total * 100 if total else None
        if "missing_percent" in detail:
            detail["missing_percent"] = missing / total * 100 if total else None
        item.result = detail
        mostly = _resolved((item.expectation_config.kwargs or {}).get("mostly", 1), parameters)
        item.success = considered == 0 or (considered - unexpected) / considered >= float(mostly)
    statistics = calc_validation_statistics(result.results)
    result.success = statistics.success
    result.statistics = {
        "evaluated_expectations": statistics.evaluated_expectations,
        "successful_expectations": statistics.successful_expectations,
        "unsuccessful_expectations": statistics.unsuccessful_expectations,
        "success_percent": statistics.success_percent,
    }


def _count_within(item: Any, count: Any, parameters: Mapping[str, Any] | None) -> bool:
    """A summed row count judged against the expectation's bounds as GX judges one batch:
    inclusive unless `strict_min` / `strict_max`; a missing bound does not limit."""
    kwargs = item.expectation_config.kwargs or {}
    low, high = (
        None if kwargs.get(name) is None else _resolved(kwargs[name], parameters)
        for name in ("min_value", "max_value")
    )
    count = int(count or 0)
    above = low is None or (count > low if kwargs.get("strict_min") else count >= low)
    below = high is None or (count < high if kwargs.get("strict_max") else count <= high)
    return above and below


def _resolved(value: Any, parameters: Mapping[str, Any] | None) -> Any:
    if isinstance(value, Mapping) and "$PARAMETER" in value:
        return (parameters or {})[str(value["$PARAMETER"])]
    return 1 if value is None else value


@contextmanager
def _configurations_computed_once() -> Iterator[None]:
    """Within one validation, compute each expectation's `configuration` once.

    GX 1.24 rebuilds `Expectation.configuration` (a pydantic `dict()` plus a new
    ExpectationConfiguration) on every access, about 80 times per expectation per validation:
    profiled, that is ~40% of the time GX takes to validate a small file, a fixed cost paid by
    every landing file. The expectations of one validation are built from the suite once and not
    changed while it runs, so the first value is the value. The cache holds the expectation
    itself next to its configuration, so no id is reused while the cache lives, and it is dropped
    when the validation ends (callers hold the Validator's lock: one validation at a time).
    """
    _import_gx()  # GX's first import goes through it: see there
    from great_expectations.expectations.expectation import Expectation

    original = Expectation.__dict__["configuration"]
    cache: dict[int, tuple[Any, Any]] = {}

    def configuration(self: Any) -> Any:
        hit = cache.get(id(self))
        if hit is None:
            hit = cache[id(self)] = (self, original.fget(self))
        return hit[1]

    Expectation.configuration = property(configuration)  # type: ignore[method-assign]
    try:
        yield
    finally:
        Expectation.configuration = original  # type: ignore[method-assign]
        cache.clear()


def docs_run_name(batch: str) -> str:
    """The GX run name a batch's result is stored under (a file path's `/` would nest folders)."""
    return re.sub(r"[^A-Za-z0-9_.@:=+-]+", "~", batch).strip("~") or "batch"


def results_directory(project_dir: Path) -> Path:
    """Where validation results are kept: the file-backed project's validations store."""
    return Path(project_dir) / "gx" / "uncommitted" / "validations"


def file_context(project_dir: Path) -> Any:
    """The file-backed GX context in `<project_dir>/gx/` (created on first use), quiet."""
    gx = _import_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    project_dir = Path(project_dir)
    project_dir.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(project_dir))
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    context.variables.analytics_enabled = False
    return context


def build_data_docs(
    project_dir: Path, expectations_dir: Path | None = None, keep_runs: int = 20
) -> Path:
    """Rebuild the static Data Docs site of the GX project in `<project_dir>/gx/`.

    Every suite file in `expectations_dir` is (re)registered and its page rendered again, so a
    suite shows even before its first validation. Results of all but the newest `keep_runs` runs
    (a run = one run_time) are deleted first, with their pages, so the site and its rebuild time
    stay bounded. A stored result's page is rendered once: a rebuild renders only the results
    without one (rendering is most of a rebuild: a backfill validates hundreds of files, and
    every later run would render their pages again). The site's pages are made to work offline
    (no CDN) by `orchestration.quality.data_docs`. Returns the index page.
    """
    from orchestration.quality.data_docs import make_offline

    gx = _import_gx()
    expectations_dir = Path(expectations_dir or DEFAULT_EXPECTATIONS_DIR)
    context = file_context(project_dir)
    for path in sorted(expectations_dir.glob("*.json")):
        definition = _with_documented_mostly(load_suite_definition(path.stem, expectations_dir))
        context.suites.add_or_update(gx.ExpectationSuite(**definition))
    site_dir = Path(project_dir) / "gx" / "uncommitted" / "data_docs" / "local_site"
    store = context.validation_results_store
    keys = store.list_keys()
    run_times = sorted({str(k.run_id.run_time) for k in keys}, reverse=True)
    keep = set(run_times[:keep_runs])
    for key in keys:
        if str(key.run_id.run_time) not in keep:
            store.remove_key(key)
            _result_page(site_dir, key).unlink(missing_ok=True)
    kept = [key for key in keys if str(key.run_id.run_time) in keep]
    unrendered = [key for key in kept if not _result_page(site_dir, key).is_file()]
    if (site_dir / "index.html").is_file():
        # the suites' pages always: a suite file may have changed since
        suites = context.expectations_store.list_keys()
        sites = context.build_data_docs(resource_identifiers=[*suites, *unrendered])
    else:  # a new site, or one whose index is gone: everything
        sites = context.build_data_docs()
    if "local_site" not in sites or not site_dir.is_dir():
        raise RuntimeError(f"GX did not build the local Data Docs site: {sites}")
    return make_offline(site_dir, expectations_dir)


def _result_page(site_dir: Path, key: Any) -> Path:
    """Where the site keeps the page of a stored validation result: its store path (suite,
    run name, run time, batch) under `validations/`, as `.html`."""
    *directories, batch = key.to_tuple()
    return site_dir.joinpath("validations", *directories, f"{batch}.html")


def _with_documented_mostly(definition: dict[str, Any]) -> dict[str, Any]:
    """The suite with each `mostly` placeholder replaced by its documented default (the suite
    meta entry named like the parameter, `{"default": ...}`), for the suite's Data Docs page:
    GX's renderers multiply `mostly` and fail on a placeholder. Validation results are stored
    with the values actually used, so their pages need no such help."""
    meta = definition.get("meta") or {}
    expectations = []
    for expectation in definition.get("expectations") or ():
        kwargs = dict(expectation.get("kwargs") or {})
        mostly = kwargs.get("mostly")
        if isinstance(mostly, Mapping) and "$PARAMETER" in mostly:
            documented = meta.get(str(mostly["$PARAMETER"]))
            if isinstance(documented, Mapping) and "default" in documented:
                kwargs["mostly"] = float(documented["default"])
            else:
                kwargs.pop("mostly")
        expectations.append({**expectation, "kwargs": kwargs})
    return {**definition, "expectations": expectations}


def _import_gx() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    if "great_expectations" in sys.modules:
        return sys.modules["great_expectations"]
    # With pyspark installed, GX imports pyspark's connect package, which takes a main module
    # with neither a spec nor a file (`python -c`, the process a Dagster code server spawns for
    # a run launched from the UI) for its doctest runner and calls sys.exit(0). An interactive
    # prompt tells it otherwise; it is set only while GX is imported.
    prompt_added = not hasattr(sys, "ps1")
    if prompt_added:
        sys.ps1 = ">>> "
    try:
        import great_expectations as gx
    finally:
        if prompt_added:
            del sys.ps1
    return gx


def _first(pair: tuple[int, ExpectationOutcome]) -> int:
    return pair[0]


def _to_pandas(frame: Any) -> pd.DataFrame:
    if hasattr(frame, "to_pandas") and not hasattr(frame, "iloc"):  # pyarrow Table / batch
        return frame.to_pandas()
    return frame


def _columns(kwargs: Mapping[str, Any]) -> str | None:
    if kwargs.get("column") is not None:
        return str(kwargs["column"])
    if kwargs.get("column_A") is not None:
        return f"{kwargs['column_A']}, {kwargs.get('column_B')}"
    if kwargs.get("column_list") is not None:
        return ", ".join(str(c) for c in kwargs["column_list"])
    return None


def _outcome(result: Any) -> ExpectationOutcome:
    config = result.expectation_config
    meta = dict(config.meta or {})
    detail = dict(result.result or {})
    exception_info = result.exception_info or {}
    messages = _exception_messages(exception_info)
    sample: list[Any] = []
    for value in detail.get("partial_unexpected_list") or ():
        value = _jsonable(value)
        if value is not None and value not in sample:  # nulls say nothing (not-null checks)
            sample.append(value)
        if len(sample) >= _SAMPLE_SIZE:
            break
    return ExpectationOutcome(
        expectation=config.type,
        column=_columns(config.kwargs),
        description=meta.get("description"),
        success=bool(result.success),
        element_count=_int_or_none(detail.get("element_count")),
        unexpected_count=_int_or_none(detail.get("unexpected_count")),
        unexpected_percent=_float_or_none(detail.get("unexpected_percent")),
        observed_value=_jsonable(detail.get("observed_value")),
        key=meta.get("key"),
        unexpected_sample=tuple(sample),
        # e.g. the missing columns of a column-set check; noise when the check passed
        details=None if result.success else _jsonable(detail.get("details")),
        exception="; ".join(messages) if messages else None,
    )


def _exception_messages(info: Mapping[str, Any]) -> list[str]:
    # GX reports either {"raised_exception", "exception_message", ...} or, for metric errors,
    # {"<metric id>": {"raised_exception", "exception_message", ...}, ...}.
    if "raised_exception" in info:
        infos: list[Any] = [info]
    else:
        infos = [v for v in info.values() if isinstance(v, Mapping)]
    return [
        str(i.get("exception_message") or "unknown error")
        for i in infos
        if i.get("raised_exception")
    ]


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _float_or_none(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _jsonable(value: Any) -> Any:
    """Turn GX/numpy/pandas values into plain JSON values (NaN/NaT -> None)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):  # also numpy ints that subclass int
        return int(value)
    if isinstance(value, float):  # also numpy.float64
        return None if math.isnan(value) or math.isinf(value) else float(value)
    if _is_missing(value):  # NaT, pd.NA
        return None
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, decimal.Decimal):
        return _jsonable(float(value))
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays, pandas Series
    if callable(tolist):
        try:
            converted = tolist()
        except (TypeError, ValueError):
            converted = value
        if type(converted) is not type(value):
            return _jsonable(converted)
    return str(value)


def _is_missing(value: Any) -> bool:
    try:
        return bool(value != value)
    except (TypeError, ValueError):  # pd.NA refuses bool(); arrays are ambiguous
        return type(value).__name__ == "NAType"
