"""The benchmark: the real pipeline against the bare-DuckDB floor, in one invocation.

For each size (`python -m bench.run --sizes 1m 10m`, or `make bench SIZES="1m 10m"`):

1. generate (or reuse) the landing data (bench/generate.py);
2. `full`: `nps-warehouse run` over the history (everything but the last day) into an empty
   warehouse, and bench/bare.sql over the same files;
3. `no-change`: `nps-warehouse run` again, nothing changed;
4. `new day`: the last day's files added on top of the full history, `nps-warehouse run`;
   bare.sql recomputes everything from all files (it has no state);
5. `one day, empty`: the same one day of files alone into an empty warehouse, and bare.sql
   over them.

`--scenarios` (`make bench SCENARIOS=...`) runs some of them: full, no-change, new-day, one-day
(no-change and new-day run the full one first), e.g. `--scenarios full` at 100m.

Each command runs as a subprocess; wall time is measured around it and peak memory is the
largest sum of VmRSS over the subprocess and all its descendants (dbt runs in its own
process), polled from /proc every 0.1 s; each phase of a run (see `pipeline_phases`) reports
the peak of the samples taken during it. After every pipeline run its numbers (accepted rows,
daily branch counts, rolling 30/90-day region counts) are compared with bare.sql's; any
difference is printed and the benchmark exits non-zero. A failed pipeline run (non-zero exit)
fails the benchmark too. Prints one table per size and writes it to `<work>/results.md` and
`<work>/results.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from bench.generate import BenchData, generate
from orchestration.settings import PARQUET_LAYOUT_ENV, PARQUET_LAYOUTS, parquet_layout_from_env

REPO = Path(__file__).resolve().parent.parent
DEFAULT_WORK = REPO / "data" / "bench"
POLL_SECONDS = 0.1
GIB = 1024**3
ROLLING_WINDOWS = (30, 90)


@dataclass
class Measurement:
    seconds: float
    peak_rss: int  # bytes, whole process tree
    returncode: int
    output: str = ""
    started_at: float = 0.0  # epoch seconds
    # (epoch seconds, whole-tree RSS bytes) per poll: which phase the peak belongs to
    samples: list[tuple[float, int]] = field(default_factory=list, repr=False)

    def peak_between(self, start: float, end: float) -> int:
        """The largest RSS sampled from `start` to `end` (epoch seconds); 0 if none."""
        return max((rss for at, rss in self.samples if start <= at <= end), default=0)


@dataclass
class Phase:
    name: str
    seconds: float
    peak_rss: int = 0  # bytes, whole process tree, during the phase (0: not measured)


@dataclass
class Scenario:
    name: str
    pipeline: Measurement
    bare: Measurement | None = None
    mismatches: list[str] = field(default_factory=list)
    note: str = ""
    # where the pipeline's time went: Dagster steps, and the slowest dbt nodes
    phases: list[Phase] = field(default_factory=list)
    dbt_nodes: list[Phase] = field(default_factory=list)


# -- measuring ----------------------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # the command name may hold spaces and parentheses: fields follow the last ")"
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            for line in handle:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_rss(root: int) -> int:
    """Resident memory of `root` and every descendant, in bytes."""
    tree = _children()
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += _rss(pid)
        stack.extend(tree.get(pid, ()))
    return total


def measure(command: list[str], env: dict[str, str] | None = None) -> Measurement:
    """Run `command`, returning its wall time and the peak RSS of its process tree."""
    started_at = time.time()
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(process.stdout), daemon=True)
    reader.start()
    samples: list[tuple[float, int]] = []
    while process.poll() is None:
        samples.append((time.time(), tree_rss(process.pid)))
        time.sleep(POLL_SECONDS)
    seconds = time.perf_counter() - started
    reader.join()
    peak = max((rss for _, rss in samples), default=0)
    return Measurement(
        round(seconds, 2), peak, process.returncode, "".join(output), started_at, samples
    )


# -- the two contenders -------------------------------------------------------------------------


def _pipeline_command(landing: Path, warehouse: Path) -> list[str]:
    script = Path(sys.executable).parent / "nps-warehouse"
    base = [str(script)] if script.exists() else [sys.executable, "-m", "orchestration.cli"]
    return [*base, "run", "--landing", str(landing), "--warehouse", str(warehouse)]


def run_pipeline(landing: Path, warehouse: Path) -> Measurement:
    home = warehouse.parent / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    env = {"DAGSTER_HOME": str(home), "NPS_REPORT_DIR": str(warehouse.parent / "reports")}
    return measure(_pipeline_command(landing, warehouse), env)


def run_bare(landings: list[Path], out: Path) -> Measurement:
    command = [sys.executable, "-m", "bench.bare", "--out", str(out)]
    for landing in landings:
        command += ["--landing", str(landing)]
    return measure(command)


# -- where the pipeline's time went ----------------------------------------------------------------

DBT_NODES_SHOWN = 8


def pipeline_phases(
    dagster_home: Path, measured: Measurement, dbt_target: Path = REPO / "target"
) -> tuple[list[Phase], list[Phase]]:
    """The measured command's time and peak memory by phase: before the Dagster run's first step
    (imports, the pending-file scan, dbt parse, run planning), each step, and after the last
    step (Data Docs, summary); and the slowest dbt nodes of the run (each invocation's
    run_results.json).
    Nothing when the command started no Dagster run (a skipped re-run)."""
    import dagster as dg  # seconds to import: only after a measured run, never during one

    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        records = instance.get_run_records(limit=1)
        if not records or records[0].create_timestamp.timestamp() < measured.started_at:
            return [], []
        run_id = records[0].dagster_run.run_id
        steps = sorted(
            (s for s in instance.get_run_step_stats(run_id) if s.start_time and s.end_time),
            key=lambda s: s.start_time,
        )
    if not steps:
        return [], []
    ended_at = measured.started_at + measured.seconds
    spans = [("before the first step", measured.started_at, steps[0].start_time)]
    spans += [(s.step_key, s.start_time, s.end_time) for s in steps]
    spans.append(("after the last step", steps[-1].end_time, ended_at))
    phases = [
        Phase(name, end - start, measured.peak_between(start, end)) for name, start, end in spans
    ]
    nodes = []
    # dagster-dbt gives each invocation a target folder named after the op and the run
    for results in dbt_target.glob(f"*-{run_id[:7]}-*/run_results.json"):
        for result in json.loads(results.read_text()).get("results", []):
            kind, _, *name = result["unique_id"].split(".")
            nodes.append(Phase(f"{kind} {'.'.join(name)}", result.get("execution_time") or 0))
    nodes.sort(key=lambda n: -n.seconds)
    rounded = [Phase(p.name, round(p.seconds, 1), p.peak_rss) for p in phases]
    return rounded, [Phase(n.name, round(n.seconds, 1)) for n in nodes[:DBT_NODES_SHOWN]]


# -- the numbers must agree -----------------------------------------------------------------------

_PIPELINE_DAILY = """
    select response_date, branch_id,
        sum(responses) as responses, sum(promoters) as promoters, sum(detractors) as detractors
    from wh.marts.nps_daily
    group by all
