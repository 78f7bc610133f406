"""Runtime values of the raw response suites: the score threshold and the plausible row-count band.

Both are configured in the suite file's `meta` (expectations/raw_nps_responses.json,
expectations/raw_enps_responses.json) and handed to GX as suite parameters (`{"$PARAMETER":
...}` placeholders). Customer files:

- `score_mostly`: the share of rows whose score must be a whole number within the survey's
  scale. `meta.score_mostly.default` (0.95) unless `meta.score_mostly.by_survey` names the
  survey; a file holding several surveys gets the strictest (highest) of their thresholds.
- `row_count_min` / `row_count_max`: files do not map to days (a daily export, a weekly feed and
  a nine-month backfill all land in the same folder), so the band compares *rows per day of
  data* like for like, per survey: for each survey in the file, its recent daily average is the
  rows of other files with a submitted_at on the `history_days` days before the file's first
  day for that survey, divided by the number of those days that have any row ("days with data":
  a survey that is quiet on Sundays is not averaged down). A day counts as covered by the file
  when it holds at least `covered_day_share` of the rows of the file's busiest day for that
  survey (a few late rows of yesterday do not make a daily export a two-day one). Each covered
  day is
  expected to hold that survey's average on the same weekday (when the history has at least
  `min_weekday_samples` such days: Mondays are quieter than Saturdays), else its overall daily
  average; the band is `min_ratio` .. `max_ratio` times the file's expected rows. A
  survey with fewer than `min_history_days` days of history has no average: it lowers no bound
  and removes the upper one (a new survey can start with any volume). Rows of files whose
  validation blocked them are no history (a broken export must not lower the bar).

Employee (eNPS) files (`raw_enps_suite_parameters`): the score threshold is
`meta.score_mostly.default` unless `meta.score_mostly.by_wave` names the file's wave. Employees
answer in waves (a quarterly pulse open for two weeks, most answers on its first days), so
rows per day of data say nothing there and the band is per wave instead (`meta.row_count_band`,
`wave_row_count_band`): each wave in the file is expected to hold the average rows of the
`history_waves` waves that opened before it (a wave opens with its earliest submitted_at), and
the file must bring its waves, together with what other files already hold of them, to
`min_ratio` .. `max_ratio` of that. So a wave exported in two parts, or a small re-send of a
few rows, is judged by the whole wave, and a wave exported with a tenth of its rows is not.
A wave with fewer than `min_history_waves` earlier waves sets no bound (and lifts the upper
one). Blocked files are no history here either.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb

from orchestration.quality.raw_batch_sql import trimmed as _trimmed

DEFAULT_SCORE_MOSTLY = 0.95
DEFAULT_BAND = {
    "history_days": 28,
    "min_history_days": 7,
    "min_weekday_samples": 2,
    "covered_day_share": 0.5,
    "min_ratio": 0.2,
    "max_ratio": 5.0,
}

# Rows per file version (file, load), survey and day of submission, kept across loads: a load
# counts only the file versions whose rows changed (prepare_daily_counts), not the whole history.
DAILY_COUNTS_TABLE = "raw.nps_band_daily_counts"
_STALE_TABLE = "nps_band_stale_file_versions"

_CREATE_DAILY_COUNTS_SQL = f"""
CREATE TABLE IF NOT EXISTS {DAILY_COUNTS_TABLE} (
    source_file VARCHAR,
    load_id VARCHAR,
    series VARCHAR,
    day DATE,
    rows BIGINT
)
"""

# File versions whose row count in raw differs from the counts kept: a new load, a file version
# replaced by a newer one (gone from raw), rows erased. Raw rows are inserted and deleted, never
# updated, so a version whose row count still matches still has the same days and surveys.
_STALE_SQL = f"""
CREATE OR REPLACE TEMP TABLE {_STALE_TABLE} AS
WITH raw_versions AS (
    SELECT _source_file AS source_file, _load_id AS load_id, count(*) AS rows
    FROM raw.nps_responses
    GROUP BY ALL
),
kept_versions AS (
    SELECT source_file, load_id, sum(rows) AS rows
    FROM {DAILY_COUNTS_TABLE}
    GROUP BY ALL
)
SELECT
    coalesce(r.source_file, k.source_file) AS source_file,
    coalesce(r.load_id, k.load_id) AS load_id,
    r.rows IS NOT NULL AS in_raw
FROM raw_versions AS r
FULL JOIN kept_versions AS k
  ON r.source_file IS NOT DISTINCT FROM k.source_file
 AND r.load_id IS NOT DISTINCT FROM k.load_id
