"""One real pipeline run (CLI -> Dagster -> dbt -> GX) with a file its raw suite blocks: that
file's rows are quarantined, the other files' rows reach the marts, the run says which file and
which expectation, the row accounting reconciles and the Data Docs site lists every suite."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb
import pytest

from tests.conftest import CliRun, run_cli

GOOD = "nps/daily/store_2025-03-01.csv"
BAD = "nps/daily/store_2025-03-02.csv"  # a third of its scores are "n/a": a broken export
SMALL = "nps/app/2025-W09.jsonl"  # 5 rows, 1 bad score: too small to block, it warns
SUITES = sorted(p.stem for p in (Path(__file__).parents[1] / "expectations").glob("*.json"))


def write_csv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def responses(prefix: str, day: str, n: int) -> list[dict]:
    return [
        {
            "response_id": f"{prefix}{i:03d}",
            "survey_id": "SRV-STORE",
            "submitted_at": f"{day}T10:{i % 60:02d}:00Z",
            "score": str(i % 11),
            "branch_id": "BR-0001",
            "language": "en",
            "consent_contact": "yes",
        }
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def blocked_run(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    root = tmp_path_factory.mktemp("blocking")
    landing = root / "landing"
    write_csv(landing / GOOD, responses("G", "2025-03-01", 60))
    bad = responses("B", "2025-03-02", 60)
    for i in range(0, 60, 3):
        bad[i]["score"] = "n/a"
    bad[1]["response_id"] = ""  # its own defect: keeps its own quarantine reason
    write_csv(landing / BAD, bad)
    small = responses("S", "2025-03-02", 5)
    small[0]["score"] = "11"
    (landing / SMALL).parent.mkdir(parents=True)
    (landing / SMALL).write_text("\n".join(json.dumps(r) for r in small) + "\n")
    return run_cli(landing, root / "warehouse.duckdb", root / "dagster_home")


def query(run: CliRun, sql: str) -> list[tuple]:
    with duckdb.connect(str(run.warehouse), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def check_evaluation(run: CliRun, asset: list[str], check: str):
    """The latest evaluation of an asset check, as recorded in the run's Dagster instance."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(run.dagster_home)) as instance:
        key = dg.AssetCheckKey(dg.AssetKey(asset), check)
        record = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[key]
        return record.event.dagster_event.event_specific_data


def test_the_run_names_the_blocked_file_and_expectation(blocked_run: CliRun) -> None:
    out = blocked_run.stdout
    assert blocked_run.returncode == 1, out + blocked_run.stderr
    assert "CHECK FAILED raw/nps_responses:raw_nps_responses_suite" in out, out
    assert f"BLOCKED {BAD}: score_is_integer (rows quarantined as batch_failed_validation)" in out
    assert GOOD not in "".join(line for line in out.splitlines() if "BLOCKED" in line)
    assert "quarantined batch_failed_validation: 39" in out


def test_other_files_flow_and_the_blocked_one_does_not(blocked_run: CliRun) -> None:
    accepted = dict(
        query(blocked_run, "select source_file, count(*) from marts.fct_nps_responses group by 1")
    )
    assert accepted == {GOOD: 60, SMALL: 4}
    reasons = dict(
        query(
            blocked_run,
            f"select quarantine_reason, count(*) from marts.nps_quarantine "
            f"where source_file = '{BAD}' group by 1",
        )
    )
    assert reasons == {
        "batch_failed_validation": 39,
        "score_not_integer": 20,
        "missing_response_id": 1,
    }


def test_row_accounting_still_reconciles(blocked_run: CliRun) -> None:
    rows = query(
        blocked_run,
        "select source_file, landed_rows, accepted_rows, quarantined_rows, duplicate_rows "
        "from marts.nps_load_reconciliation order by 1",
    )
    assert {r[0]: r[1:] for r in rows} == {
        SMALL: (5, 4, 1, 0),
        GOOD: (60, 60, 0, 0),
        BAD: (60, 0, 60, 0),
    }


def test_verdicts_are_stored_and_in_the_check_metadata(blocked_run: CliRun) -> None:
    verdicts = query(
        blocked_run,
        "select source_file, success, blocked, blocking_expectations "
        "from raw.batch_validations where feed = 'nps' order by 1",
    )
    assert verdicts == [
        (SMALL, False, False, None),
        (GOOD, True, False, None),
        (BAD, False, True, "score_is_integer"),
    ]
    evaluation = check_evaluation(blocked_run, ["raw", "nps_responses"], "raw_nps_responses_suite")
    metadata = {k: v.value for k, v in evaluation.metadata.items()}
    assert (evaluation.passed, evaluation.severity.value) == (False, "ERROR")
    assert list(metadata["blocked_files"]) == [BAD]
    (failure,) = [f for f in metadata["blocked_files"][BAD] if f["effect"] == "blocks"]
    assert (failure["key"], failure["unexpected_count"], failure["element_count"]) == (
        "score_is_integer",
        20,
        60,
    )
    assert metadata["failures"][SMALL]["warnings"] == ["score_at_most_scale_max"]


def test_model_suites_ran_as_asset_checks(blocked_run: CliRun) -> None:
    evaluation = check_evaluation(blocked_run, ["marts", "nps_daily"], "nps_daily_suite")
    assert evaluation.passed
    expectations = evaluation.metadata["expectations"].value
    assert expectations["responses_positive"]["unexpected_count"] == 0
    assert evaluation.metadata["rows"].value >= 2


def test_data_docs_are_rebuilt_and_list_every_suite(blocked_run: CliRun) -> None:
    (line,) = [x for x in blocked_run.stdout.splitlines() if x.startswith("Data Docs: ")]
    index = Path(line.removeprefix("Data Docs: "))
    assert index.is_file() and index.is_relative_to(blocked_run.dagster_home)
    page = index.read_text(encoding="utf-8")
    for suite in SUITES:
        assert f"id='{suite}'" in page, suite
    assert "store_2025-03-02.csv" in page  # the blocked batch's result is one click away
