"""`nps-warehouse forget`: a respondent leaves every schema and stays out after re-loads.

On a copy of the session's fixture warehouse: forget C001 through the command line (rows in
two files, one of them twice) and C004 (a detractor with follow-up events) through the API;
then re-deliver a file under a new name, change two files (adding rows that identify the
forgotten respondent only by email or by response id, and a follow-up event), and run the
whole pipeline once more. Nothing of them comes back and the row accounting still reconciles.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from orchestration.privacy import forget_respondent
from tests.conftest import REPO, CliRun, run_cli

EMAIL_C001 = "ann@example.com"
IDENTIFIERS = {"C001", "C004", "F0001", "F0101", "F0004"}  # respondents and their responses


def scan(warehouse: Path, values: set[str], email: str | None = None) -> list[str]:
    """Every `schema.table.column` (tables and views, every schema) holding one of `values`
    exactly, or containing `email` (any case). The tombstone table is left out: it holds the
    forgotten ids by design (and is checked for emails separately)."""
    hits = []
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        columns: dict[tuple[str, str], list[str]] = {}
        for schema, table, column in conn.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where table_catalog = current_database() order by all"
        ).fetchall():
            if (schema, table) != ("raw", "privacy_tombstones"):
                columns.setdefault((schema, table), []).append(column)
        literals = ", ".join("'" + v + "'" for v in sorted(values))
        for (schema, table), names in columns.items():
            for name in names:
                text = f'trim(cast("{name}" as varchar))'
                condition = f"{text} in ({literals})"
                if email:
                    condition += f" or lower({text}) like '%{email}%'"
                found = conn.execute(
                    f'select count(*) from "{schema}"."{table}" where {condition}'
                ).fetchall()[0][0]
                if found:
                    hits.append(f"{schema}.{table}.{name}")
    return hits


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute(sql).fetchall()


@dataclass
class Forgotten:
    warehouse: Path
    landing: Path
    cli: subprocess.CompletedProcess
    hits_after_forget: list[str]
    hits_in_published: list[str]


@pytest.fixture(scope="module")
def forgotten(fixture_run: CliRun, tmp_path_factory: pytest.TempPathFactory) -> Forgotten:
    root = tmp_path_factory.mktemp("privacy")
    warehouse = root / "warehouse.duckdb"
    shutil.copy(fixture_run.warehouse, warehouse)
    shutil.copytree(fixture_run.warehouse.parent / "published", root / "published")
    landing = root / "landing"
    shutil.copytree(fixture_run.landing, landing)
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "orchestration.cli",
            "forget",
            "--respondent",
            " C001 ",
            "--warehouse",
            str(warehouse),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    forget_respondent(warehouse, "C004")
    return Forgotten(
        warehouse=warehouse,
        landing=landing,
        cli=cli,
        hits_after_forget=scan(warehouse, IDENTIFIERS, EMAIL_C001),
        # C001 went through the command, which refreshes the published copy
        hits_in_published=scan(
            root / "published" / "nps_warehouse.duckdb", {"C001", "F0001", "F0101"}, EMAIL_C001
        ),
    )


def test_forget_erases_from_every_schema(forgotten: Forgotten) -> None:
    assert forgotten.cli.returncode == 0, forgotten.cli.stdout + forgotten.cli.stderr
    assert "Forgot respondent C001" in forgotten.cli.stdout
    assert EMAIL_C001 not in forgotten.cli.stdout  # the command never echoes what it erased
    assert "raw.nps_responses: 3 row(s) erased" in forgotten.cli.stdout
    assert forgotten.hits_after_forget == []


def test_forget_refreshes_the_published_copy(forgotten: Forgotten) -> None:
    assert "Published copy refreshed" in forgotten.cli.stdout, forgotten.cli.stdout
    assert forgotten.hits_in_published == []


def test_tombstones_hold_no_email(forgotten: Forgotten) -> None:
    kinds = query(
        forgotten.warehouse,
        "select kind, count(*) from raw.privacy_tombstones group by 1 order by 1",
    )
    # C001: one address, responses F0001 and F0101; C004: one address, response F0004
    assert kinds == [("email_sha256", 2), ("respondent_id", 2), ("response_id", 3)]
    assert query(
        forgotten.warehouse,
        "select count(*) from raw.privacy_tombstones where value like '%@%'",
    ) == [(0,)]


def test_forget_logs_erased_rows_per_file(forgotten: Forgotten) -> None:
    erased = query(
        forgotten.warehouse,
        "select feed, source_file, sum(rows_erased) from raw.privacy_erasures "
        "group by all order by all",
    )
    assert erased == [
        ("followups", "followups/2025-03.csv", 2),  # F0004's events
        ("nps", "nps/daily/store_2025-03-01.csv", 3),  # F0001 twice, F0004
        ("nps", "nps/daily/store_2025-03-02.csv", 1),  # F0101
    ]


@pytest.fixture(scope="module")
def reloaded(forgotten: Forgotten) -> CliRun:
    """The same file re-delivered under a new name, two files changed, one more real run."""
    landing = forgotten.landing
    resent = landing / "nps" / "daily" / "resent"
    resent.mkdir()
    shutil.copy(landing / "nps" / "daily" / "store_2025-03-01.csv", resent / "store.csv")
    changed = landing / "nps" / "daily" / "store_2025-03-02.csv"
    with changed.open("a", encoding="utf-8") as handle:
        handle.write(
            # no respondent_id, her address (other case): hers
            "F0901;SRV-STORE;;ANN@Example.com ;2025-03-02T11:00:00Z;7;no id;en;in_store;"
            "visit;BR-0001;groceries;no;no\n"
            # no respondent_id nor email, a forgotten response id: hers
            "F0101;SRV-DELIVERY;;;2025-03-02T08:00:00Z;10;Fast delivery again;en;email;"
            "delivery;BR-0001;furniture;yes;yes\n"
            # another respondent sharing the address: not hers, kept
            "F0902;SRV-STORE;C777;ann@example.com;2025-03-02T12:00:00Z;9;shared address;en;"
            "in_store;visit;BR-0001;groceries;no;no\n"
        )
    with (landing / "followups" / "2025-03.csv").open("a", encoding="utf-8") as handle:
        handle.write("F0004,resolved,2025-03-05T10:00:00Z,Called again\n")
    root = forgotten.warehouse.parent
    return run_cli(landing, forgotten.warehouse, root / "dagster_home")


def test_reloaded_files_do_not_bring_them_back(reloaded: CliRun) -> None:
    assert "Files loaded this run: 3 " in reloaded.stdout, reloaded.stdout
    assert "nps_load_reconciliation" not in "".join(
        line for line in reloaded.stdout.splitlines() if line.startswith("CHECK FAILED")
    ), reloaded.stdout
    assert scan(reloaded.warehouse, IDENTIFIERS) == []
    # the address stays only on the rows of the other respondent who shares it
    assert query(
        reloaded.warehouse,
        "select distinct respondent_id from raw.nps_responses "
        f"where lower(trim(respondent_email)) = '{EMAIL_C001}'",
    ) == [("C777",)]
    accepted = {
        r for (r,) in query(reloaded.warehouse, "select response_id from marts.fct_nps_responses")
    }
    assert "F0902" in accepted and "F0901" not in accepted


def test_reconciliation_counts_erased_rows(reloaded: CliRun) -> None:
    rows = query(
        reloaded.warehouse,
        "select source_file, manifest_rows, landed_rows, erased_rows, "
        "accepted_rows + quarantined_rows + duplicate_rows "
        "from marts.nps_load_reconciliation where file_status = 'loaded' order by 1",
    )
    assert rows == [
        ("nps/app/2025-W09.jsonl", 3, 3, 0, 3),
        ("nps/backfill/2025-02.parquet", 3, 3, 0, 3),
        # forget: F0001 twice and F0004
        ("nps/daily/resent/store.csv", 15, 12, 3, 12),
        ("nps/daily/store_2025-03-01.csv", 15, 12, 3, 12),
        # changed file: F0101 (by id), F0901 (by address), F0101 again (by response id)
        ("nps/daily/store_2025-03-02.csv", 8, 5, 3, 5),
    ]
    erased_at_load = query(
        reloaded.warehouse,
        "select feed, source_file, rows_erased from raw.privacy_erasures "
        "where reason = 'tombstone_at_load' order by all",
    )
    assert erased_at_load == [
        ("followups", "followups/2025-03.csv", 3),  # F0004's two events, and the new one
        ("nps", "nps/daily/resent/store.csv", 3),
        ("nps", "nps/daily/store_2025-03-02.csv", 3),
    ]


def test_forget_needs_an_existing_warehouse(tmp_path: Path) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "orchestration.cli",
            "forget",
            "--respondent",
            "C001",
            "--warehouse",
            str(tmp_path / "missing.duckdb"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 2
    assert "warehouse not found" in completed.stderr