WHERE r.rows IS DISTINCT FROM k.rows
"""

_DELETE_STALE_SQL = f"""
DELETE FROM {DAILY_COUNTS_TABLE} AS c
WHERE EXISTS (
    SELECT 1 FROM {_STALE_TABLE} AS s
    WHERE s.source_file IS NOT DISTINCT FROM c.source_file
      AND s.load_id IS NOT DISTINCT FROM c.load_id
)
"""

_COUNT_STALE_SQL = f"""
INSERT INTO {DAILY_COUNTS_TABLE}
SELECT
    _source_file AS source_file,
    _load_id AS load_id,
    {_trimmed("survey_id")} AS series,
    CAST(try_cast({_trimmed("submitted_at")} AS TIMESTAMPTZ) AS DATE) AS day,
    count(*) AS rows
FROM raw.nps_responses AS r
WHERE EXISTS (
    SELECT 1 FROM {_STALE_TABLE} AS s
    WHERE s.in_raw
      AND s.source_file IS NOT DISTINCT FROM r._source_file
      AND s.load_id IS NOT DISTINCT FROM r._load_id
)
GROUP BY ALL
"""

_BAND_SQL = f"""
WITH all_batch_days AS (
    SELECT series, day, sum(rows) AS rows
    FROM {DAILY_COUNTS_TABLE}
    WHERE source_file = $source_file AND load_id = $load_id
      AND series IS NOT NULL AND day IS NOT NULL
    GROUP BY series, day
),
-- a day the file covers holds a real share of its rows: a few late rows of the day before
-- (re-sent, corrected) do not make a daily export a two-day one
batch_days AS (
    SELECT series, day, rows
    FROM (
        SELECT *, max(rows) OVER (PARTITION BY series) AS busiest
        FROM all_batch_days
    )
    WHERE rows >= busiest * CAST($covered_day_share AS DOUBLE)
),
batch_series AS (
    SELECT series, min(day) AS first_day
    FROM batch_days
    GROUP BY series
),
history AS (
    SELECT c.series, c.day, c.rows
    FROM {DAILY_COUNTS_TABLE} AS c
    WHERE c.source_file <> $source_file
      AND NOT EXISTS (
          SELECT 1 FROM {{blocked}} AS v
          WHERE v.source_file = c.source_file AND v.load_id = c.load_id
      )
),
history_days AS (
    SELECT h.series, h.day, sum(h.rows) AS rows
    FROM batch_series AS b
    JOIN history AS h
      ON h.series = b.series
     AND h.day >= b.first_day - CAST($history_days AS INTEGER)
     AND h.day < b.first_day
    GROUP BY h.series, h.day
),
same_weekday AS (
    SELECT d.series, d.day, avg(h.rows) AS average, count(*) AS samples
    FROM batch_days AS d
    JOIN history_days AS h ON h.series = d.series AND isodow(h.day) = isodow(d.day)
    GROUP BY d.series, d.day
)
SELECT
    d.series,
    d.day,
    (SELECT coalesce(sum(h.rows), 0) FROM history_days AS h WHERE h.series = d.series),
    (SELECT count(*) FROM history_days AS h WHERE h.series = d.series),
    w.average,
    coalesce(w.samples, 0)
