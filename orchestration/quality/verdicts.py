"""Severity and blocking: what a failed expectation means for its batch.

Severity comes from the suite file: an expectation's `meta.severity` ("error" or "warning"),
else the suite's `meta.severity`, else "warning" (a suite blocks only where it says so).

A raw batch (one landing file written by one load) is **blocked** when an error-severity
expectation fails on it, with one allowance: a share threshold (`mostly`) says little about a
tiny file (one bad row in three is 33%), so on a batch with fewer rows than the suite's
`meta.min_rows_to_block` (default 20) a failing share-based expectation only warns. A blocked
file's rows are quarantined downstream with the reason `batch_failed_validation` (see
`int_nps_responses_validated`), so nothing of it reaches the marts and the row accounting
still reconciles; the other files are not affected.

Verdicts are stored in `raw.batch_validations` (one row per suite, file and load), which the
dbt model reads through `stg_survey__batch_validations`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb

from orchestration.quality.gx_engine import BatchValidation, ExpectationOutcome

ERROR = "error"
WARNING = "warning"
DEFAULT_MIN_ROWS_TO_BLOCK = 20
BATCH_VALIDATIONS_TABLE = "raw.batch_validations"

_CREATE_SQL = f"""
CREATE TABLE IF NOT EXISTS {BATCH_VALIDATIONS_TABLE} (
    feed VARCHAR NOT NULL,
    suite VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    load_id VARCHAR NOT NULL,
    validated_at TIMESTAMPTZ NOT NULL,
    row_count BIGINT,
    success BOOLEAN NOT NULL,
    blocked BOOLEAN NOT NULL,
    blocking_expectations VARCHAR,
    failed_expectations VARCHAR
)
"""


def expectation_severity(definition: Mapping[str, Any], key: str | None) -> str:
    """The severity of the expectation whose meta.key is `key` in a suite definition."""
    suite_default = str((definition.get("meta") or {}).get("severity") or WARNING)
    for expectation in definition.get("expectations") or ():
        meta = expectation.get("meta") or {}
        if key is not None and meta.get("key") == key:
            return _normalise(meta.get("severity") or suite_default)
    return _normalise(suite_default)


def _normalise(severity: str) -> str:
    value = str(severity).lower()
    if value in ("warn", "warning"):
        return WARNING
    if value in ("error", "fail", "failure"):
        return ERROR
    raise ValueError(f"unknown severity {severity!r}: use 'error' or 'warning'")


def _is_share_based(definition: Mapping[str, Any], key: str | None) -> bool:
    for expectation in definition.get("expectations") or ():
        if (expectation.get("meta") or {}).get("key") == key:
            return "mostly" in (expectation.get("kwargs") or {})
    return False


@dataclass(frozen=True)
class Verdict:
    """One validated batch with what its failures mean."""

    validation: BatchValidation
    rows: int
    blocking: tuple[str, ...] = ()  # keys of failed error-severity expectations that block
    warnings: tuple[str, ...] = ()  # keys of failed expectations that only warn
    details: dict[str, Any] = field(default_factory=dict)  # e.g. the row-count band

    @property
    def blocked(self) -> bool:
        return bool(self.blocking)

    def failed_summary(self) -> list[dict[str, Any]]:
        """Per failed expectation: key, severity here, counts and observed value."""
        return [
            {
                "key": o.key or o.expectation,
                "effect": "blocks" if (o.key or o.expectation) in self.blocking else "warns",
                "unexpected_count": o.unexpected_count,
                "element_count": o.element_count,
                "unexpected_percent": o.unexpected_percent,
                "observed_value": o.observed_value,
                "exception": o.exception,
            }
            for o in self.validation.failures()
        ]

    def to_metadata(self) -> dict[str, Any]:
        return {
            **self.validation.to_metadata(),
            "rows": self.rows,
            "blocked": self.blocked,
            "blocking": list(self.blocking),
            "warnings": list(self.warnings),
            **self.details,
        }


def judge(
    definition: Mapping[str, Any],
    validation: BatchValidation,
    rows: int,
    details: Mapping[str, Any] | None = None,
) -> Verdict:
    """Split a batch's failed expectations into blocking and warning ones."""
    min_rows = int(
        (definition.get("meta") or {}).get("min_rows_to_block", DEFAULT_MIN_ROWS_TO_BLOCK)
    )
    blocking: list[str] = []
    warnings: list[str] = []
    for outcome in validation.failures():
        key = outcome.key or outcome.expectation
        severe = expectation_severity(definition, outcome.key) == ERROR
        too_small = rows < min_rows and _is_share_based(definition, outcome.key)
        (blocking if severe and not too_small else warnings).append(key)
    return Verdict(validation, rows, tuple(blocking), tuple(warnings), dict(details or {}))


def check_severity(definition: Mapping[str, Any], failures: Sequence[ExpectationOutcome]) -> str:
    """ERROR when any failed expectation has error severity, else WARN (Dagster's names)."""
    if any(expectation_severity(definition, o.key) == ERROR for o in failures):
        return "ERROR"
    return "WARN"


def ensure_batch_validations_table(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute("CREATE SCHEMA IF NOT EXISTS raw")
    conn.execute(_CREATE_SQL)


def record_verdicts(
    conn: duckdb.DuckDBPyConnection, feed: str, load_id: str, verdicts: Sequence[Verdict]
) -> None:
    """Store the verdicts of one load (replacing earlier ones of the same file and load)."""
    ensure_batch_validations_table(conn)
    now = datetime.now(UTC)
    for verdict in verdicts:
        v = verdict.validation
        conn.execute(
            f"DELETE FROM {BATCH_VALIDATIONS_TABLE} "
            "WHERE suite = ? AND source_file = ? AND load_id = ?",
            [v.suite, v.batch, load_id],
        )
        conn.execute(
            f"INSERT INTO {BATCH_VALIDATIONS_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                feed,
                v.suite,
                v.batch,
                load_id,
                now,
                verdict.rows,
                v.success,
                verdict.blocked,
                ", ".join(verdict.blocking) or None,
                json.dumps(verdict.failed_summary()) if v.failures() else None,
            ],
        )
