"""eNPS anonymity under attack: from the published marts alone, try to recover hidden groups.

Two attackers work on what BI users can read (`marts.enps_by_wave`, `marts.enps_rolling`):

- `difference_attack`: what the issue describes, done exhaustively: in every partition
  (all = departments = locations = tenure bands; a department = its teams), when the parent and
  all but one child are known, the last one is their difference; repeat until nothing new.
- `linear_program_attack`: the strongest attacker on counts: every partition of every scope as one
  linear system (plus, across marts, "a rolling window = the sum of its waves"), with counts
  never negative. A hidden count is recovered when it takes one value over every non-negative
  solution: either it is zero in all of them (found with one homogenised LP) or it is fixed by the
  equations once those zeros are known (null space test). This is exact for the polytope of
  real solutions; the constraint matrices are interval/network-like, so it is for integers too.

Both must recover nothing from the real marts, and must recover something from a naive
publication (primary suppression only): the attack can fail.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import random
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import duckdb
import numpy as np
import pytest
from scipy.linalg import null_space
from scipy.optimize import linprog

from tests.conftest import REPO, CliRun

KEY_COLUMNS = ("grouping", "department", "team", "location", "tenure_band")
MEASURES = ("responses", "promoters", "passives", "detractors")
ALL = ("all", None, None, None, None)

Cell = tuple  # (grouping, department, team, location, tenure_band)
Variable = tuple  # (scope, cell)


def read_published(warehouse: Path, mart: str, scope_columns: tuple[str, ...]) -> dict:
    """scope -> cell -> {measure: value or None} from a published mart (None = hidden)."""
    columns = ", ".join((*scope_columns, *KEY_COLUMNS, "suppressed", *MEASURES))
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        rows = conn.execute(f"select {columns} from marts.{mart}").fetchall()
    published: dict = defaultdict(dict)
    width = len(scope_columns)
    for row in rows:
        scope, cell = row[:width], row[width : width + 5]
        suppressed, values = row[width + 5], row[width + 6 :]
        assert suppressed == (values[0] is None), row
        published[scope][cell] = dict(zip(MEASURES, values, strict=True))
    return dict(published)


def partitions(cells: Iterable[Cell]) -> list[tuple[Cell, list[Cell]]]:
    """The parent = sum(children) relations a reader knows from the groupings' definitions."""
    cells = list(cells)
    found = [
        (ALL, [c for c in cells if c[0] == grouping])
        for grouping in ("department", "location", "tenure_band")
    ]
    for department in {c[1] for c in cells if c[0] == "department"}:
        parent = ("department", department, None, None, None)
        found.append(
            (parent, [c for c in cells if c[0] == "department_team" and c[1] == department])
        )
    return [(parent, children) for parent, children in found if children]


def equations(published: dict, measure: str, links: dict | None = None) -> list:
    """Linear equations sum(coef * variable) = rhs over the hidden cells of every scope."""
    system = []

    def term(scope, cell, sign, coefficients, rhs):
        value = published[scope][cell][measure]
        if value is None:
            coefficients[(scope, cell)] = coefficients.get((scope, cell), 0) + sign
            return rhs
        return rhs - sign * value

    for scope, cells in published.items():
        for parent, children in partitions(cells):
            coefficients: dict = {}
            rhs = term(scope, parent, 1, coefficients, 0)
            for child in children:
                rhs = term(scope, child, -1, coefficients, rhs)
            system.append((coefficients, rhs))
    for total_scope, part_scopes in (links or {}).items():
        for cell in published[total_scope]:
            coefficients = {}
            rhs = term(total_scope, cell, 1, coefficients, 0)
            for part in part_scopes:
                rhs = term(part, cell, -1, coefficients, rhs)
            system.append((coefficients, rhs))
    return system


