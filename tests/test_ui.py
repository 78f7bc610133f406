"""`make ui`: dagster dev on 127.0.0.1 serves the asset graph with groups, owners and checks."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO

GRAPH_QUERY = """
{ assetNodes { assetKey { path } groupName description
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


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


@pytest.mark.timeout(300)
def test_dagster_dev_shows_the_graph_and_checks(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "NPS_LANDING_DIR": str(tmp_path / "landing"),
        "NPS_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
    }
    (tmp_path / "dagster_home").mkdir()
    dagster = Path(sys.executable).parent / "dagster"
    # its own process group: dagster dev stops cleanly only when the whole group gets SIGTERM
    process = subprocess.Popen(
        [
            str(dagster),
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
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        nodes = None
        while time.monotonic() < deadline:
            try:
                nodes = _graphql(port, GRAPH_QUERY)["assetNodes"]
                if nodes:
                    break
            except OSError:
                pass
            assert process.poll() is None, "dagster dev exited"
            time.sleep(1)
        assert nodes, "dagster dev did not answer"
        by_key = {"/".join(n["assetKey"]["path"]): n for n in nodes}
        groups = {n["groupName"] for n in nodes}
        assert {"raw", "reference", "staging", "intermediate", "marts"} <= groups
        for key in ("raw/nps_responses", "marts/fct_nps_responses", "marts/nps_daily"):
            node = by_key[key]
            assert node["description"]
            assert node["owners"]
            assert node["assetChecksOrError"]["checks"], key
        # nothing listens beyond loopback
        assert _listening_addresses(port) == {"127.0.0.1"}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
