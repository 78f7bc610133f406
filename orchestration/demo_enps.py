"""Demo data for the employee program (eNPS): quarterly pulse waves of the demo company.

`write_demo_enps` writes what an HR survey tool would export into `<landing>/enps/`: one wave per
quarter (the last `waves` quarters before `end_date`), each open for two weeks. Every employee of
the `department_headcount` seed (its earliest snapshot) answers a wave with some probability, so
team sizes vary from wave to wave and the tiny teams (3-4 people) are always below the anonymity
threshold. Comments come in the language of the location (English, Dutch, Polish, Spanish).

The exports vary like real ones: a Parquet file, CSV with comma or semicolon (one with a BOM), a
JSON-lines part from the mobile app, and one wave exported WITH `employee_email` and
`employee_name` columns, which the loader must drop. About 1% of rows are dirty, one per
quarantine kind, plus re-sent duplicates; the summary says exactly what the loader must accept.

Everything is drawn from one `random.Random(seed)` in a fixed order: the same seed and end date
give byte-identical files.
"""

from __future__ import annotations

import csv
import io
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"

COLUMNS: tuple[str, ...] = (
    "response_id",
    "survey_wave",
    "submitted_at",
    "score",
    "comment",
    "language",
    "department",
    "team",
    "location",
    "tenure_band",
)
QUARANTINE_REASONS: tuple[str, ...] = (
    "missing_response_id",
    "missing_survey_wave",
    "missing_submitted_at",
    "unparseable_submitted_at",
    "future_submitted_at",
    "missing_score",
    "score_not_integer",
    "score_out_of_scale",
)
TENURE_BANDS: tuple[tuple[str, float], ...] = (
    ("<1y", 0.2),
    ("1-3y", 0.35),
    ("3-5y", 0.25),
    ("5y+", 0.2),
)
LANGUAGES = {
    "Amsterdam": ("en", "nl"),
    "Warsaw": ("pl", "en"),
    "Madrid": ("es", "en"),
    "Remote": ("en",),
}
COMMENTS = {
    "en": {
        "promoter": ("Great team spirit", "I learn something every week", "Supportive manager"),
        "passive": ("Good place, but slow decisions", "Fine overall", "Tools could be better"),
        "detractor": ("Too many meetings", "Workload is too high", "No clear career path"),
    },
    "nl": {
        "promoter": ("Fijne collega's", "Veel ruimte om te leren"),
        "passive": ("Prima, maar besluiten duren lang", "Redelijk tevreden"),
        "detractor": ("Te veel overleg", "Werkdruk is te hoog"),
    },
    "pl": {
        "promoter": ("Dobra atmosfera w zespole", "Świetny przełożony"),
        "passive": ("Ogólnie w porządku", "Narzędzia mogłyby być lepsze"),
        "detractor": ("Za dużo spotkań", "Brak jasnej ścieżki rozwoju"),
    },
    "es": {
        "promoter": ("Buen ambiente de trabajo", "Aprendo mucho cada semana"),
        "passive": ("Bien en general", "Las decisiones tardan demasiado"),
        "detractor": ("Demasiadas reuniones", "La carga de trabajo es excesiva"),
    },
}
# How each department feels: weights of the scores 0..10.
MOOD = {
    "Engineering": (1, 1, 1, 2, 2, 3, 4, 8, 12, 10, 6),
    "Sales": (2, 2, 3, 4, 4, 5, 6, 8, 8, 6, 4),
    "Operations": (2, 2, 2, 3, 4, 5, 6, 7, 7, 5, 3),
    "Customer Care": (3, 3, 4, 5, 5, 6, 6, 6, 5, 4, 3),
}
DEFAULT_MOOD = (1, 1, 2, 2, 3, 4, 5, 8, 9, 8, 5)
PARTICIPATION = 0.72
COMMENT_SHARE = 0.4


@dataclass(frozen=True)
class EnpsDemoSummary:
    landing_dir: Path
    files: list[str]  # written files, relative to landing_dir, forward slashes, load order
    rows: int  # all data rows written (incl. dirty rows and duplicates)
    expected_accepted: int
    expected_duplicates: int
    expected_quarantined: dict[str, int] = field(default_factory=dict)
    waves: list[str] = field(default_factory=list)
    files_with_identifiers: list[str] = field(default_factory=list)