def difference_attack(published: dict, measure: str = "responses") -> dict[Variable, float]:
    """Parent minus visible children, child = parent minus the others, until nothing new."""
    known = {
        (scope, cell): values[measure]
        for scope, cells in published.items()
        for cell, values in cells.items()
        if values[measure] is not None
    }
    recovered: dict = {}
    changed = True
    while changed:
        changed = False
        for scope, cells in published.items():
            for parent, children in partitions(cells):
                members = [(scope, parent)] + [(scope, c) for c in children]
                unknown = [m for m in members if m not in known]
                if len(unknown) != 1:
                    continue
                total = known.get((scope, parent))
                others = sum(known[m] for m in members[1:] if m in known)
                value = others if unknown[0] == (scope, parent) else total - others
                known[unknown[0]] = recovered[unknown[0]] = value
                changed = True
    return recovered


def linear_program_attack(
    published: dict, measure: str = "responses", links: dict | None = None
) -> dict[Variable, float]:
    """Every hidden count that takes a single value over all non-negative solutions."""
    system = [(c, r) for c, r in equations(published, measure, links) if c or abs(r) > 1e-9]
    assert all(c for c, r in system), "published numbers contradict each other"
    variables = sorted({v for c, _ in system for v in c}, key=repr)
    if not variables:
        return {}
    index = {v: i for i, v in enumerate(variables)}
    n, m = len(variables), len(system)
    a = np.zeros((m, n))
    b = np.zeros(m)
    for row, (coefficients, rhs) in enumerate(system):
        for variable, coefficient in coefficients.items():
            a[row, index[variable]] = coefficient
        b[row] = rhs
    # Homogenised LP over (x, s, tau): A x = tau b, s <= x, 0 <= s <= 1, tau >= 1, max sum(s).
    # A scaled average of solutions makes every coordinate that can be positive reach s = 1, so
    # s_i = 0 exactly for the counts that are zero in every solution.
    cost = np.concatenate([np.zeros(n), -np.ones(n), [0.0]])
    a_eq = np.hstack([a, np.zeros((m, n)), -b.reshape(-1, 1)])
    a_ub = np.hstack([-np.eye(n), np.eye(n), np.zeros((n, 1))])
    bounds = [(0, None)] * n + [(0, 1)] * n + [(1, None)]
    result = linprog(cost, A_ub=a_ub, b_ub=np.zeros(n), A_eq=a_eq, b_eq=np.zeros(m), bounds=bounds)
    assert result.status == 0, result.message
    x = result.x[:n] / result.x[-1]
    always_zero = result.x[n : 2 * n] < 0.5
    recovered = {variables[i]: 0.0 for i in np.flatnonzero(always_zero)}
    free = np.flatnonzero(~always_zero)
    if len(free):
        # the others sit strictly inside; fixed iff every direction of the null space leaves them
        basis = null_space(a[:, free])
        fixed = np.all(np.abs(basis) < 1e-8, axis=1) if basis.size else np.ones(len(free), bool)
        for position in np.flatnonzero(fixed):
            recovered[variables[free[position]]] = float(x[free[position]])
    return recovered


def naive_publication(warehouse: Path) -> dict:
    """Primary suppression only, and only groups with responses: what NOT to publish."""
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        rows = conn.execute(
            "select survey_wave, grouping, department, team, location, tenure_band, responses, "
            "promoters, passives, detractors, min_group_size from people_restricted."
            "int_enps_wave_groups join (select distinct min_group_size from marts.enps_by_wave) "
            "on true where responses > 0"
        ).fetchall()
    published: dict = defaultdict(dict)
    for row in rows:
        visible = row[6] >= row[10]
        published[(row[0],)][row[1:6]] = {
            m: (v if visible else None) for m, v in zip(MEASURES, row[6:10], strict=True)
        }
    return dict(published)


def wave_links(warehouse: Path) -> dict:
    """Rolling window scope -> the wave scopes it sums (waves are public knowledge)."""
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        rows = conn.execute(
            "select distinct r.window_days, r.window_end, w.survey_wave "
            "from marts.enps_rolling as r "
            "join (select distinct survey_wave, wave_ended_on from "
            "people_restricted.int_enps_wave_groups) as w "
            "on w.wave_ended_on > r.window_end - r.window_days and w.wave_ended_on <= r.window_end "
            "order by 1, 2, 3"
        ).fetchall()
    links: dict = defaultdict(list)
    for days, end, wave in rows:
        links[(days, end)].append((wave,))
    return dict(links)


