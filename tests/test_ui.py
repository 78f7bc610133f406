"""`make ui`: dagster dev on 127.0.0.1 serves the asset graph with groups, owners and checks, and
a backfill launched from the UI (its GraphQL API) is run by the daemon and repairs the days it
covers (issue 6)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from tests.conftest import REPO

GRAPH_QUERY = """
{ assetNodes { assetKey { path } groupName description isMaterializable
    owners { ... on TeamAssetOwner { team } }
    assetChecksOrError { ... on AssetChecks { checks { name } } } } }
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on `port`, read from the kernel's tables."""
    addresses = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        lines = Path(table).read_text().splitlines()[1:] if Path(table).exists() else []
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.rsplit(":", 1)
            if state == "0A" and int(port_hex, 16) == port:
                if len(address) == 8:
                    addresses.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
                else:
                    addresses.add(address)  # IPv6: any value here is a failure to look at
    return addresses


def _graphql(port: int, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


BACKFILL_MUTATION = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on UnauthorizedError { message }
  }
}
"""
BACKFILL_QUERY = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    ... on PartitionBackfill { status runs(limit: 10) { runId status tags { key value } } }
  }
}
"""
DAYS = ("2025-03-01", "2025-03-02", "2025-03-03")
# it stops in seconds on a quiet machine; the code servers and a run the daemon launched also stop
# on SIGTERM and can take a minute or more on a loaded one
DAGSTER_DEV_STOP_SECONDS = 180
REPAIRED_DAY = DAYS[1]
COMPARED_MARTS = ("fct_nps_responses", "nps_daily", "nps_rolling")


@dataclass
class DagsterDev:
    port: int
    warehouse: Path
    log: Path
    process: subprocess.Popen

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        return _graphql(self.port, query, variables)

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def asset_nodes(self, wait_seconds: float = 180) -> list[dict]:
        """The asset graph, once the webserver answers (it starts after the fixture)."""
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                nodes = self.graphql(GRAPH_QUERY)["assetNodes"]
                if nodes:
                    return nodes
            except OSError:
                pass
            assert self.process.poll() is None, "dagster dev exited: " + self.log_tail()
            assert time.monotonic() < deadline, "dagster dev did not answer"
            time.sleep(1)


def _write_landing(landing: Path) -> None:
    daily = landing / "nps" / "daily"
    daily.mkdir(parents=True)
    for day in DAYS:
        path = daily / f"{day}.csv"
        path.write_text(
            "response_id,survey_id,respondent_id,submitted_at,score,branch_id\n"
            + "".join(
                f"{day}-{i},SRV-STORE,C-{i % 7},{day}T1{i % 10}:00:00Z,{(i * 7) % 11},BR-0001\n"
                for i in range(40)
            )
        )
        stamp = time.time() - 3600
        os.utime(path, (stamp, stamp))


