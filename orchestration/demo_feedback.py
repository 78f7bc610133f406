"""Demo data for the optional voice-of-the-customer feeds: follow-up events and action items.

`write_demo_feedback` runs after the survey demo data (`nps-warehouse demo-data`). It reads the
survey files just written through the real loader into an in-memory DuckDB, so the follow-ups
are about real detractors who consented to be contacted, then writes:

- `<landing>/followups/<YYYY-MM>.csv`: contacted / resolved events. Most detractors are called
  back within the SLA, some late, some never; branches differ in how diligent they are; a
  response near the end of the year may not have been called yet.
- `<landing>/action_plans/action_items.csv`: action items for about a third of the branches and
  a few departments, on the themes of seeds/themes.csv, open, in progress, done or cancelled.

Everything comes from one `random.Random(seed)`, so the same seed and end date give the same
bytes.
"""

from __future__ import annotations

import csv
import io
import logging
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from orchestration.landing.feeds import NPS_RESPONSES
from orchestration.landing.loader import load_feed

log = logging.getLogger(__name__)

SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"
FOLLOWUP_FOLDER = "followups"
ACTION_PLAN_FOLDER = "action_plans"

CONTACT_NOTES = (
    "Called back, customer appreciated the call",
    "Left a voicemail, then reached by phone",
    "Spoke to the customer, explained what went wrong",
    "Apologised and offered a voucher",
    "Reached by email, customer replied",
)
RESOLVE_NOTES = (
    "Voucher sent, customer satisfied",
    "Issue fixed, customer confirmed",
    "Refund processed",
    "Customer invited back, accepted",
)
ACTION_TITLES = {
    "waiting_time": ("Open an extra till at peak hours", "Rota review for Saturday mornings"),
    "price": ("Price check against local competitors", "Weekly offers on everyday products"),
    "staff": ("Customer service training for the floor team", "Welcome desk at the entrance"),
    "product_quality": ("Daily freshness check of fruit and vegetables", "Supplier quality audit"),
    "delivery": ("Review delivery slots with the carrier", "Damage check before dispatch"),
    "app_website": ("Fix the checkout crash in the app", "Speed up the website login"),
    "billing": ("Audit double charges with the payment provider", "Clearer invoices"),
}
# what a branch can act on itself (the app, delivery and billing belong to departments)
BRANCH_THEMES = ("waiting_time", "price", "staff", "product_quality")
DEPARTMENTS = (
    ("Digital", "app_website", "App team"),
    ("Logistics", "delivery", "Logistics lead"),
    ("Pricing", "price", "Pricing team"),
    ("Finance", "billing", "Finance operations"),
    ("Quality", "product_quality", "Quality assurance"),
)
DETRACTOR_SQL = """
select
    trim(response_id) as response_id,
    min(try_cast(trim(submitted_at) as timestamptz)) as submitted_at,
    any_value(nullif(trim(branch_id), '')) as branch_id
from raw.nps_responses
where
    regexp_full_match(trim(score), '[0-9]+(\\.0+)?')
    and cast(trim(score) as double) <= 6
    and lower(trim(consent_contact)) in ('true', 'yes', 'y', '1', 't')
    and try_cast(trim(submitted_at) as timestamptz) is not null
    and nullif(trim(response_id), '') is not null
group by trim(response_id)
order by response_id
"""


@dataclass(frozen=True)
class DemoFeedbackSummary:
    files: list[str]  # relative to the landing folder, forward slashes
    followup_events: int
    action_items: int


def write_demo_feedback(
    landing_dir: Path, seed: int = 42, end_date: date | None = None
) -> DemoFeedbackSummary:
    """Write demo follow-up events and action items for the survey files under `landing_dir`."""
    landing_dir = Path(landing_dir)
    end = end_date or (datetime.now(UTC).date() - timedelta(days=1))
    cutoff = datetime(end.year, end.month, end.day, 23, 59, tzinfo=UTC)
    rng = random.Random(seed * 7919 + 1)
    detractors = _detractors(landing_dir)
    managers = _read_seed("branch_managers.csv")
    themes = sorted({row["theme"] for row in _read_seed("themes.csv")})

    events = _followup_events(rng, detractors, cutoff)
    files = _write_followups(landing_dir, events)
    items = _action_items(rng, managers, themes, end)
    files.append(_write_action_items(landing_dir, items))
    log.info(
        "wrote %d follow-up events and %d action items under %s",
        len(events),
        len(items),
        landing_dir,
    )
    return DemoFeedbackSummary(files=files, followup_events=len(events), action_items=len(items))


