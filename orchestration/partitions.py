"""Daily partitions by submission date, and the days a run must reprocess.

Loading stays file-based (exactly once, via the manifest): one export can span a year and one day
can arrive in several files, so a run's partition range is derived from the rows of the files it
loads, not from file names. The days are local dates in $NPS_TIMEZONE (default UTC), the same
time zone dbt gets as the var `nps_timezone`; dbt gets the range as the environment variables
NPS_PARTITION_START / NPS_PARTITION_END (inclusive 'YYYY-MM-DD'), the orchestrator's form of the
vars `nps_partition_start` / `nps_partition_end`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb

from orchestration.landing.feeds import FEEDS, NPS_RESPONSES
from orchestration.landing.loader import MANIFEST_TABLE, discover_files
from orchestration.landing.readers import FileLoadError, source_relation

log = logging.getLogger(__name__)

TIMEZONE_ENV = "NPS_TIMEZONE"
PARTITIONS_START_ENV = "NPS_PARTITIONS_START"
LOOKBACK_ENV = "NPS_LOOKBACK_DAYS"
DEFAULT_PARTITIONS_START = "2020-01-01"
DEFAULT_LOOKBACK_DAYS = 3

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
PARTITION_TAG = "dagster/partition"

# the dbt vars shared with the incremental models (the interface of issue 6)
VAR_START = "nps_partition_start"
VAR_END = "nps_partition_end"
VAR_TIMEZONE = "nps_timezone"
VAR_LOOKBACK = "nps_lookback_days"
# ... and the same range as environment variables, which macros/nps_incremental.sql reads only
# while executing: dbt re-parses the whole project when its `--vars` differ from the last parse's,
# but does not track an environment variable that no file reads at parse time
ENV_START = "NPS_PARTITION_START"
ENV_END = "NPS_PARTITION_END"

# mirrors macros/parsing.sql parse_timestamp_utc: ISO 8601, a value without offset is UTC
ISO_PATTERN = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)? ?"
    r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)?"
)


def nps_timezone() -> str:
    return os.environ.get(TIMEZONE_ENV) or "UTC"


def lookback_days() -> int:
    return int(os.environ.get(LOOKBACK_ENV) or DEFAULT_LOOKBACK_DAYS)


def build_partitions_def() -> dg.DailyPartitionsDefinition:
    # end_offset=1: today's partition exists, so a file landing today gets a run today
    return dg.DailyPartitionsDefinition(
        start_date=os.environ.get(PARTITIONS_START_ENV) or DEFAULT_PARTITIONS_START,
        timezone=nps_timezone(),
        end_offset=1,
    )


nps_daily_partitions = build_partitions_def()


@dataclass(frozen=True)
class DayRange:
    """Inclusive range of local dates."""

    start: date
    end: date

    def union(self, other: DayRange | None) -> DayRange:
        if other is None:
            return self
        return DayRange(min(self.start, other.start), max(self.end, other.end))

    def to_json(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}

    @classmethod
    def from_json(cls, value: Mapping[str, str] | None) -> DayRange | None:
        if not value or not value.get("start") or not value.get("end"):
            return None
        return cls(date.fromisoformat(value["start"]), date.fromisoformat(value["end"]))


def union_all(ranges: Iterable[DayRange | None]) -> DayRange | None:
    result: DayRange | None = None
    for day_range in ranges:
        if day_range is not None:
            result = day_range.union(result)
    return result


def partition_key_range(
    day_range: DayRange,
    partitions_def: dg.DailyPartitionsDefinition = nps_daily_partitions,
    now: datetime | None = None,
) -> dg.PartitionKeyRange:
    """The Dagster partitions covering `day_range`, clamped to the partitions that exist (rows
    dated before the first partition or in the future still reach dbt through the vars)."""
    first = date.fromisoformat(partitions_def.get_first_partition_key())
    with dg.partition_loading_context(effective_dt=now):
        last_key = partitions_def.get_last_partition_key()
    last = date.fromisoformat(last_key) if last_key else first
    start = min(max(day_range.start, first), last)
    end = max(min(day_range.end, last), start)
    return dg.PartitionKeyRange(start.isoformat(), end.isoformat())


def range_tags(key_range: dg.PartitionKeyRange) -> dict[str, str]:
    return {RANGE_START_TAG: key_range.start, RANGE_END_TAG: key_range.end}


def run_day_range(tags: Mapping[str, str]) -> DayRange | None:
    """The days a run targets, from its partition tags (single key or single-run range)."""
    if tags.get(RANGE_START_TAG) and tags.get(RANGE_END_TAG):
        return DayRange(
            date.fromisoformat(tags[RANGE_START_TAG]), date.fromisoformat(tags[RANGE_END_TAG])
        )
    if tags.get(PARTITION_TAG):
        day = date.fromisoformat(tags[PARTITION_TAG])
        return DayRange(day, day)
    return None


def dbt_vars() -> dict[str, str | int]:
    """Vars of every dbt invocation and of the parse Dagster reads (the same in all, or dbt
    re-parses the project): only the settings given in the environment, else the project's."""
    values: dict[str, str | int] = {}
    if os.environ.get(TIMEZONE_ENV):
        values[VAR_TIMEZONE] = nps_timezone()
    if os.environ.get(LOOKBACK_ENV):
        values[VAR_LOOKBACK] = lookback_days()
    return values