def joint_publication(warehouse: Path) -> dict:
    waves = read_published(warehouse, "enps_by_wave", ("survey_wave",))
    rolling = read_published(warehouse, "enps_rolling", ("window_days", "window_end"))
    assert not set(waves) & set(rolling)
    return {**waves, **rolling}


def assert_nothing_recovered(published: dict, links: dict | None = None) -> None:
    hidden = sum(v["responses"] is None for cells in published.values() for v in cells.values())
    assert hidden > 0, "nothing is hidden: the attack proves nothing"
    for measure in MEASURES:
        assert difference_attack(published, measure) == {}, measure
    # the category counts share the equations of `responses`, so they are no more determined;
    # (a hidden residual of >= k responses with, say, 0 promoters is published like any group
    # of >= k: k-anonymity does not hide a group's unanimity)
    assert linear_program_attack(published, "responses", links) == {}


# -- the attacks work ------------------------------------------------------------------------


def test_attacks_recover_groups_from_a_naive_publication(fixture_run: CliRun) -> None:
    naive = naive_publication(fixture_run.warehouse)
    by_difference = difference_attack(naive)
    # People (3 responses in 2025-Q1) = all employees - Engineering - Sales
    people_q1 = (("2025-Q1",), ("department", "People", None, None, None))
    assert by_difference[people_q1] == 3
    assert linear_program_attack(naive)[people_q1] == pytest.approx(3)


def test_linear_program_attack_sees_through_non_negativity() -> None:
    # a residual of 0 over two hidden groups: each must be 0, which differencing alone misses
    published = {
        ("w",): {
            ALL: {"responses": 10, "promoters": 5, "passives": 0, "detractors": 5},
            ("location", None, None, "A", None): dict.fromkeys(MEASURES),
            ("location", None, None, "B", None): dict.fromkeys(MEASURES),
            ("location", None, None, "C", None): {
                "responses": 10,
                "promoters": 5,
                "passives": 0,
                "detractors": 5,
            },
        }
    }
    assert difference_attack(published) == {}
    assert set(linear_program_attack(published).values()) == {0.0}


# -- the real marts resist -------------------------------------------------------------------


def test_published_waves_resist_both_attacks(fixture_run: CliRun) -> None:
    assert_nothing_recovered(
        read_published(fixture_run.warehouse, "enps_by_wave", ("survey_wave",))
    )


def test_rolling_windows_resist_alone_and_combined_with_the_waves(fixture_run: CliRun) -> None:
    warehouse = fixture_run.warehouse
    assert_nothing_recovered(
        read_published(warehouse, "enps_rolling", ("window_days", "window_end"))
    )
    links = wave_links(warehouse)
    assert links[(365, dt.date(2025, 6, 30))] == [("2025-Q1",), ("2025-Q2",)]
    assert_nothing_recovered(joint_publication(warehouse), links)


def test_fixture_suppression_is_the_expected_one(fixture_run: CliRun) -> None:
    with duckdb.connect(str(fixture_run.warehouse), read_only=True) as conn:
        visible = conn.execute(
            "select grouping, coalesce(department, location, tenure_band, ''), "
            "coalesce(team, ''), responses from marts.enps_by_wave "
            "where survey_wave = '2025-Q1' and not suppressed order by all"
        ).fetchall()
    assert visible == [
        ("all", "", "", 36),
        ("department", "Sales", "", 17),
        ("department_team", "Engineering", "Platform", 8),
        ("department_team", "Sales", "SMB", 12),
        ("location", "Amsterdam", "", 19),
        ("tenure_band", "1-3y", "", 15),
        ("tenure_band", "<1y", "", 10),
    ]


# -- a random stress test: many waves of tiny, uneven teams ----------------------------------


