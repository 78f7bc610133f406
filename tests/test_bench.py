"""The benchmark's own parts at a tiny size: generator, bare script, equality check, RSS probe.

No timing is asserted here: the benchmark measures, `make bench` reports (bench/README.md).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # bench/ is a folder of the repository, not an installed package

from bench import run  # noqa: E402
from bench.bare import run_bare  # noqa: E402
from bench.generate import generate, parse_size, prefixed  # noqa: E402
from bench.run import Measurement, compare, measure, pipeline_phases  # noqa: E402


def _accepted(results: Path) -> int:
    with duckdb.connect(str(results), read_only=True) as conn:
        return conn.execute("select accepted from bare_accepted").fetchall()[0][0]


@pytest.fixture(scope="module")
def replicated(tmp_path_factory: pytest.TempPathFactory):
    """2 copies of a 5k-row demo year, as CSV/JSONL/Parquet and as Parquet only."""
    root = tmp_path_factory.mktemp("bench")
    mixed = generate("5kx2", root / "mixed")
    parquet = generate("5kx2-parquet", root / "parquet")
    return root, mixed, parquet


def test_scenarios_run_in_order_and_the_full_run_comes_first_when_needed() -> None:
    assert run.scenarios_to_run(list(run.SCENARIOS)) == ["full", "no-change", "new-day", "one-day"]
    assert run.scenarios_to_run(["new-day"]) == ["full", "new-day"]
    assert run.scenarios_to_run(["one-day", "no-change"]) == ["full", "no-change", "one-day"]
    assert run.scenarios_to_run(["one-day"]) == ["one-day"]
    with pytest.raises(SystemExit):
        run.main(["--scenarios", "everything"])


def test_sizes_and_id_prefixes() -> None:
    assert parse_size("1m").copies == 1 and not parse_size("1m").parquet_only
    assert (parse_size("10m").base, parse_size("10m").copies) == (1_000_000, 10)
    assert parse_size("100m").parquet_only
    assert prefixed("  123 ", 2) == "  k2-123 "
    assert prefixed("   ", 2) == "   " and prefixed(None, 2) is None
    assert prefixed("123", 0) == "123"
    with pytest.raises(ValueError):
        parse_size("1.5m")


def test_generated_landing_resembles_exports(replicated) -> None:
    _, mixed, parquet = replicated
    suffixes = {p.suffix for p in mixed.history.rglob("*") if p.is_file()}
    assert suffixes == {".csv", ".parquet", ".jsonl"}
    assert {p.suffix for p in parquet.history.rglob("*") if p.is_file()} == {".parquet"}
    backfill = list(mixed.history.glob("nps/backfill/*.parquet"))
    assert len(backfill) == 1
    daily = [p for p in mixed.history.rglob("*.csv")]
    assert len(daily) > 100  # many small daily files next to one big backfill
    new_day = sorted(p.name for p in mixed.new_day_dir.rglob("*") if p.is_file())
    assert new_day == [f"delivery_{mixed.new_day}.csv", f"store_{mixed.new_day}.csv"]
    assert mixed.responses == 10_000
    assert sum(mixed.expected_quarantined.values()) > 0 and mixed.expected_duplicates > 0


def test_bare_script_counts_what_the_generator_expects(replicated) -> None:
    root, mixed, parquet = replicated
    for data in (mixed, parquet):
        out = root / f"bare_{data.root.name}.duckdb"
        run_bare([data.history, data.new_day_dir], out)
        assert _accepted(out) == data.expected_accepted, data.root.name
    # history alone holds fewer accepted rows than history + the new day
    run_bare([mixed.history], root / "history_only.duckdb")
    assert 0 < _accepted(root / "history_only.duckdb") < mixed.expected_accepted


def _fake_warehouse(path: Path, bare_results: Path) -> None:
    """Marts shaped as the pipeline's, filled from bare.sql's results."""
    with duckdb.connect(str(path)) as conn:
        conn.execute(f"attach '{bare_results}' as bare (read_only)")
        conn.execute("create schema marts")
        conn.execute(
            "create table marts.fct_nps_responses as "
            "select range as response_id from range((select accepted from bare.bare_accepted))"
        )
        conn.execute(
            "create table marts.nps_daily as select response_date, 'SRV-X' as survey_id, "
            "branch_id, responses, promoters, detractors from bare.bare_daily_branch"
        )
        conn.execute(
            "create table marts.nps_rolling as select calendar_date, window_days, "
            "'all_responses' as variant, 'region' as hierarchy_level, 'all' as segment_type, "
            "region, responses, promoters, detractors, nps from bare.bare_rolling_region"
        )


def test_equality_check_passes_on_equal_numbers_and_fails_on_any_difference(
    replicated,
) -> None:
    root, mixed, _ = replicated
    results = root / "bare_mixed.duckdb"
    if not results.exists():
        run_bare([mixed.history, mixed.new_day_dir], results)
    warehouse = root / "fake_warehouse.duckdb"
    _fake_warehouse(warehouse, results)
    assert compare(warehouse, results) == []
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute(
            "update marts.nps_daily set promoters = promoters + 1 "
            "where rowid = (select min(rowid) from marts.nps_daily)"
        )
        conn.execute("delete from marts.fct_nps_responses where response_id = 0")
        conn.execute(
            "update marts.nps_rolling set detractors = detractors + 1, nps = nps - 1 "
            "where rowid = (select max(rowid) from marts.nps_rolling)"
        )
    problems = compare(warehouse, results)
    assert len(problems) == 3, problems
    assert problems[0].startswith("accepted rows: pipeline")
    assert "daily branch NPS: 2 differing rows" in problems[1]
    assert "rolling region NPS: 2 differing rows" in problems[2]


def test_peak_memory_covers_the_whole_process_tree() -> None:
    # the child allocates ~150 MB in a grandchild process: the parent alone stays small
    code = (
        "import subprocess, sys; subprocess.run([sys.executable, '-c', "
        '\'import time; x = bytearray(150 * 2**20); x[::4096] = b"1" * len(x[::4096]); '
        "time.sleep(1.0)'], check=True)"
    )
    measurement = measure([sys.executable, "-c", code])
    assert measurement.returncode == 0
    assert measurement.peak_rss > 150 * 2**20
    assert measurement.seconds >= 1.0
    # the samples behind the peak: it was reached after start-up, not in the first poll
    assert max(rss for _, rss in measurement.samples) == measurement.peak_rss
    first_at = measurement.samples[0][0]
    assert measurement.peak_between(first_at, first_at) < measurement.peak_rss
    assert measurement.peak_between(0, time.time()) == measurement.peak_rss


def test_phases_split_a_measured_dagster_run_into_its_steps(tmp_path: Path) -> None:
    import dagster as dg

    @dg.asset
    def landed() -> int:
        return 1

    @dg.asset
    def modelled(landed: int) -> int:
        return landed + 1

    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    started_at = time.time()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        run_id = dg.materialize([landed, modelled], instance=instance).run_id
        steps = {s.step_key: s for s in instance.get_run_step_stats(run_id)}
    # a sample in the middle of each step: 100 MB while landing, 300 MB while modelling
    samples = [(started_at, 50 * 2**20)] + [
        ((steps[key].start_time + steps[key].end_time) / 2, megabytes * 2**20)
        for key, megabytes in (("landed", 100), ("modelled", 300))
    ]
    measured = Measurement(
        time.time() - started_at, 300 * 2**20, 0, started_at=started_at, samples=samples
    )
    # dagster-dbt's per-invocation target folder: <op>-<run id prefix>-<uuid>
    results = tmp_path / "target" / f"models-{run_id[:7]}-abc1234" / "run_results.json"
    results.parent.mkdir(parents=True)
    results.write_text(
        json.dumps(
            {
                "results": [
                    {"unique_id": "model.nps.fast", "execution_time": 0.5},
                    {"unique_id": "model.nps.slow", "execution_time": 9.0},
                ]
            }
        )
    )

    phases, nodes = pipeline_phases(home, measured, tmp_path / "target")

    assert [p.name for p in phases] == [
        "before the first step",
        "landed",
        "modelled",
        "after the last step",
    ]
    assert all(p.seconds >= 0 for p in phases)
    assert [p.peak_rss // 2**20 for p in phases] == [50, 100, 300, 0]
    # the phases tile the measured time (gaps between steps are tiny; each is rounded)
    assert abs(sum(p.seconds for p in phases) - measured.seconds) < 1.0
    slowest_first = [("model slow", 9.0), ("model fast", 0.5)]  # without the project
    assert [(n.name, n.seconds) for n in nodes] == slowest_first
    # a command that started no run (a skipped re-run) is not given an earlier run's phases
    later = Measurement(0.1, 0, 0, started_at=time.time())
    assert pipeline_phases(home, later, tmp_path / "target") == ([], [])