"""
_PIPELINE_ROLLING = f"""
    select calendar_date, region, window_days, responses, promoters, detractors, nps
    from wh.marts.nps_rolling
    where hierarchy_level = 'region' and segment_type = 'all' and variant = 'all_responses'
        and window_days in {ROLLING_WINDOWS} and responses > 0
"""


def compare(warehouse: Path, bare_results: Path) -> list[str]:
    """Differences between the pipeline's marts and bare.sql's results (empty when equal)."""
    conn = duckdb.connect()
    problems: list[str] = []
    try:
        conn.execute(f"attach '{warehouse}' as wh (read_only)")
        conn.execute(f"attach '{bare_results}' as bare (read_only)")
        accepted = conn.execute("select count(*) from wh.marts.fct_nps_responses").fetchall()[0][0]
        expected = conn.execute("select accepted from bare.bare_accepted").fetchall()[0][0]
        if accepted != expected:
            problems.append(f"accepted rows: pipeline {accepted}, bare {expected}")
        checks = {
            "daily branch NPS": (
                _PIPELINE_DAILY,
                "select response_date, branch_id, responses, promoters, detractors "
                "from bare.bare_daily_branch",
                "response_date, branch_id",
            ),
            "rolling region NPS": (
                _PIPELINE_ROLLING,
                "select calendar_date, region, window_days, responses, promoters, detractors, "
                "nps from bare.bare_rolling_region",
                "calendar_date, region, window_days",
            ),
        }
        for name, (pipeline_sql, bare_sql, keys) in checks.items():
            # nps compared to 1e-9: both sides compute it from the same integer counts
            rounded = "* replace (round(nps, 9) as nps)" if "nps" in bare_sql else "*"
            diff_sql = f"""
                with p as (select {rounded} from ({pipeline_sql})),
                     b as (select {rounded} from ({bare_sql}))
                (select 'pipeline only' as side, * from (select * from p except all
                    select * from b))
                union all
                (select 'bare only' as side, * from (select * from b except all
                    select * from p))
                order by {keys}, side
            """
            rows = conn.execute(diff_sql).fetchall()
            if rows:
                sample = "; ".join(str(r) for r in rows[:6])
                problems.append(f"{name}: {len(rows)} differing rows, e.g. {sample}")
    except duckdb.Error as exc:
        problems.append(f"comparison failed: {exc}")
    finally:
        conn.close()
    return problems


# -- scenarios ------------------------------------------------------------------------------------


def _link_tree(source: Path, target: Path) -> None:
    """Make `target` hold `source`'s files as symlinks (the data is generated once per size)."""
    for path in sorted(source.rglob("*")):
        if path.is_file():
            link = target / path.relative_to(source)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(path)