def _read_seed(name: str) -> list[dict[str, str]]:
    with (SEEDS_DIR / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _detractors(landing_dir: Path) -> list[tuple[str, datetime, str | None]]:
    """Consenting detractors of the landed survey files, read by the real loader."""
    with duckdb.connect() as conn:
        load_feed(conn, landing_dir, NPS_RESPONSES, load_id="demo-feedback")
        return conn.execute(DETRACTOR_SQL).fetchall()


def _followup_events(
    rng: random.Random, detractors: list[tuple[str, datetime, str | None]], cutoff: datetime
) -> list[tuple[str, str, datetime, str]]:
    diligence: dict[str | None, float] = {}
    events = []
    for response_id, submitted_at, branch_id in detractors:
        # some branches call back nearly everyone quickly, others lag
        quality = diligence.setdefault(branch_id, rng.uniform(0.55, 1.0))
        if rng.random() > 0.25 + 0.7 * quality:
            continue  # never called back
        if rng.random() < quality:
            delay = rng.uniform(1, 40)
        elif rng.random() < 0.7:
            delay = rng.uniform(40, 100)
        else:
            delay = rng.uniform(100, 240)
        contacted_at = submitted_at + timedelta(hours=delay)
        if contacted_at > cutoff:
            continue  # not called back yet
        events.append((response_id, "contacted", contacted_at, rng.choice(CONTACT_NOTES)))
        if rng.random() < 0.65:
            resolved_at = contacted_at + timedelta(hours=rng.uniform(0.5, 72))
            if resolved_at <= cutoff:
                events.append((response_id, "resolved", resolved_at, rng.choice(RESOLVE_NOTES)))
    return events


def _write_followups(landing_dir: Path, events: list[tuple[str, str, datetime, str]]) -> list[str]:
    by_month: dict[str, list[tuple[str, str, datetime, str]]] = {}
    for event in sorted(events, key=lambda e: (e[2], e[0], e[1])):
        by_month.setdefault(f"{event[2]:%Y-%m}", []).append(event)
    folder = landing_dir / FOLLOWUP_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for month, rows in sorted(by_month.items()):
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["response_id", "event", "event_at", "note"])
        for response_id, event, at, note in rows:
            writer.writerow(
                [response_id, event, at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), note]
            )
        path = folder / f"{month}.csv"
        path.write_bytes(buffer.getvalue().encode("utf-8"))
        written.append(path.relative_to(landing_dir).as_posix())
    return written


def _action_items(
    rng: random.Random, managers: list[dict[str, str]], themes: list[str], end: date
) -> list[dict[str, str]]:
    start = end - timedelta(days=364)
    owners: list[tuple[str | None, str | None, str, str | None]] = [
        (row["branch_id"], None, row["manager_name"], None)
        for row in managers
        if rng.random() < 0.3
    ]
    owners += [(None, department, owner, theme) for department, theme, owner in DEPARTMENTS]
    items = []
    for branch_id, department, owner, fixed_theme in owners:
        for _ in range(rng.choice((1, 1, 2))):
            theme = fixed_theme or rng.choice([t for t in themes if t in BRANCH_THEMES])
            created = start + timedelta(days=rng.randrange(330))
            due = created + timedelta(days=rng.choice((30, 45, 60, 90)))
            status, done_at = _progress(rng, created, due, end)
            items.append(
                {
                    "action_id": f"AP-{len(items) + 1:04d}",
                    "branch_id": branch_id or "",
                    "department": department or "",
                    "title": rng.choice(ACTION_TITLES.get(theme, ("Improve " + theme,))),
                    "owner": owner,
                    "theme": theme,
                    "created_at": created.isoformat(),
                    "due_on": due.isoformat(),
                    "status": status,
                    "done_at": done_at,
                }
            )
    return items


def _progress(rng: random.Random, created: date, due: date, end: date) -> tuple[str, str]:
    """Status and done_at (text) of an item as of `end`."""
    roll = rng.random()
    if roll < 0.08:
        return "cancelled", ""
    if roll < 0.75:
        done = created + timedelta(days=rng.randint(5, (due - created).days + 20))
        if done <= end:
            return "done", f"{done.isoformat()}T{rng.randint(8, 18):02d}:00:00Z"
    return ("in_progress" if rng.random() < 0.6 else "open"), ""


def _write_action_items(landing_dir: Path, items: list[dict[str, str]]) -> str:
    folder = landing_dir / ACTION_PLAN_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    columns = [
        "action_id",
        "branch_id",
        "department",
        "title",
        "owner",
        "theme",
        "created_at",
        "due_on",
        "status",
        "done_at",
    ]
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(items)
    path = folder / "action_items.csv"
    path.write_bytes(buffer.getvalue().encode("utf-8"))
    return path.relative_to(landing_dir).as_posix()
