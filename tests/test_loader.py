"""The loader on its own: formats, headers, idempotency, changed and broken files."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from orchestration.landing.feeds import NPS_RESPONSES
from orchestration.landing.loader import LoadReport, load_feed
from tests.conftest import build_fixture_landing

HEADER = "response_id,survey_id,submitted_at,score\n"


@pytest.fixture()
def landing(tmp_path: Path) -> Path:
    return build_fixture_landing(tmp_path / "landing")


def load(landing: Path, warehouse: Path, load_id: str) -> LoadReport:
    with duckdb.connect(str(warehouse)) as conn:
        return load_feed(conn, landing, NPS_RESPONSES, load_id=load_id)


def query(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute(sql, params or []).fetchall()


def outcomes(report: LoadReport) -> dict[str, str]:
    return {f.source_file: f.outcome for f in report.files}


def test_loads_every_format_with_lineage(landing: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    report = load(landing, warehouse, "L1")
    assert outcomes(report) == {
        "nps/app/2025-W09.jsonl": "loaded",
        "nps/backfill/2025-02.parquet": "loaded",
        "nps/broken/latin1.csv": "failed",
        "nps/daily/store_2025-03-01.csv": "loaded",
        "nps/daily/store_2025-03-02.csv": "loaded",
    }
    counts = dict(
        query(warehouse, "select _source_file, count(*) from raw.nps_responses group by 1")
    )
    assert counts == {
        "nps/app/2025-W09.jsonl": 3,
        "nps/backfill/2025-02.parquet": 3,
        "nps/daily/store_2025-03-01.csv": 15,
        "nps/daily/store_2025-03-02.csv": 5,
    }
    # BOM and header case/whitespace are normalised; unknown columns are kept as JSON
    first = query(
        warehouse,
        "select response_id, score, respondent_email, extra_columns, _source_row, _load_id "
        "from raw.nps_responses where _source_file like '%03-01.csv' order by _source_row limit 1",
    )[0]
    assert first == ("F0001", "10", "ann@example.com", '{"device":"ios"}', 1, "L1")
    # semicolon-separated file
    assert query(
        warehouse,
        "select score from raw.nps_responses where response_id = 'F0102'",
    ) == [("4",)]
    # JSON values arrive as text, as exported; nested values stay JSON
    app = query(
        warehouse,
        "select score, consent_contact, extra_columns from raw.nps_responses "
        "where _source_file like 'nps/app/%' order by _source_row",
    )
    assert app[0][:2] == ("10", "true")
    assert app[1][2] == '{"app_version":"{\\"major\\":3}"}'
    # Parquet doubles become text that the models read as integers; mixed-case header matched
    assert query(
        warehouse,
        "select score, consent_contact from raw.nps_responses where response_id = 'F0401'",
    ) == [("8.0", "true")]
    checksums = query(warehouse, "select count(distinct _file_checksum) from raw.nps_responses")
    assert checksums == [(4,)]


def test_rerun_loads_nothing_twice(landing: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    load(landing, warehouse, "L1")
    second = load(landing, warehouse, "L2")
    assert second.written == []
    assert {o for f, o in outcomes(second).items() if "broken" not in f} == {"unchanged"}
    assert query(warehouse, "select count(*) from raw.nps_responses") == [(26,)]


def test_touched_but_identical_file_is_unchanged(landing: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    load(landing, warehouse, "L1")
    path = landing / "nps" / "daily" / "store_2025-03-02.csv"
    path.write_bytes(path.read_bytes())  # new mtime, same content
    report = load(landing, warehouse, "L2")
    assert outcomes(report)["nps/daily/store_2025-03-02.csv"] == "unchanged"


def test_changed_file_replaces_its_rows_and_keeps_first_receipt(
    landing: Path, tmp_path: Path
) -> None:
    warehouse = tmp_path / "w.duckdb"
    load(landing, warehouse, "L1")
    received = query(
        warehouse,
        "select distinct _file_received_at from raw.nps_responses "
        "where _source_file = 'nps/daily/store_2025-03-02.csv'",
    )
    path = landing / "nps" / "daily" / "store_2025-03-02.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:3]) + "\n")  # header + 2 rows
    report = load(landing, warehouse, "L2")
    assert outcomes(report)["nps/daily/store_2025-03-02.csv"] == "replaced"
    rows = query(
        warehouse,
        "select count(*), min(_load_id), max(_load_id) from raw.nps_responses "
        "where _source_file = 'nps/daily/store_2025-03-02.csv'",
    )
    assert rows == [(2, "L2", "L2")]
    assert (
        query(
            warehouse,
            "select distinct _file_received_at from raw.nps_responses "
            "where _source_file = 'nps/daily/store_2025-03-02.csv'",
        )
        == received
    )
    assert query(warehouse, "select count(*) from raw.nps_responses") == [(23,)]


def test_deleted_file_rows_stay(landing: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    load(landing, warehouse, "L1")
    shutil.rmtree(landing / "nps" / "app")
    report = load(landing, warehouse, "L2")
    assert "nps/app/2025-W09.jsonl" not in outcomes(report)
    assert query(
        warehouse,
        "select count(*) from raw.nps_responses where _source_file = 'nps/app/2025-W09.jsonl'",
    ) == [(3,)]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        (
            "latin1.csv",
            HEADER.encode() + b"R1,S,2025-01-01,9\nR2,S,2025-01-01,\xe9\n",
            "(line 3, column 17): undecodable bytes: 0xe9 is not valid UTF-8",
        ),
        (
            "ragged.csv",
            (HEADER + "R1,S,2025-01-01,9\nR2,S,2025-01-01,9,extra\n").encode(),
            "(line 3, column 5): expected 4 fields (as in the header), found 5",
        ),
        (
            "no_score.csv",
            b"response_id,survey_id,submitted_at\nR1,S,2025-01-01\n",
            "(line 1): missing required column(s): score",
        ),
        (
            "twice.csv",
            b"response_id,Response ID,survey_id,submitted_at,score\n",
            "(line 1, column 2): column 'Response ID' appears twice",
        ),
        ("binary.csv", b"PK\x03\x04\x00\x00binary", "(line 1, column 5): binary content"),
        ("empty.csv", b"", "(line 1): empty file: no header row"),
        ("broken.parquet", b"PAR1 not really", ": not a readable Parquet file"),
        (
            "broken.jsonl",
            b'{"response_id": "R1"}\n{"response_id": \n',
            "(line 2, column 17): invalid JSON",
        ),
        (
            "list.jsonl",
            b'{"response_id": "R1"}\n[1, 2]\n',
            "(line 2, column 1): each line must be one JSON object",
        ),
        ("export.xlsx", b"whatever", ": unsupported file type '.xlsx'"),
    ],
)
def test_unreadable_file_is_named_and_others_still_load(
    tmp_path: Path, name: str, content: bytes, expected: str
) -> None:
    landing = tmp_path / "landing"
    (landing / "nps").mkdir(parents=True)
    (landing / "nps" / "good.csv").write_text(HEADER + "G1,S,2025-01-01,9\n")
    (landing / "nps" / name).write_bytes(content)
    warehouse = tmp_path / "w.duckdb"
    report = load(landing, warehouse, "L1")
    [failed] = report.failed
    assert failed.source_file == f"nps/{name}"
    assert failed.error.startswith(f"nps/{name}")
    assert expected in failed.error
    assert query(warehouse, "select _source_file, count(*) from raw.nps_responses group by 1") == [
        ("nps/good.csv", 1)
    ]
    assert query(
        warehouse,
        "select status, error from raw.landing_manifest where source_file = ?",
        [f"nps/{name}"],
    ) == [("failed", failed.error)]


def test_broken_new_version_keeps_previous_rows(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    (landing / "nps").mkdir(parents=True)
    path = landing / "nps" / "day.csv"
    path.write_text(HEADER + "R1,S,2025-01-01,9\nR2,S,2025-01-01,8\n")
    warehouse = tmp_path / "w.duckdb"
    load(landing, warehouse, "L1")
    path.write_bytes(HEADER.encode() + b"R1,S,2025-01-01,9\nR2,S,2025-01-01,9,9\n")
    report = load(landing, warehouse, "L2")
    assert outcomes(report) == {"nps/day.csv": "failed"}
    # nothing half-loaded: the last good version's rows are intact
    assert query(warehouse, "select response_id, _load_id from raw.nps_responses order by 1") == [
        ("R1", "L1"),
        ("R2", "L1"),
    ]
    assert query(warehouse, "select outcome from raw.landing_load_log order by attempted_at") == [
        ("loaded",),
        ("failed",),
    ]
