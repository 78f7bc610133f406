"""NPS analytics marts on a hand-built fixture (tests/fixtures/rolling), run once for real.

The fixture has late and duplicate responses (see tests/fixtures/rolling/README.md); the values
below are worked out by hand from its 13 distinct responses, not read back from the marts.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path
from statistics import NormalDist

import duckdb
import pytest

from tests.conftest import FIXTURES, REPO, CliRun, run_cli

ROLLING_FIXTURE = FIXTURES / "rolling"
MODELS = REPO / "models"


@pytest.fixture(scope="module")
def rolling_run(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    root = tmp_path_factory.mktemp("rolling_run")
    landing = root / "landing"
    shutil.copytree(ROLLING_FIXTURE / "nps", landing / "nps")
    return run_cli(landing, root / "warehouse.duckdb", root / "dagster_home")


def query(run: CliRun, sql: str) -> list[tuple]:
    with duckdb.connect(str(run.warehouse), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def test_dbt_built_the_marts(rolling_run: CliRun) -> None:
    out = rolling_run.stdout + rolling_run.stderr
    # other steps (checks owned by other marts) may fail; the dbt models and tests must not
    assert "STEP FAILED nps_dbt_models" not in out, out
    assert query(rolling_run, "select count(*) from marts.fct_nps_responses") == [(13,)]
    assert query(rolling_run, "select count(*) from marts.nps_duplicates") == [(2,)]
    # the first received copies of R02 and R03 win
    assert query(
        rolling_run,
        "select response_id, score from marts.fct_nps_responses "
        "where response_id in ('R02', 'R03') order by 1",
    ) == [("R02", 3), ("R03", 8)]


# calendar_date -> (responses, promoters, passives, detractors) of the 7-day window, all/all.
# all_responses: every response submitted in [day - 6, day]; R08 (late, 06-03) and R11 (late,
# 06-01 20:00) count on their submission days.
ALL_RESPONSES_7D = {
    date(2025, 6, 1): (4, 1, 1, 2),  # R01 P, R02 D (not the re-sent 10), R03 Pa, R11 D
    date(2025, 6, 2): (7, 2, 1, 4),  # + R04 D, R05 P, R06 D
    date(2025, 6, 3): (8, 2, 2, 4),  # + R08 Pa (late)
    date(2025, 6, 4): (8, 2, 2, 4),  # no responses that day: same window, row still there
    date(2025, 6, 5): (10, 3, 2, 5),  # + R07 P, R09 D
    date(2025, 6, 7): (10, 3, 2, 5),
    date(2025, 6, 8): (6, 2, 1, 3),  # 06-01 leaves the window
    date(2025, 6, 9): (4, 2, 1, 1),  # 06-03..06-09: R08 Pa, R07 P, R09 D, R10 P
}
# latest_per_respondent: each respondent's latest response in the window; R06 (no respondent_id)
# is its own respondent.
LATEST_7D = {
    date(2025, 6, 1): (3, 0, 1, 2),  # C1's latest of 06-01 is the late R11 (D), C2 D, C3 Pa
    date(2025, 6, 2): (4, 1, 1, 2),  # C1 -> R05 P (18:00 beats R04 09:00), + R06 D
    date(2025, 6, 3): (5, 1, 2, 2),  # + C4 Pa
    date(2025, 6, 4): (5, 1, 2, 2),
    date(2025, 6, 5): (5, 2, 1, 2),  # C2 -> P, C3 -> D
    date(2025, 6, 8): (5, 2, 1, 2),  # 06-02..06-08: C1 R05 P still inside
    date(2025, 6, 9): (4, 2, 1, 1),  # C1 and R06 out; C2 P, C3 D, C4 Pa, C5 P
}


@pytest.mark.parametrize(
    ("variant", "expected"),
    [("all_responses", ALL_RESPONSES_7D), ("latest_per_respondent", LATEST_7D)],
)
def test_rolling_7_day_values(rolling_run: CliRun, variant: str, expected: dict) -> None:
    rows = query(
        rolling_run,
        "select calendar_date, responses, promoters, passives, detractors, nps "
        "from marts.nps_rolling where window_days = 7 and hierarchy_level = 'all' "
        f"and segment_type = 'all' and variant = '{variant}'",
    )
    got = {row[0]: row[1:5] for row in rows}
    for day, counts in expected.items():
        assert got[day] == counts, (variant, day)
    nps = {row[0]: row[5] for row in rows}
    for day, (n, p, _, d) in expected.items():
        assert nps[day] == pytest.approx(100 * (p - d) / n), (variant, day)


def test_rolling_is_dense_and_has_previous_window(rolling_run: CliRun) -> None:
    days = query(rolling_run, "select distinct calendar_date from marts.nps_rolling order by 1")
    assert days[0] == (date(2025, 6, 1),) and days[-1] == (date(2025, 7, 2),)
    assert len(days) == 32  # every calendar day, with or without responses
    (segments,) = query(
        rolling_run,
        "select count(*) from (select distinct hierarchy_level, region, district, branch_id, "
        "segment_type, segment_value from marts.nps_rolling)",
    )[0]
    # every segment has every day, window (4) and variant (2)
    assert query(rolling_run, "select count(*) from marts.nps_rolling") == [(32 * segments * 8,)]
    # the previous window ends window_days earlier: on 06-09 it is 06-01..06-02 (7 responses)
    assert query(
        rolling_run,
        "select previous_responses, previous_nps, nps_change from marts.nps_rolling "
        "where window_days = 7 and variant = 'all_responses' and hierarchy_level = 'all' "
        "and segment_type = 'all' and calendar_date = '2025-06-09'",
    ) == [(7, pytest.approx(-200 / 7), pytest.approx(25 + 200 / 7))]
    # a day without any response in a 7-day window: zero counts, null statistics
    assert query(
        rolling_run,
        "select responses, nps, nps_variance, nps_ci_lower, is_low_sample "
        "from marts.nps_rolling where window_days = 7 and variant = 'all_responses' "
        "and hierarchy_level = 'all' and segment_type = 'all' and calendar_date = '2025-06-20'",
    ) == [(0, None, None, None, True)]


def test_rolling_hierarchy_and_unknown_branches(rolling_run: CliRun) -> None:
    rows = query(
        rolling_run,
        "select variant, region, responses, promoters, passives, detractors "
        "from marts.nps_rolling where window_days = 7 and hierarchy_level = 'region' "
        "and segment_type = 'all' and calendar_date = '2025-06-02' order by 1, 2",
    )
    assert rows == [
        ("all_responses", "Benelux South", 1, 1, 0, 0),
        ("all_responses", "Randstad", 5, 1, 1, 3),
        ("all_responses", "unknown", 1, 0, 0, 1),  # BR-9999 is not in the branches seed
        # C1's latest answer (R05) was about a Benelux South branch: it leaves Randstad
        ("latest_per_respondent", "Benelux South", 1, 1, 0, 0),
        ("latest_per_respondent", "Randstad", 2, 0, 1, 1),
        ("latest_per_respondent", "unknown", 1, 0, 0, 1),
    ]
    assert query(
        rolling_run,
        "select district, branch_id, branch_name, responses from marts.nps_rolling "
        "where window_days = 30 and variant = 'all_responses' and hierarchy_level = 'branch' "
        "and region = 'unknown' and segment_type = 'all' and calendar_date = '2025-06-30'",
    ) == [("unknown", "BR-9999", "unknown", 1)]


def test_by_period_months_weeks_and_segments(rolling_run: CliRun) -> None:
    assert query(
        rolling_run,
        "select period_start, period_end, responses, promoters, passives, detractors, "
        "previous_nps is null from marts.nps_by_period where period_type = 'month' "
        "and hierarchy_level = 'all' and segment_type = 'all' order by 1",
    ) == [
        (date(2025, 6, 1), date(2025, 6, 30), 11, 4, 2, 5, True),
        (date(2025, 7, 1), date(2025, 7, 31), 2, 1, 0, 1, False),
    ]
    # ISO weeks start on Monday: 2025-06-01 is a Sunday, the end of the week of 05-26
    assert query(
        rolling_run,
        "select period_start, responses from marts.nps_by_period where period_type = 'week' "
        "and hierarchy_level = 'all' and segment_type = 'all' order by 1",
    ) == [
        (date(2025, 5, 26), 4),
        (date(2025, 6, 2), 6),
        (date(2025, 6, 9), 1),
        (date(2025, 6, 30), 2),
    ]
    assert query(
        rolling_run,
        "select segment_value, responses from marts.nps_by_period where period_type = 'year' "
        "and hierarchy_level = 'all' and segment_type = 'product' order by 1",
    ) == [("Bakery", 7), ("Household", 4), ("Toys", 1), ("unknown", 1)]


def test_category_migration_and_respondents(rolling_run: CliRun) -> None:
    # C2: June latest R07 promoter -> July detractor; C3: June latest R09 detractor -> promoter
    assert query(
        rolling_run,
        "select period_type, previous_period_start, period_start, from_category, to_category, "
        "respondents from marts.nps_category_migration "
        "where hierarchy_level = 'all' and segment_type = 'all' order by 1, 4",
    ) == [
        ("month", date(2025, 6, 1), date(2025, 7, 1), "detractor", "promoter", 1),
        ("month", date(2025, 6, 1), date(2025, 7, 1), "promoter", "detractor", 1),
        ("quarter", date(2025, 4, 1), date(2025, 7, 1), "detractor", "promoter", 1),
        ("quarter", date(2025, 4, 1), date(2025, 7, 1), "promoter", "detractor", 1),
    ]
    assert query(
        rolling_run,
        "select respondent_id, response_count, latest_response_id, latest_category "
        "from marts.dim_respondents order by 1",
    ) == [
        ("C1", 4, "R05", "promoter"),
        ("C2", 3, "R12", "detractor"),
        ("C3", 3, "R13", "promoter"),
        ("C4", 1, "R08", "passive"),
        ("C5", 1, "R10", "promoter"),
    ]


ALPHAS = (0.05, 0.01, 0.1, 0.000001)
# (detractors, passives, promoters, previous detractors, previous passives, previous promoters)
VECTORS = [
    (1, 2, 3, None, None, None),
    (1, 0, 1, 1, 2, 3),
    (0, 1, 1, 0, 0, 0),
    (1, 1, 1, 5, 0, 5),
    (0, 0, 0, 1, 1, 1),
    (0, 0, 5, 5, 0, 5),
    (40, 20, 60, 60, 20, 40),
]


def _expected(d: int, pa: int, p: int, z: float) -> dict:
    """An independent implementation: the per-response score +1/0/-1, its mean and variance."""
    n = d + pa + p
    if n == 0:
        return dict.fromkeys(("nps", "variance", "se", "lower", "upper", "adj_lower"))
    scores = [-1] * d + [0] * pa + [1] * p
    mean = sum(scores) / n
    variance = sum((x - mean) ** 2 for x in scores) / n
    se = 100 * (variance / n) ** 0.5
    ad, apa, ap = d + 0.75, pa + 1.5, p + 0.75
    an = ad + apa + ap
    adj_mean = (ap - ad) / an
    adj_variance = (ap + ad) / an - adj_mean**2
    adj_se = 100 * (adj_variance / an) ** 0.5
    return {
        "nps": 100 * mean,
        "variance": variance,
        "se": se,
        "lower": max(-100.0, 100 * mean - z * se),
        "upper": min(100.0, 100 * mean + z * se),
        "adj_lower": max(-100.0, 100 * adj_mean - z * adj_se),
    }


def test_count_level_macros_and_z_critical(tmp_path: Path) -> None:
    """The count-level macros other marts call (nps_statistics_columns, nps_wald_*,
    nps_change_z) against a Python implementation, and nps_z_critical = Phi^-1(1 - alpha / 2)
    computed at compile time (no lookup table)."""
    z_columns = ", ".join(f"{{{{ nps_z_critical({a}) }}}} as z{i}" for i, a in enumerate(ALPHAS))
    values = ", ".join(
        "(" + ", ".join("null" if v is None else str(v) for v in row) + ")" for row in VECTORS
    )
    sql = (
        f"select {z_columns}, d, pa, p, "
        "{{ nps_statistics_columns('d', 'pa', 'p', 'pd', 'ppa', 'pp') }}, "
        "{{ nps_wald_lower('d', 'pa', 'p') }} as wald_lower, "
        "{{ nps_wald_upper('d', 'pa', 'p') }} as wald_upper, "
        "{{ nps_adjusted_wald_lower('d', 'pa', 'p') }} as adjusted_lower, "
        "{{ nps_change_z('pd', 'ppa', 'pp', 'd', 'pa', 'p') }} as change_z "
        f"from (values {values}) as vectors (d, pa, p, pd, ppa, pp)"
    )
    env = {**os.environ, "NPS_WAREHOUSE": str(tmp_path / "compile.duckdb")}
    completed = subprocess.run(
        [
            str(Path(sys.executable).parent / "dbt"),
            "compile",
            "--quiet",
            "--profiles-dir",
            str(REPO),
            "--target-path",
            str(tmp_path / "target"),
            "--log-path",
            str(tmp_path / "logs"),
            "--inline",
            sql,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    with duckdb.connect() as conn:
        cursor = conn.execute(completed.stdout)
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    for i, alpha in enumerate(ALPHAS):
        assert float(rows[0][f"z{i}"]) == pytest.approx(
            NormalDist().inv_cdf(1 - alpha / 2), abs=1e-8
        )
    z = NormalDist().inv_cdf(0.975)
    approx = pytest.approx
    for row, (d, pa, p, pd, ppa, pp) in zip(rows, VECTORS, strict=True):
        want = _expected(d, pa, p, z)
        assert row["responses"] == d + pa + p
        assert row["nps"] == approx(want["nps"]) and row["nps_variance"] == approx(want["variance"])
        assert row["nps_standard_error"] == approx(want["se"])
        assert row["nps_ci_lower"] == approx(want["lower"]) == row["wald_lower"]
        assert row["nps_ci_upper"] == approx(want["upper"]) == row["wald_upper"]
        assert row["nps_adjusted_ci_lower"] == approx(want["adj_lower"]) == row["adjusted_lower"]
        if pd is None or d + pa + p == 0 or pd + ppa + pp == 0:
            assert row["nps_change_z"] is None and row["significant_change"] is None
            continue
        before = _expected(pd, ppa, pp, z)
        spread = (want["se"] ** 2 + before["se"] ** 2) ** 0.5
        if spread == 0:
            assert row["nps_change_z"] is None
            continue
        change_z = (want["nps"] - before["nps"]) / spread
        assert row["nps_change_z"] == approx(change_z) == row["change_z"]
        assert row["significant_change"] == (abs(change_z) >= z)


def test_rolling_is_built_from_daily_aggregates_only() -> None:
    """The rolling mart must never read responses: its cost grows with days x segments."""
    refs = set(
        re.findall(r"ref\('(\w+)'\)", (MODELS / "marts/customer/nps_rolling.sql").read_text())
    )
    assert refs == {"int_nps_segment_days_rolled_up", "int_nps_latest_changes_rolled_up"}
    latest = (
        MODELS / "intermediate/nps_analytics/int_nps_latest_changes_rolled_up.sql"
    ).read_text()
    assert set(re.findall(r"ref\('(\w+)'\)", latest)) == {"int_nps_responses_sequenced"}