def dbt_vars_args() -> list[str]:
    values = dbt_vars()
    return ["--vars", json.dumps(values)] if values else []


@contextlib.contextmanager
def dbt_partition_env(day_range: DayRange | None) -> Iterator[None]:
    """The range for the dbt processes started inside: set, or unset (a normal incremental run)
    whatever this process's environment says. Not thread-safe: steps run one at a time (the
    in-process executor)."""
    wanted = (
        {ENV_START: day_range.start.isoformat(), ENV_END: day_range.end.isoformat()}
        if day_range is not None
        else {ENV_START: None, ENV_END: None}
    )
    saved = {name: os.environ.get(name) for name in wanted}
    try:
        for name, value in wanted.items():
            _set_env(name, value)
        yield
    finally:
        for name, value in saved.items():
            _set_env(name, value)


def _set_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def local_day_sql(text_column: str, timezone: str) -> str:
    tz = timezone.replace("'", "''")
    # a future submission is quarantined for good (future_submitted_at): it changes no day
    return (
        f"case when regexp_full_match(trim({text_column}), '{ISO_PATTERN}') "
        f"and try_cast(trim({text_column}) as timestamptz) <= now() "
        f"then cast(timezone('{tz}', try_cast(trim({text_column}) as timestamptz)) as date) end"
    )


def _day_range_from(row: tuple | None) -> DayRange | None:
    if not row or row[0] is None:
        return None
    return DayRange(row[0], row[1])


def file_day_range(
    path: Path,
    source_file: str,
    timezone: str | None = None,
    conn: duckdb.DuckDBPyConnection | None = None,
) -> DayRange | None:
    """Local dates spanned by the `submitted_at` values of one landing file (None when it has
    none or cannot be read: the load reports unreadable files, no day needs reprocessing).
    `conn`: an in-memory connection to reuse (set to UTC), for many files in a row."""
    timezone = timezone or nps_timezone()
    own = conn is None
    conn = conn or _utc_memory_connection()
    try:
        relation = source_relation(conn, path, source_file)
        expression = next((e for _, name, e in relation.columns if name == "submitted_at"), None)
        if expression is None:
            return None
        day = local_day_sql(expression, timezone)
        row = conn.execute(f"select min({day}), max({day}) from {relation.from_sql}").fetchall()
        return _day_range_from(row[0])
    except (FileLoadError, duckdb.Error) as exc:
        log.info("no submission dates read from %s: %s", source_file, exc)
        return None
    finally:
        if own:
            conn.close()


def _utc_memory_connection() -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    conn.execute("set TimeZone = 'UTC'")
    return conn


def raw_day_range(
    conn: duckdb.DuckDBPyConnection,
    *,
    source_files: Iterable[str] = (),
    load_id: str | None = None,
    timezone: str | None = None,
) -> DayRange | None:
    """Local dates of the raw responses of these files / this load, and of every other raw row
    sharing a response id with them (the first received of a response id wins, so replacing a
    file can move a response to another file's row and day)."""
    files = sorted(set(source_files))
    if not files and not load_id:
        return None
    exists = conn.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'raw' and table_name = ?",
        [NPS_RESPONSES.table],
    ).fetchall()[0][0]
    if not exists:
        return None
    day = local_day_sql("submitted_at", timezone or nps_timezone())
    table = f"raw.{NPS_RESPONSES.table}"
    sql = f"""
        with touched as (
            select * from {table}
            where list_contains(?, _source_file) or _load_id = ?
        ),
        partners as (
            select * from {table}
            where trim(response_id) in (
                select trim(response_id) from touched where response_id is not null
            )
        ),
        days as (
            select {day} as day from touched
            union all
            select {day} from partners
        )
        select min(day), max(day) from days
    """
    return _day_range_from(conn.execute(sql, [files, load_id or ""]).fetchall()[0])


