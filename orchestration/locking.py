"""One writer at a time: an inter-process lock on the warehouse file.

DuckDB lets one process write a database file. Runs launched by the Dagster daemon are queued
(tag concurrency limit, see orchestration/pipeline.py `ensure_dagster_home`), but a CLI run
executes in its own process, beside the daemon: every run therefore also holds this lock, an
advisory `flock` on `<warehouse>.lock`, from its first step to its end. The kernel releases it
when the process dies, so a run killed half-way never leaves the warehouse locked.
"""

import fcntl
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import dagster as dg

from orchestration.settings import Settings

log = logging.getLogger(__name__)

LOCK_TIMEOUT_ENV = "NPS_LOCK_TIMEOUT_SECONDS"
DEFAULT_LOCK_TIMEOUT_SECONDS = 6 * 3600.0
POLL_SECONDS = 0.5

# held locks of this process: path -> (open file, depth). flock is per open file, so a second
# open() of the same lock file in this process would wait for itself.
_held: dict[str, tuple[IO[str], int]] = {}
_guard = threading.Lock()


class WarehouseLockTimeout(TimeoutError):
    pass


def lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


def lock_timeout() -> float:
    return float(os.environ.get(LOCK_TIMEOUT_ENV) or DEFAULT_LOCK_TIMEOUT_SECONDS)


@contextmanager
def warehouse_lock(warehouse: Path, timeout: float | None = None) -> Iterator[Path]:
    """Hold the warehouse's writer lock; wait up to `timeout` seconds (re-entrant per process)."""
    path = lock_path(warehouse.resolve())
    key = str(path)
    with _guard:
        if key in _held:
            handle, depth = _held[key]
            _held[key] = (handle, depth + 1)
            acquired_here = False
        else:
            acquired_here = True
    if acquired_here:
        handle = _acquire(path, lock_timeout() if timeout is None else timeout)
        with _guard:
            _held[key] = (handle, 1)
    try:
        yield path
    finally:
        with _guard:
            handle, depth = _held[key]
            if depth > 1:
                _held[key] = (handle, depth - 1)
            else:
                del _held[key]
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()


def _acquire(path: Path, timeout: float) -> IO[str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")
    deadline = time.monotonic() + timeout
    waited = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                handle.close()
                raise WarehouseLockTimeout(
                    f"another run still writes {path.with_suffix('')} after {timeout:.0f} s"
                ) from None
            if not waited:
                log.warning("waiting for another run to finish writing (%s)", path)
                waited = True
            time.sleep(POLL_SECONDS)
    # who holds it, for a person looking at the file; the lock itself is the flock
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}\n")
    handle.flush()
    return handle


@dg.resource(
    description=(
        "Holds the warehouse's inter-process writer lock (`<warehouse>.lock`) for the whole run, "
        "so a CLI run and a daemon-launched run never write the DuckDB file at once."
    )
)
def warehouse_writer_lock(init_context: dg.InitResourceContext) -> Iterator[Path]:
    warehouse = Settings.from_env().warehouse_path
    init_context.log.info(f"acquiring the writer lock of {warehouse}")
    with warehouse_lock(warehouse) as path:
        yield path
