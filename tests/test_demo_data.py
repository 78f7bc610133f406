"""Tests for the demo data generator: determinism, formats, and exact expected outcomes."""

from __future__ import annotations

import csv
import hashlib
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from orchestration.demo_data import (
    CONTRACT_COLUMNS,
    QUARANTINE_REASONS,
    UNREGISTERED_BRANCH,
    UNREGISTERED_SURVEY,
    DemoDataSummary,
    write_demo_data,
)

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
END = date(2026, 6, 30)
RESPONSES = 3000
INTEGER = re.compile(r"[+-]?\d+(\.0*)?")


def normalise(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.replace("\ufeff", "").strip().lower())


def read_file(conn: duckdb.DuckDBPyConnection, path: Path) -> list[dict[str, str | None]]:
    """One landing file as dicts keyed by normalised header, every value as text."""
    literal = "'" + str(path).replace("'", "''") + "'"
    if path.suffix == ".csv":
        relation = conn.sql(f"select * from read_csv({literal}, all_varchar=true, header=true)")
    elif path.suffix == ".parquet":
        relation = conn.sql(f"select * from read_parquet({literal})")
    else:
        relation = conn.sql(
            f"select * from read_json({literal}, format='newline_delimited', "
            "columns={"
            + ", ".join(f"'{c}': 'VARCHAR'" for c in (*CONTRACT_COLUMNS, "device"))
            + "})"
        )
    names = [normalise(name) for name in relation.columns]
    return [dict(zip(names, row, strict=True)) for row in relation.fetchall()]