def _pipeline_failure(measurement: Measurement) -> list[str]:
    if measurement.returncode == 0:
        return []
    tail = "\n    ".join(measurement.output.strip().splitlines()[-15:])
    return [f"nps-warehouse run exited {measurement.returncode}:\n    {tail}"]


SCENARIOS = ("full", "no-change", "new-day", "one-day")


def scenarios_to_run(requested: list[str]) -> list[str]:
    """The scenarios in their order, with `full` added when one that builds on it is asked for
    (no-change and new-day run on top of the full run's warehouse)."""
    wanted = set(requested)
    if wanted & {"no-change", "new-day"}:
        wanted.add("full")
    return [name for name in SCENARIOS if name in wanted]


def run_size(
    data: BenchData, work: Path, log, selected: list[str] | tuple[str, ...] = SCENARIOS
) -> list[Scenario]:
    runs = work / "runs"
    shutil.rmtree(runs, ignore_errors=True)
    landing = runs / "landing"
    _link_tree(data.history, landing)
    full_dir, day_dir = runs / "full", runs / "one_day"
    full_dir.mkdir(parents=True)
    day_dir.mkdir(parents=True)
    scenarios: list[Scenario] = []

    def pipeline(name: str, landing_dir: Path, warehouse: Path) -> Scenario:
        log(f"  {name}: nps-warehouse run ...")
        scenario = Scenario(name, run_pipeline(landing_dir, warehouse))
        scenario.mismatches += _pipeline_failure(scenario.pipeline)
        scenarios.append(scenario)
        try:
            scenario.phases, scenario.dbt_nodes = pipeline_phases(
                warehouse.parent / "dagster_home", scenario.pipeline
            )
        except Exception as exc:  # noqa: BLE001 - the breakdown is a help, the measurement stands
            log(f"  {name}: phases not read: {exc}")
        if scenario.phases:
            log(f"  {name}: {_phase_text(scenario.phases)}")
        # as it happens too: a long benchmark interrupted still says what it measured
        log(
            f"  {name}: {scenario.pipeline.seconds:.1f} s, peak "
            f"{_gib(scenario.pipeline.peak_rss)} GiB, exit {scenario.pipeline.returncode}"
        )
        return scenario

    def bare(scenario: Scenario, landings: list[Path], warehouse: Path) -> None:
        log(f"  {scenario.name}: bare.sql ...")
        results = warehouse.parent / f"bare_{scenario.name.replace(' ', '_')}.duckdb"
        scenario.bare = run_bare(landings, results)
        log(
            f"  {scenario.name}: bare.sql {scenario.bare.seconds:.1f} s, peak "
            f"{_gib(scenario.bare.peak_rss)} GiB"
        )
        if scenario.bare.returncode:
            scenario.mismatches.append(f"bare.sql failed: {scenario.bare.output[-2000:]}")
        else:
            scenario.mismatches += compare(warehouse, results)
        log(f"  {scenario.name}: numbers equal: {'yes' if not scenario.mismatches else 'NO'}")

    if "full" in selected:
        full = pipeline("full", landing, full_dir / "warehouse.duckdb")
        bare(full, [data.history], full_dir / "warehouse.duckdb")
    if "no-change" in selected:
        unchanged = pipeline("no-change", landing, full_dir / "warehouse.duckdb")
        unchanged.bare = full.bare
        unchanged.mismatches += compare(
            full_dir / "warehouse.duckdb", full_dir / "bare_full.duckdb"
        )
        if "skipped" in unchanged.pipeline.output.lower():
            unchanged.note = "dbt, GX and publishing skipped"
    if "new-day" in selected:
        _link_tree(data.new_day_dir, landing)
        new_day = pipeline("new day", landing, full_dir / "warehouse.duckdb")
        bare(new_day, [data.history, data.new_day_dir], full_dir / "warehouse.duckdb")
    if "one-day" in selected:
        day_landing = runs / "landing_one_day"
        _link_tree(data.new_day_dir, day_landing)
        one_day = pipeline("one day, empty", day_landing, day_dir / "warehouse.duckdb")
        bare(one_day, [data.new_day_dir], day_dir / "warehouse.duckdb")
    if "new-day" in selected and "one-day" in selected:
        new_day.note = (
            f"{new_day.pipeline.seconds / one_day.pipeline.seconds:.2f}x the one-day run "
            "on an empty warehouse (target <= 1.3x)"
        )
    return scenarios