FROM batch_days AS d
LEFT JOIN same_weekday AS w ON w.series = d.series AND w.day = d.day
ORDER BY d.series, d.day
"""


@dataclass(frozen=True)
class RowCountBand:
    """The plausible row count of one file and how it was derived."""

    min_rows: int
    max_rows: int | None
    expected_rows: float | None  # None when no survey of the file has enough history
    # how it was derived, per survey (customer files) or per wave (employee files)
    per_series: dict[str, dict[str, Any]] = field(default_factory=dict)
    series: str = "survey"

    def to_metadata(self) -> dict[str, Any]:
        return {
            "min_rows": self.min_rows,
            "max_rows": self.max_rows,
            "expected_rows": None if self.expected_rows is None else round(self.expected_rows, 1),
            f"per_{self.series}": self.per_series,
        }


def score_mostly(
    suite_meta: Mapping[str, Any], survey_ids: Sequence[str | None], by: str = "by_survey"
) -> float:
    """The score threshold of a file holding `survey_ids` (strictest of its surveys); `by`
    names the meta entry of per-series thresholds (`by_wave` for employee files)."""
    config = suite_meta.get("score_mostly") or {}
    default = float(config.get("default", DEFAULT_SCORE_MOSTLY))
    by_series = {str(k): float(v) for k, v in (config.get(by) or {}).items()}
    thresholds = [by_series.get(s, default) for s in set(survey_ids) if s is not None]
    return max(thresholds, default=default)


def row_count_band(
    conn: duckdb.DuckDBPyConnection,
    source_file: str,
    load_id: str,
    config: Mapping[str, Any] | None = None,
    blocked_table: str | None = "raw.batch_validations",
    refresh: bool = True,
) -> RowCountBand:
    """The band for the rows load `load_id` wrote for `source_file` (see the module doc).

    `refresh=False` uses the daily counts as `prepare_daily_counts` last left them (it runs
    once per load, not once per file)."""
    settings = {**DEFAULT_BAND, **(config or {})}
    if refresh:
        prepare_daily_counts(conn)
    conn.execute("SET TimeZone = 'UTC'")
    rows = conn.execute(
        _BAND_SQL.replace("{blocked}", _blocked_files(conn, blocked_table)),
        {
            "source_file": source_file,
            "load_id": load_id,
            "history_days": int(settings["history_days"]),
            "covered_day_share": float(settings["covered_day_share"]),
        },
    ).fetchall()
    min_history_days = int(settings["min_history_days"])
    min_weekday_samples = int(settings["min_weekday_samples"])
    expected_by_series: dict[str, float | None] = {}
    per_survey: dict[str, dict[str, Any]] = {}
    for series, _day, history_rows, history_days, weekday_average, samples in rows:
        enough = history_days >= min_history_days
        average = history_rows / history_days if enough else None
        info = per_survey.setdefault(
            series,
            {
                "days_covered": 0,
                "history_rows": history_rows,
                "history_days_with_data": history_days,
                "daily_average": None if average is None else round(average, 2),
                "days_on_same_weekday_average": 0,
            },
        )
        info["days_covered"] += 1
        if average is None:
            expected_by_series[series] = None
            continue
        # a Monday is compared with recent Mondays when there are enough of them
        if samples >= min_weekday_samples and weekday_average is not None:
            info["days_on_same_weekday_average"] += 1
            day_expected = float(weekday_average)
        else:
            day_expected = average
        expected_by_series[series] = (expected_by_series.get(series) or 0.0) + day_expected
    for series, value in expected_by_series.items():
        per_survey[series]["expected_rows"] = None if value is None else round(value, 1)
    return _band(expected_by_series, settings, per_survey, "survey")


def _band(
    expected_by_series: Mapping[str, float | None],
    settings: Mapping[str, Any],
    per_series: dict[str, dict[str, Any]],
    series: str,
    already_held: float = 0.0,
) -> RowCountBand:
    """min_ratio .. max_ratio times the expected rows of the series that have an expectation,
    less what other files already hold of them; no upper bound while a series has none."""
    known = [e for e in expected_by_series.values() if e is not None]
    if not known:
        return RowCountBand(0, None, None, per_series, series)
    expected = sum(known)
    min_rows = max(0, math.floor(expected * float(settings["min_ratio"]) - already_held))
    max_rows = (
        max(0, math.ceil(expected * float(settings["max_ratio"]) - already_held))
        if len(known) == len(expected_by_series)
        else None
    )
    return RowCountBand(min_rows, max_rows, expected, per_series, series)


DEFAULT_WAVE_BAND = {"history_waves": 4, "min_history_waves": 1, "min_ratio": 0.2, "max_ratio": 5.0}

# Rows per wave of the employee feed, waves ordered by when they opened; for each wave of the
# file: what other files hold of it, and the rows of the waves that opened before it.
_WAVE_BAND_SQL = f"""
WITH live AS (
    SELECT
        r._source_file AS source_file,
        r._load_id AS load_id,
        {_trimmed("r.survey_wave")} AS wave,
        try_cast({_trimmed("r.submitted_at")} AS TIMESTAMPTZ) AS submitted_at
    FROM raw.enps_responses AS r
    WHERE NOT EXISTS (
        SELECT 1 FROM {{blocked}} AS v
        WHERE v.source_file = r._source_file AND v.load_id = r._load_id
    )
),
waves AS (
    SELECT
        wave,
        min(submitted_at) AS opened_at,
        count(*) FILTER (WHERE source_file <> $source_file) AS other_rows
    FROM live
    WHERE wave IS NOT NULL
    GROUP BY wave
),
ordered AS (
    SELECT *, row_number() OVER (ORDER BY opened_at, wave) AS position
    FROM waves
    WHERE opened_at IS NOT NULL
),
batch_waves AS (
    SELECT DISTINCT wave
    FROM live
    WHERE source_file = $source_file AND load_id = $load_id AND wave IS NOT NULL
)
SELECT
    b.wave,
    coalesce(w.other_rows, 0),
    count(h.wave),
    coalesce(sum(h.other_rows), 0)