@dataclass(frozen=True)
class LandingFile:
    feed: str
    source_file: str
    path: Path
    size: int
    mtime_ns: int

    @property
    def signature(self) -> list[int]:
        return [self.size, self.mtime_ns]


class WarehouseBusy(Exception):
    """Another process writes the warehouse (DuckDB allows one writer, and no reader beside it)."""


def read_manifest(warehouse: Path) -> dict[str, tuple[int | None, int | None, str]]:
    """source_file -> (size, mtime_ns, status) of the loaded versions; {} before the first load."""
    if not warehouse.exists():
        return {}
    try:
        conn = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:
        raise WarehouseBusy(str(exc)) from exc
    try:
        return _manifest(conn)
    finally:
        conn.close()


def _manifest(conn: duckdb.DuckDBPyConnection) -> dict[str, tuple[int | None, int | None, str]]:
    exists = conn.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'raw' and table_name = 'landing_manifest'"
    ).fetchall()[0][0]
    if not exists:
        return {}
    return {
        row[0]: (row[1], row[2], row[3])
        for row in conn.execute(
            f"select source_file, file_size, file_mtime_ns, status from {MANIFEST_TABLE}"
        ).fetchall()
    }


def landing_files(landing_dir: Path) -> list[LandingFile]:
    files = []
    for feed in FEEDS:
        for path in discover_files(landing_dir, feed):
            try:
                stat = path.stat()
            except OSError:  # vanished between listing and stat: the next look sees it or not
                continue
            files.append(
                LandingFile(
                    feed.name,
                    path.relative_to(landing_dir).as_posix(),
                    path,
                    stat.st_size,
                    stat.st_mtime_ns,
                )
            )
    return files


def is_pending(file: LandingFile, manifest: Mapping[str, tuple]) -> bool:
    """New, or not the version the manifest loaded (a failed file stays pending until fixed)."""
    known = manifest.get(file.source_file)
    return not known or known[2] != "loaded" or (known[0], known[1]) != (file.size, file.mtime_ns)


@dataclass(frozen=True)
class PendingWork:
    files: list[LandingFile]
    days: DayRange | None  # local dates whose facts change when these files load
    loaded: frozenset[str] = frozenset()  # files whose current version the manifest loaded


def pending_work(
    landing_dir: Path,
    warehouse: Path,
    already_requested: Mapping[str, list[int]] | None = None,
    settle_seconds: float = 0.0,
    now: datetime | None = None,
) -> PendingWork:
    """Files a run must load (new or changed since the manifest's version, and not already
    requested with the same size and mtime), and the days their rows span, before and after.

    Raises WarehouseBusy when a run holds the warehouse: try again later."""
    already_requested = already_requested or {}
    now_ts = (now or datetime.now()).timestamp()
    present = landing_files(landing_dir)
    if not warehouse.exists():
        manifest: dict = {}
        old_days = None
        files = [f for f in present if _wanted(f, {}, already_requested)]
    else:
        try:
            conn = duckdb.connect(str(warehouse), read_only=True)
        except duckdb.Error as exc:
            raise WarehouseBusy(str(exc)) from exc
        try:
            conn.execute("set TimeZone = 'UTC'")
            manifest = _manifest(conn)
            files = [f for f in present if _wanted(f, manifest, already_requested)]
            replaced = [
                f.source_file
                for f in files
                if f.feed == NPS_RESPONSES.name and f.source_file in manifest
            ]
            old_days = raw_day_range(conn, source_files=replaced)
        finally:
            conn.close()
    # a file modified a moment ago may still be being written: the next look takes it
    files = [f for f in files if now_ts - f.mtime_ns / 1e9 >= settle_seconds]
    with contextlib.closing(_utc_memory_connection()) as scan:
        new_days = union_all(
            file_day_range(f.path, f.source_file, conn=scan)
            for f in files
            if f.feed == NPS_RESPONSES.name
        )
    return PendingWork(
        files=files,
        days=union_all([old_days, new_days]),
        loaded=frozenset(f.source_file for f in present if not is_pending(f, manifest)),
    )