def read_org(seeds_dir: Path = SEEDS_DIR) -> list[tuple[str, str, str, int]]:
    """(department, team, location, headcount) of the earliest snapshot of the headcount seed."""
    with open(seeds_dir / "department_headcount.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    first = min(r["as_of"] for r in rows)
    return [
        (r["department"], r["team"], r["location"], int(r["headcount"]))
        for r in rows
        if r["as_of"] == first
    ]


def write_demo_enps(
    landing_dir: Path, seed: int = 42, end_date: date | None = None, waves: int = 4
) -> EnpsDemoSummary:
    """Write `waves` quarterly eNPS waves ending before `end_date` under `landing_dir / "enps"`."""
    rng = random.Random(seed)
    end = end_date or (datetime.now(UTC).date() - timedelta(days=1))
    employees = _employees(rng)
    wave_starts = _wave_starts(end, waves)
    responses: list[dict[str, str | None]] = []
    by_wave: list[tuple[str, list[dict[str, str | None]]]] = []
    for start in wave_starts:
        wave = f"{start.year}-Q{(start.month - 1) // 3 + 1}"
        rows = [_response(rng, wave, start, employee) for employee in employees]
        rows = [r for r in rows if r is not None]
        for number, row in enumerate(rows, start=1):
            row["response_id"] = f"ENPS-{wave}-{number:04d}"
        responses.extend(rows)
        by_wave.append((wave, rows))

    dirty = _dirty_rows(rng, by_wave, end)
    duplicates = [dict(r) for r in rng.sample(responses, 3)]

    root = landing_dir / "enps"
    written: list[str] = []
    with_identifiers: list[str] = []
    for index, (wave, rows) in enumerate(by_wave):
        folder = root / wave
        folder.mkdir(parents=True, exist_ok=True)
        rows = rows + dirty.get(wave, [])
        style = index % 4
        if style == 0:
            written.append(_write_parquet(folder / "pulse.parquet", rows, landing_dir))
        elif style == 1:
            cut = len(rows) * 3 // 4
            written.append(_write_csv(folder / "pulse.csv", rows[:cut], landing_dir))
            written.append(_write_jsonl(folder / "pulse_mobile.jsonl", rows[cut:], landing_dir))
        elif style == 2:
            path = _write_csv(folder / "pulse.csv", rows, landing_dir, identifiers_from=rng)
            written.append(path)
            with_identifiers.append(path)
        else:
            written.append(
                _write_csv(folder / "pulse.csv", rows, landing_dir, delimiter=";", bom=True)
            )
    last_wave = by_wave[-1][0]
    written.append(_write_csv(root / last_wave / "resend.csv", duplicates, landing_dir))

    quarantined = {reason: 0 for reason in QUARANTINE_REASONS}
    for rows in dirty.values():
        for row in rows:
            quarantined[str(row.pop("_reason", ""))] += 1
    total = len(responses) + sum(quarantined.values()) + len(duplicates)
    return EnpsDemoSummary(
        landing_dir=landing_dir,
        files=sorted(written),
        rows=total,
        expected_accepted=len(responses),
        expected_duplicates=len(duplicates),
        expected_quarantined=quarantined,
        waves=[wave for wave, _ in by_wave],
        files_with_identifiers=with_identifiers,
    )


# -- the company and its answers -------------------------------------------------------------


def _employees(rng: random.Random) -> list[tuple[str, str, str, str, int]]:
    """(department, team, location, tenure band, employee number) for every seat in the seed."""
    bands = [band for band, _ in TENURE_BANDS]
    weights = [weight for _, weight in TENURE_BANDS]
    employees = []
    for department, team, location, headcount in read_org():
        for _ in range(headcount):
            band = rng.choices(bands, weights)[0]
            employees.append((department, team, location, band, len(employees) + 1))
    return employees


def _wave_starts(end: date, waves: int) -> list[date]:
    """Monday of the second week of each quarter's middle month; the last `waves` ending before
    `end` (a wave lasts two weeks)."""
    starts = []
    year, quarter = end.year, (end.month - 1) // 3
    while len(starts) < waves:
        first = date(year, quarter * 3 + 2, 8)
        start = first + timedelta(days=(7 - first.weekday()) % 7)
        if start + timedelta(days=13) < end:
            starts.append(start)
        quarter -= 1
        if quarter < 0:
            year, quarter = year - 1, 3
    return sorted(starts)


def _response(
    rng: random.Random, wave: str, start: date, employee: tuple[str, str, str, str, int]
) -> dict[str, str | None] | None:
    department, team, location, band, _ = employee
    if rng.random() > PARTICIPATION:
        return None
    score = rng.choices(range(11), MOOD.get(department, DEFAULT_MOOD))[0]
    category = "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
    language = rng.choice(LANGUAGES.get(location, ("en",)))
    comment = rng.choice(COMMENTS[language][category]) if rng.random() < COMMENT_SHARE else None
    moment = datetime.combine(start, datetime.min.time(), UTC) + timedelta(
        days=rng.randint(0, 13), minutes=rng.randint(7 * 60, 19 * 60)
    )
    return {
        "response_id": None,
        "survey_wave": wave,
        "submitted_at": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "score": str(score),
        "comment": comment,
        "language": language if comment else None,
        "department": department,
        "team": team,
        "location": location,
        "tenure_band": band,
    }


def _dirty_rows(
    rng: random.Random, by_wave: list[tuple[str, list[dict[str, str | None]]]], end: date
) -> dict[str, list[dict[str, str | None]]]:
    """One extra row per quarantine reason, each with exactly that defect, spread over waves."""
    dirty: dict[str, list[dict[str, str | None]]] = {}
    for number, reason in enumerate(QUARANTINE_REASONS, start=1):
        wave, rows = by_wave[number % len(by_wave)]
        row = dict(rng.choice(rows))
        row["response_id"] = f"ENPS-{wave}-X{number:02d}"
        if reason == "missing_response_id":
            row["response_id"] = " "
        elif reason == "missing_survey_wave":
            row["survey_wave"] = None
        elif reason == "missing_submitted_at":
            row["submitted_at"] = None
        elif reason == "unparseable_submitted_at":
            row["submitted_at"] = "last tuesday"
        elif reason == "future_submitted_at":
            row["submitted_at"] = f"{end.year + 5}-01-01T09:00:00Z"
        elif reason == "missing_score":
            row["score"] = ""
        elif reason == "score_not_integer":
            row["score"] = "7.5"
        else:
            row["score"] = "11"
        row["_reason"] = reason
        dirty.setdefault(wave, []).append(row)
    return dirty


# -- writers ---------------------------------------------------------------------------------


def _relative(path: Path, landing_dir: Path) -> str:
    return path.relative_to(landing_dir).as_posix()


def _clean(row: dict[str, str | None]) -> dict[str, str | None]:
    return {column: row.get(column) for column in COLUMNS}


def _write_csv(
    path: Path,
    rows: list[dict[str, str | None]],
    landing_dir: Path,
    delimiter: str = ",",
    bom: bool = False,
    identifiers_from: random.Random | None = None,
) -> str:
    header = list(COLUMNS)
    if identifiers_from is not None:
        # an HR export that should have been anonymous: the loader drops these two columns
        header = ["Employee Email", "Employee Name", *header]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        values = [row.get(c) or "" for c in COLUMNS]
        if identifiers_from is not None:
            first = identifiers_from.choice(("ana", "bram", "celia", "dawid", "eva", "femke"))
            last = identifiers_from.choice(("jansen", "nowak", "garcia", "de vries", "kowalski"))
            values = [f"{first}.{last.replace(' ', '')}@corp.example", f"{first} {last}", *values]
        writer.writerow(values)
    path.write_text(("\ufeff" if bom else "") + buffer.getvalue(), encoding="utf-8")
    return _relative(path, landing_dir)


def _write_jsonl(path: Path, rows: list[dict[str, str | None]], landing_dir: Path) -> str:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            clean = {k: v for k, v in _clean(row).items() if v is not None}
            handle.write(json.dumps(clean, ensure_ascii=False) + "\n")
    return _relative(path, landing_dir)


def _write_parquet(path: Path, rows: list[dict[str, str | None]], landing_dir: Path) -> str:
    table = pa.table(
        {column: pa.array([row.get(column) for row in rows], pa.string()) for column in COLUMNS}
    )
    pq.write_table(table, path)
    return _relative(path, landing_dir)