# -- reporting ------------------------------------------------------------------------------------


def _gib(size: int) -> str:
    return f"{size / GIB:.2f}"


def _phase_text(phases: list[Phase]) -> str:
    return ", ".join(
        f"{p.name} {p.seconds:.0f} s" + (f" ({_gib(p.peak_rss)} GiB)" if p.peak_rss else "")
        for p in phases
    )


def table(size: str, data: BenchData, scenarios: list[Scenario]) -> str:
    lines = [
        f"### {size}: {data.responses:,} responses, {data.files_history} history files + "
        f"{data.files_new_day} new-day files, Parquet layout `{parquet_layout_from_env()}`",
        "",
        "| scenario | pipeline s | pipeline peak GiB | bare s | bare peak GiB | pipeline / bare "
        "| numbers equal | note |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for s in scenarios:
        bare_s = f"{s.bare.seconds:.1f}" if s.bare else "-"
        bare_m = _gib(s.bare.peak_rss) if s.bare else "-"
        ratio = f"{s.pipeline.seconds / s.bare.seconds:.2f}" if s.bare else "-"
        equal = "yes" if not s.mismatches else "NO"
        lines.append(
            f"| {s.name} | {s.pipeline.seconds:.1f} | {_gib(s.pipeline.peak_rss)} | {bare_s} | "
            f"{bare_m} | {ratio} | {equal} | {s.note} |"
        )
    broken_down = [s for s in scenarios if s.phases]
    if broken_down:
        lines += [
            "",
            "Where the pipeline's time went (Dagster steps with their peak memory, slowest dbt "
            "nodes):",
            "",
        ]
    for s in broken_down:
        lines.append(f"- {s.name}: {_phase_text(s.phases)}")
        if s.dbt_nodes:
            lines.append(f"  - slowest dbt nodes: {_phase_text(s.dbt_nodes)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--sizes", nargs="+", default=["1m"], help="e.g. 1m 10m 100m")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="data and runs")
    parser.add_argument(
        "--scenarios",
        nargs="+",
        choices=SCENARIOS,
        default=list(SCENARIOS),
        help="which to run (default all; no-change and new-day run the full one first), e.g. "
        "`--scenarios full` for a 100m run",
    )
    parser.add_argument(
        "--parquet-layout",
        choices=PARQUET_LAYOUTS,
        default=None,
        help="the published Parquet's layout in every pipeline run "
        f"(default ${PARQUET_LAYOUT_ENV}, else file)",
    )
    args = parser.parse_args(argv)
    if args.parquet_layout:
        os.environ[PARQUET_LAYOUT_ENV] = args.parquet_layout  # the pipeline runs inherit it

    def log(message: str) -> None:
        # a command line: it talks to a person on stdout
        print(f"{datetime.now(UTC):%H:%M:%S} {message}", flush=True)  # noqa: T201

    sizes = [s for text in args.sizes for s in text.split()]
    tables, results, failed = [], {}, False
    for size in sizes:
        work = args.work.resolve() / size
        log(f"{size}: generating landing data (reused when present) ...")
        data = generate(size, work / "data")
        log(f"{size}: {data.responses:,} responses ({data.seconds:.0f} s to generate)")
        scenarios = run_size(data, work, log, scenarios_to_run(args.scenarios))
        tables.append(table(size, data, scenarios))
        results[size] = [asdict(s) | {"pipeline": _summary(s.pipeline)} for s in scenarios]
        for s in scenarios:
            results[size][scenarios.index(s)]["bare"] = _summary(s.bare) if s.bare else None
            for problem in s.mismatches:
                failed = True
                log(f"MISMATCH {size} {s.name}: {problem}")
        print("\n" + tables[-1] + "\n", flush=True)  # noqa: T201
    args.work.mkdir(parents=True, exist_ok=True)
    (args.work / "results.md").write_text("\n\n".join(tables) + "\n")
    (args.work / "results.json").write_text(json.dumps(results, indent=2))
    if failed:
        print("BENCHMARK FAILED: see MISMATCH lines above", file=sys.stderr)  # noqa: T201
        return 1
    return 0


def _summary(m: Measurement) -> dict:
    return {"seconds": m.seconds, "peak_rss_gib": round(m.peak_rss / GIB, 3), "rc": m.returncode}


if __name__ == "__main__":
    raise SystemExit(main())