def _wanted(
    file: LandingFile, manifest: Mapping[str, tuple], already_requested: Mapping[str, list[int]]
) -> bool:
    if not is_pending(file, manifest):
        return False
    return list(already_requested.get(file.source_file) or []) != file.signature


def latest_days(days: int, today: date | None = None) -> DayRange:
    """The last `days` days before today plus today, in $NPS_TIMEZONE."""
    today = today or datetime.now(ZoneInfo(nps_timezone())).date()
    return DayRange(today - timedelta(days=days), today)


# --- the raw load step: days it touched, and its transient / permanent file errors ----------

TOUCHED_DAYS_METADATA = "reprocess_days"
SETTLE_ENV = "NPS_LANDING_SETTLE_SECONDS"
DEFAULT_SETTLE_SECONDS = 3.0

# exponential backoff: 2, 4, 8, 16 s (+ jitter) for a file still being written or briefly gone
LOAD_RETRY_POLICY = dg.RetryPolicy(
    max_retries=4, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


def settle_seconds() -> float:
    return float(os.environ.get(SETTLE_ENV) or DEFAULT_SETTLE_SECONDS)


def days_before_load(conn: duckdb.DuckDBPyConnection, landing_dir: Path) -> DayRange | None:
    """Days of the raw rows that pending changed files are about to replace."""
    conn.execute("set TimeZone = 'UTC'")
    manifest = _manifest(conn)
    replaced = [
        f.source_file
        for f in landing_files(landing_dir)
        if f.feed == NPS_RESPONSES.name and f.source_file in manifest and is_pending(f, manifest)
    ]
    return raw_day_range(conn, source_files=replaced)


def days_after_load(
    conn: duckdb.DuckDBPyConnection, load_id: str, replaced: DayRange | None
) -> DayRange | None:
    return union_all([replaced, raw_day_range(conn, load_id=load_id)])


def touched_metadata(days: DayRange | None) -> dg.MetadataValue:
    return dg.MetadataValue.json(days.to_json() if days else {})


def check_landing_files(context: dg.AssetExecutionContext, landing_dir: Path, feed) -> None:
    """Before loading: a file modified within $NPS_LANDING_SETTLE_SECONDS (still being written)
    or briefly unreadable is transient: raise for a retry with backoff; a file this process may
    never read (permission) is permanent: a dg.Failure naming it, not retried."""
    settle = settle_seconds()
    now = datetime.now().timestamp()
    for path in discover_files(landing_dir, feed):
        source_file = path.relative_to(landing_dir).as_posix()
        try:
            stat = path.stat()
            with path.open("rb") as handle:
                handle.read(1)
        except PermissionError as exc:
            raise dg.Failure(
                description=f"landing file {source_file} cannot be read: {exc.strerror}",
                metadata={"file": source_file},
                allow_retries=False,
            ) from exc
        except OSError as exc:
            raise _transient(context, source_file, f"{exc.__class__.__name__}: {exc}") from exc
        if now - stat.st_mtime < settle:
            raise _transient(context, source_file, "still being written (modified just now)")


def _transient(context: dg.AssetExecutionContext, source_file: str, reason: str) -> dg.Failure:
    attempt = context.retry_number + 1
    context.log.warning(
        f"landing file {source_file}: {reason} (attempt {attempt} of "
        f"{LOAD_RETRY_POLICY.max_retries + 1})"
    )
    return dg.Failure(
        description=f"landing file {source_file}: {reason}",
        metadata={"file": source_file, "attempts": attempt},
        allow_retries=True,
    )


def load_with_file_errors(conn: duckdb.DuckDBPyConnection, landing_dir: Path, feed, load_id: str):
    """load_feed, with an OSError during the load (a file vanished or unreadable mid-way) turned
    into a retryable failure naming the file; parse errors stay per-file diagnostics."""
    from orchestration.landing.loader import load_feed

    try:
        return load_feed(conn, landing_dir, feed, load_id=load_id)
    except OSError as exc:
        name = exc.filename or "?"
        try:
            name = Path(name).relative_to(landing_dir).as_posix()
        except ValueError:
            pass
        raise dg.Failure(
            description=f"landing file {name}: {exc.__class__.__name__}: {exc.strerror or exc}",
            metadata={"file": str(name)},
            allow_retries=not isinstance(exc, PermissionError),
        ) from exc