FROM batch_waves AS b
LEFT JOIN waves AS w ON w.wave = b.wave
LEFT JOIN ordered AS o ON o.wave = b.wave
LEFT JOIN ordered AS h
  ON h.position < o.position AND h.position >= o.position - CAST($history_waves AS INTEGER)
GROUP BY b.wave, w.other_rows
ORDER BY b.wave
"""


def wave_row_count_band(
    conn: duckdb.DuckDBPyConnection,
    source_file: str,
    load_id: str,
    config: Mapping[str, Any] | None = None,
    blocked_table: str | None = "raw.batch_validations",
) -> RowCountBand:
    """The band for the rows load `load_id` wrote for `source_file` of `raw.enps_responses`:
    per wave, against the waves that opened before it (see the module doc)."""
    settings = {**DEFAULT_WAVE_BAND, **(config or {})}
    conn.execute("SET TimeZone = 'UTC'")
    rows = conn.execute(
        _WAVE_BAND_SQL.replace("{blocked}", _blocked_files(conn, blocked_table)),
        {
            "source_file": source_file,
            "load_id": load_id,
            "history_waves": int(settings["history_waves"]),
        },
    ).fetchall()
    min_history = int(settings["min_history_waves"])
    expected_by_wave: dict[str, float | None] = {}
    per_wave: dict[str, dict[str, Any]] = {}
    held = 0.0
    for wave, other_rows, history_waves, history_rows in rows:
        average = history_rows / history_waves if history_waves >= min_history else None
        expected_by_wave[wave] = average
        per_wave[wave] = {
            "rows_in_other_files": other_rows,
            "earlier_waves": history_waves,
            "earlier_waves_rows": history_rows,
            "expected_rows": None if average is None else round(average, 1),
        }
        if average is not None:
            held += other_rows
    return _band(expected_by_wave, settings, per_wave, "wave", already_held=held)


def prepare_daily_counts(conn: duckdb.DuckDBPyConnection) -> int:
    """Bring the rows per file version, survey and day (`raw.nps_band_daily_counts`) level with
    `raw.nps_responses`: only the file versions whose row count changed are counted again (one
    grouped count of two columns finds them; the per-row parsing follows the new files).
    Returns how many file versions were counted again or dropped."""
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute(_CREATE_DAILY_COUNTS_SQL)
    conn.execute(_STALE_SQL)
    ((stale,),) = conn.execute(f"SELECT count(*) FROM {_STALE_TABLE}").fetchall()
    if stale:
        conn.execute(_DELETE_STALE_SQL)
        conn.execute(_COUNT_STALE_SQL)
    conn.execute(f"DROP TABLE {_STALE_TABLE}")
    return int(stale)


def raw_nps_suite_parameters(
    conn: duckdb.DuckDBPyConnection,
    suite_meta: Mapping[str, Any],
    source_file: str,
    load_id: str,
    survey_ids: Sequence[str | None],
    refresh: bool = True,
) -> tuple[dict[str, Any], RowCountBand]:
    """The suite parameters of one raw customer file, and the band's derivation."""
    band = row_count_band(
        conn, source_file, load_id, suite_meta.get("row_count_band"), refresh=refresh
    )
    parameters = {
        "score_mostly": score_mostly(suite_meta, survey_ids),
        "row_count_min": band.min_rows,
        "row_count_max": band.max_rows,
    }
    return parameters, band


def raw_enps_suite_parameters(
    conn: duckdb.DuckDBPyConnection,
    suite_meta: Mapping[str, Any],
    source_file: str,
    load_id: str,
    waves: Sequence[str | None],
) -> tuple[dict[str, Any], RowCountBand]:
    """The suite parameters of one raw employee file, and the band's derivation."""
    band = wave_row_count_band(conn, source_file, load_id, suite_meta.get("row_count_band"))
    parameters = {
        "score_mostly": score_mostly(suite_meta, waves, by="by_wave"),
        "row_count_min": band.min_rows,
        "row_count_max": band.max_rows,
    }
    return parameters, band


def _blocked_files(conn: duckdb.DuckDBPyConnection, blocked_table: str | None) -> str:
    """SQL relation (source_file, load_id) of the file versions held back by their suite."""
    if blocked_table and _table_exists(conn, blocked_table):
        return f"(SELECT source_file, load_id FROM {blocked_table} WHERE blocked)"
    return "(SELECT NULL AS source_file, NULL AS load_id WHERE false)"


def _table_exists(conn: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, _, table = qualified.partition(".")
    return bool(
        conn.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchall()[0][0]
    )