def parse_timestamp(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def blank(value: str | None) -> bool:
    return value is None or not value.strip()


def defects(row: dict[str, str | None], scales: dict[str, tuple[int, int]]) -> list[str]:
    """Every quarantine reason a row fails, in the contract's order (the first one wins)."""
    found = []
    if blank(row.get("response_id")):
        found.append("missing_response_id")
    if blank(row.get("survey_id")):
        found.append("missing_survey_id")
    stamp = row.get("submitted_at")
    if blank(stamp):
        found.append("missing_submitted_at")
    elif (parsed := parse_timestamp(stamp)) is None:
        found.append("unparseable_submitted_at")
    elif parsed > datetime.now(UTC):
        found.append("future_submitted_at")
    score = row.get("score")
    if blank(score):
        found.append("missing_score")
    elif not INTEGER.fullmatch(score.strip()):
        found.append("score_not_integer")
    else:
        low, high = scales.get((row.get("survey_id") or "").strip(), (0, 10))
        if not low <= int(float(score)) <= high:
            found.append("score_out_of_scale")
    return found


def classify(rows: list[dict[str, str | None]], scales: dict[str, tuple[int, int]]) -> list[str]:
    """Each row's outcome under the contract, independently of the generator's bookkeeping."""
    outcomes = []
    accepted: set[str] = set()
    for row in rows:
        found = defects(row, scales)
        if found:
            outcomes.append(found[0])
            continue
        response_id = (row["response_id"] or "").strip()
        outcomes.append("duplicate" if response_id in accepted else "accepted")
        accepted.add(response_id)
    return outcomes


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoDataSummary:
    return write_demo_data(tmp_path_factory.mktemp("landing"), responses=RESPONSES, end_date=END)


@pytest.fixture(scope="module")
def landed(demo: DemoDataSummary) -> dict[str, list[dict[str, str | None]]]:
    conn = duckdb.connect()
    return {path: read_file(conn, demo.landing_dir / path) for path in demo.files}


@pytest.fixture(scope="module")
def scales() -> dict[str, tuple[int, int]]:
    with (SEEDS / "surveys.csv").open(encoding="utf-8") as handle:
        return {
            row["survey_id"]: (int(row["scale_min"]), int(row["scale_max"]))
            for row in csv.DictReader(handle)
        }


def digest(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_same_seed_and_end_date_give_identical_bytes(tmp_path: Path) -> None:
    first = write_demo_data(tmp_path / "a", responses=RESPONSES, seed=7, end_date=END)
    second = write_demo_data(tmp_path / "b", responses=RESPONSES, seed=7, end_date=END)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert first.files == second.files
    assert first.expected_quarantined == second.expected_quarantined


def test_another_seed_gives_other_data(tmp_path: Path, demo: DemoDataSummary) -> None:
    write_demo_data(tmp_path, responses=RESPONSES, seed=8, end_date=END)
    assert digest(tmp_path) != digest(demo.landing_dir)


def test_layout_and_formats(demo: DemoDataSummary) -> None:
    assert demo.files == sorted(demo.files)
    assert all(path.startswith("nps/") for path in demo.files)
    assert {p for p in demo.landing_dir.rglob("*") if p.is_file()} == {
        demo.landing_dir / path for path in demo.files
    }
    parquet = [p for p in demo.files if p.endswith(".parquet")]
    assert parquet == ["nps/backfill/responses_2025-07-01_2026-03-31.parquet"]
    csvs = [p for p in demo.files if p.endswith(".csv")]
    assert any(re.fullmatch(r"nps/daily/2026/04/store_2026-04-\d\d\.csv", p) for p in csvs)
    assert any(re.fullmatch(r"nps/daily/2026/06/delivery_2026-06-\d\d\.csv", p) for p in csvs)
    assert len(csvs) > 100
    assert any(re.fullmatch(r"nps/app/2026-W\d\d\.jsonl", p) for p in demo.files)

    heads = [(demo.landing_dir / path).read_bytes()[:200] for path in csvs]
    assert any(head.startswith(b"\xef\xbb\xbf") for head in heads)
    assert any(not head.startswith(b"\xef\xbb\xbf") for head in heads)
    first_lines = [head.split(b"\n", 1)[0].decode("utf-8-sig") for head in heads]
    assert any(";" in line for line in first_lines)
    assert any(";" not in line and "," in line for line in first_lines)
    assert len({line.strip() for line in first_lines}) >= 3  # headers differ between exporters


def test_every_file_is_readable_with_the_contract_columns(
    demo: DemoDataSummary, landed: dict[str, list[dict[str, str | None]]]
) -> None:
    extras: set[str] = set()
    for path, rows in landed.items():
        assert rows, path
        columns = set(rows[0])
        assert set(CONTRACT_COLUMNS) <= columns, path
        extras |= columns - set(CONTRACT_COLUMNS)
    assert extras == {"device", "export_batch"}
    assert sum(len(rows) for rows in landed.values()) == demo.rows
    assert abs(demo.rows - RESPONSES) <= RESPONSES * 0.01


def test_counts_reconcile_and_every_defect_is_present(demo: DemoDataSummary) -> None:
    assert set(demo.expected_quarantined) == set(QUARANTINE_REASONS)
    assert all(count > 0 for count in demo.expected_quarantined.values())
    assert demo.expected_duplicates > 0
    total = demo.expected_accepted + demo.expected_duplicates
    assert demo.rows == total + sum(demo.expected_quarantined.values())
    dirty = demo.expected_duplicates + sum(demo.expected_quarantined.values())
    assert 0.005 * demo.rows <= dirty <= 0.02 * demo.rows
    assert demo.expected_unregistered_branches == [UNREGISTERED_BRANCH]
    assert demo.expected_unregistered_surveys == [UNREGISTERED_SURVEY]


def test_blank_response_ids_match_the_expected_count(
    demo: DemoDataSummary, landed: dict[str, list[dict[str, str | None]]]
) -> None:
    blanks = sum(blank(row["response_id"]) for rows in landed.values() for row in rows)
    assert blanks == demo.expected_quarantined["missing_response_id"]


def test_independent_classification_matches_the_summary(
    demo: DemoDataSummary,
    landed: dict[str, list[dict[str, str | None]]],
    scales: dict[str, tuple[int, int]],
) -> None:
    rows = [row for path in sorted(landed) for row in landed[path]]
    outcome = Counter(classify(rows, scales))
    assert outcome["accepted"] == demo.expected_accepted
    assert outcome["duplicate"] == demo.expected_duplicates
    assert {reason: outcome[reason] for reason in QUARANTINE_REASONS} == demo.expected_quarantined


def test_each_dirty_row_has_exactly_one_defect(
    landed: dict[str, list[dict[str, str | None]]], scales: dict[str, tuple[int, int]]
) -> None:
    found = [defects(row, scales) for rows in landed.values() for row in rows]
    assert max(len(reasons) for reasons in found) == 1


def test_unregistered_references_are_valid_rows(
    landed: dict[str, list[dict[str, str | None]]], scales: dict[str, tuple[int, int]]
) -> None:
    rows = [row for path in sorted(landed) for row in landed[path]]
    outcomes = classify(rows, scales)
    unregistered = [
        outcome
        for row, outcome in zip(rows, outcomes, strict=True)
        if row["branch_id"] == UNREGISTERED_BRANCH or row["survey_id"] == UNREGISTERED_SURVEY
    ]
    assert len(unregistered) >= 6
    assert set(unregistered) == {"accepted"}


def test_duplicates_appear_in_the_same_file_and_in_later_files(
    landed: dict[str, list[dict[str, str | None]]],
) -> None:
    first_file: dict[str, str] = {}
    same_file = later_file = 0
    for path in sorted(landed):
        for row in landed[path]:
            if blank(row["response_id"]):
                continue
            response_id = row["response_id"].strip()
            if response_id not in first_file:
                first_file[response_id] = path
            elif first_file[response_id] == path:
                same_file += 1
            else:
                later_file += 1
    assert same_file > 0
    assert later_file > 0


def test_references_and_values_are_realistic(
    landed: dict[str, list[dict[str, str | None]]], scales: dict[str, tuple[int, int]]
) -> None:
    with (SEEDS / "branches.csv").open(encoding="utf-8") as handle:
        seed_branches = {row["branch_id"] for row in csv.DictReader(handle)}
    rows = [row for file_rows in landed.values() for row in file_rows]
    used = {row["branch_id"] for row in rows if not blank(row["branch_id"])}
    assert used - seed_branches == {UNREGISTERED_BRANCH}
    assert len(used) > 150
    surveys = Counter(row["survey_id"] for row in rows)
    assert set(scales) <= set(surveys)
    assert set(surveys) - set(scales) - {None, "", "   "} == {UNREGISTERED_SURVEY}

    app = [row["score"] for row in rows if row["survey_id"] == "SRV-APP"]
    assert "1" in app and "10" in app
    languages = Counter(row["language"] for row in rows)
    assert {"en", "es", "nl", "pl"} <= set(languages)
    assert "EN" in languages or "nl-BE" in languages
    assert {row["channel"] for row in rows} >= {"email", "sms", "web", "app", "in_store"}
    assert {row["touchpoint"] for row in rows} == {"purchase", "delivery", "support", "visit"}
    consents = {row["consent_contact"] for row in rows}
    assert {"true", "false", "yes", "no", "1", "0", None} <= consents | {None}
    stamps = [row["submitted_at"] or "" for row in rows]
    assert any(s.endswith("Z") for s in stamps)
    assert any(s.endswith(("+01:00", "+02:00")) for s in stamps)
    assert any(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", s) for s in stamps)

    emails = {row["respondent_email"] for row in rows if row["respondent_email"]}
    assert all(email.endswith("@example.com") for email in emails)
    per_respondent = Counter(row["respondent_id"] for row in rows)
    assert max(per_respondent.values()) >= 4
    assert sum(1 for count in per_respondent.values() if count >= 2) > 100


def test_nps_and_comments_look_like_real_feedback(
    landed: dict[str, list[dict[str, str | None]]], scales: dict[str, tuple[int, int]]
) -> None:
    rows = [
        row
        for file_rows in landed.values()
        for row in file_rows
        if row["survey_id"] in scales and row["score"] and INTEGER.fullmatch(row["score"])
    ]
    scores = [int(float(row["score"])) for row in rows]
    nps = 100 * (sum(s >= 9 for s in scores) - sum(s <= 6 for s in scores)) / len(scores)
    assert 15 <= nps <= 45
    comments = [row["comment"] for row in rows]
    empty = sum(1 for comment in comments if blank(comment))
    assert 0.2 <= empty / len(comments) <= 0.45
    assert {"-", "n/a"} & set(comments)
    texts = " ".join(comment for comment in comments if comment)
    for word in ("queue", "cola", "kassa", "kolejce", "delivery", "app", "price"):
        assert word in texts.lower(), word


def test_default_end_date_is_yesterday(tmp_path: Path) -> None:
    summary = write_demo_data(tmp_path, responses=1000)
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    first_day = yesterday - timedelta(days=364)
    assert any(
        path.startswith(f"nps/backfill/responses_{first_day.isoformat()}_")
        for path in summary.files
    )
    last_daily = max(path[-14:-4] for path in summary.files if path.startswith("nps/daily/"))
    assert yesterday - timedelta(days=7) <= date.fromisoformat(last_daily) <= yesterday


def test_too_few_responses_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least"):
        write_demo_data(tmp_path, responses=10)