def _marts(warehouse: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return {
            name: conn.execute(f"select * from marts.{name} order by all").fetchall()
            for name in COMPARED_MARTS
        }


def _sigint_by_default() -> None:
    """dagster dev maps SIGTERM to its SIGINT handler, and a process started in the background
    by a non-interactive shell (a CI script, `nohup ... &`) inherits SIGINT ignored: dagster dev
    would then ignore SIGTERM too."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="module")
def dagster_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterDev]:
    """A warehouse built by `nps-warehouse run` from three days of files, then `dagster dev`
    (webserver and daemon, as `make ui` starts them) on the same Dagster home."""
    root = tmp_path_factory.mktemp("ui")
    port = _free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(root / "dagster_home"),
        "NPS_LANDING_DIR": str(root / "landing"),
        "NPS_WAREHOUSE": str(root / "warehouse.duckdb"),
        "NPS_PUBLISH_DIR": str(root / "published"),
        "NPS_REPORT_DIR": str(root / "reports"),
        "NPS_LANDING_SETTLE_SECONDS": "0",
    }
    _write_landing(root / "landing")
    bin_dir = Path(sys.executable).parent
    first = subprocess.run(
        [str(bin_dir / "nps-warehouse"), "run"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    log = root / "dagster_dev.log"
    with log.open("w") as sink:
        # its own process group: dagster dev stops cleanly only when the whole group gets SIGTERM
        process = subprocess.Popen(
            [
                str(bin_dir / "dagster"),
                "dev",
                "-m",
                "orchestration.definitions",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=REPO,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_sigint_by_default,
        )
    dev = DagsterDev(port, root / "warehouse.duckdb", log, process)
    try:
        yield dev
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=DAGSTER_DEV_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail(
                f"dagster dev did not stop within {DAGSTER_DEV_STOP_SECONDS} s of SIGTERM; "
                f"its log ends:\n{log.read_text()[-3000:]}"
            )


# the timeout includes the module fixture's first pipeline run
@pytest.mark.timeout(900)
def test_dagster_dev_shows_the_graph_and_checks(dagster_dev: DagsterDev) -> None:
    nodes = dagster_dev.asset_nodes()
    by_key = {"/".join(n["assetKey"]["path"]): n for n in nodes}
    groups = {n["groupName"] for n in nodes}
    assert {"raw", "reference", "staging", "intermediate", "marts"} <= groups
    for key in ("raw/nps_responses", "marts/fct_nps_responses", "marts/nps_daily"):
        node = by_key[key]
        assert node["description"]
        assert node["owners"]
        assert node["assetChecksOrError"]["checks"], key
    # nothing listens beyond loopback
    assert _listening_addresses(dagster_dev.port) == {"127.0.0.1"}


@pytest.mark.timeout(1200)
def test_ui_backfill_is_run_by_the_daemon_and_repairs_its_days(dagster_dev: DagsterDev) -> None:
    built = _marts(dagster_dev.warehouse)
    assert any(str(row[0]) == REPAIRED_DAY for row in built["nps_daily"]), built["nps_daily"]
    # damage one day of the incremental marts: only a backfill of that day repairs it (the
    # files are loaded, so no sensor or schedule run would touch it)
    with duckdb.connect(str(dagster_dev.warehouse)) as conn:
        conn.execute("delete from marts.fct_nps_responses where response_date = ?", [REPAIRED_DAY])
        conn.execute("delete from marts.nps_daily where response_date = ?", [REPAIRED_DAY])
    assert _marts(dagster_dev.warehouse) != built
    nodes = dagster_dev.asset_nodes()
    # what the UI sends for "Materialize all" over a partition range
    launched = dagster_dev.graphql(
        BACKFILL_MUTATION,
        {
            "params": {
                "assetSelection": [
                    {"path": n["assetKey"]["path"]} for n in nodes if n["isMaterializable"]
                ],
                "partitionNames": [REPAIRED_DAY],
                "fromFailure": False,
                "tags": [],
            }
        },
    )["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    # three runs: the unpartitioned models the facts are built from, the facts, the other marts
    deadline = time.monotonic() + 900
    while True:
        backfill = dagster_dev.graphql(BACKFILL_QUERY, {"id": launched["backfillId"]})[
            "partitionBackfillOrError"
        ]
        if backfill["status"] not in ("REQUESTED", "CANCELING", "FAILING"):
            break
        assert time.monotonic() < deadline, f"backfill still {backfill}: {dagster_dev.log_tail()}"
        time.sleep(2)
    assert backfill["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), (
        backfill,
        dagster_dev.log_tail(),
    )
    runs = backfill["runs"]
    assert runs and all(run["status"] == "SUCCESS" for run in runs), runs
    ranges = [
        {t["key"]: t["value"] for t in run["tags"] if "partition" in t["key"]} for run in runs
    ]
    assert {
        "dagster/asset_partition_range_start": REPAIRED_DAY,
        "dagster/asset_partition_range_end": REPAIRED_DAY,
    } in ranges, ranges
    # the daemon's runs recomputed the day: the marts equal the full build again
    assert _marts(dagster_dev.warehouse) == built