def _write_random_waves(landing: Path, waves: int, seed: int) -> None:
    rng = random.Random(seed)
    with open(REPO / "seeds" / "department_headcount.csv", encoding="utf-8") as handle:
        org = sorted({(r["department"], r["team"], r["location"]) for r in csv.DictReader(handle)})
    org += [("Sales", "unknown", "Remote"), ("Pop-up", "Lab", "Lisbon")]
    bands = ["<1y", "1-3y", "3-5y", "5y+", "unknown"]
    rows = []
    for wave in range(waves):
        year, month = 2024 + wave // 12, wave % 12 + 1
        for department, team, location in org:
            size = rng.choice([0, 0, 1, 1, 2, 2, 3, 4, 5, 6, 7, 9, 12, 16])
            for _ in range(size):
                rows.append(
                    [
                        f"R{len(rows):06d}",
                        f"{year}-{month:02d}",
                        f"{year}-{month:02d}-{rng.randint(3, 20):02d}T10:00:00Z",
                        str(rng.choice([0, 3, 5, 6, 7, 8, 9, 9, 10, 10])),
                        rng.choice(["", "fine", "meh"]),
                        department,
                        team,
                        location,
                        rng.choice(bands),
                    ]
                )
    (landing / "enps").mkdir(parents=True)
    with open(landing / "enps" / "random.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "response_id",
                "survey_wave",
                "submitted_at",
                "score",
                "comment",
                "department",
                "team",
                "location",
                "tenure_band",
            ]
        )
        writer.writerows(rows)


@pytest.fixture(scope="module")
def random_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse with 18 monthly waves of random tiny teams, built by dbt with k = 4."""
    from orchestration.landing.feeds import ENPS_RESPONSES
    from orchestration.landing.loader import load_feed
    from orchestration.quality.verdicts import ensure_batch_validations_table

    root = tmp_path_factory.mktemp("enps_random")
    landing = root / "landing"
    _write_random_waves(landing, waves=18, seed=20251122)
    warehouse = root / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as conn:
        load_feed(conn, landing, ENPS_RESPONSES, load_id="random")
        ensure_batch_validations_table(conn)  # no raw suite ran: nothing is held back
    completed = subprocess.run(
        [
            str(Path(sys.executable).parent / "dbt"),
            "build",
            "--select",
            "department_headcount stg_survey__landing_manifest +enps_by_wave +enps_rolling "
            "enps_comments",
            "--indirect-selection",
            "cautious",
            "--vars",
            "{enps_min_group_size: 4, enps_min_comment_group_size: 8}",
            "--target-path",
            str(root / "target"),
        ],
        cwd=REPO,
        env={**os.environ, "NPS_WAREHOUSE": str(warehouse), "DBT_PROFILES_DIR": str(REPO)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout[-4000:]
    return warehouse


def test_random_waves_resist_both_attacks(random_warehouse: Path) -> None:
    published = read_published(random_warehouse, "enps_by_wave", ("survey_wave",))
    assert len(published) == 18
    assert {v["responses"] for cells in published.values() for v in cells.values()} - {None}
    assert (
        min(
            v["responses"] for cells in published.values() for v in cells.values() if v["responses"]
        )
        >= 4
    )  # the k given on the command line
    assert_nothing_recovered(published)
    # and the naive publication of the same data does leak: the data is a real challenge
    assert difference_attack(naive_publication(random_warehouse))


def test_random_rolling_windows_resist_combined_with_the_waves(random_warehouse: Path) -> None:
    links = wave_links(random_warehouse)
    assert max(len(waves) for waves in links.values()) == 12  # 365 days = 12 monthly waves
    assert_nothing_recovered(joint_publication(random_warehouse), links)


def test_random_comments_come_from_large_enough_pools(random_warehouse: Path) -> None:
    with duckdb.connect(str(random_warehouse), read_only=True) as conn:
        small = conn.execute(
            "select c.survey_wave, c.grouping, c.department, c.team, g.responses "
            "from marts.enps_comments as c join people_restricted.int_enps_wave_groups as g "
            "on g.survey_wave = c.survey_wave and g.grouping = c.grouping "
            "and coalesce(g.department, '') = coalesce(c.department, '') "
            "and coalesce(g.team, '') = coalesce(c.team, '') "
            "where g.responses < 8 or g.is_suppressed"
        ).fetchall()
        released = conn.execute("select count(*) from marts.enps_comments").fetchall()[0][0]
    assert small == []
    assert released > 0
