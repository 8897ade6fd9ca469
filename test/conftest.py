"""Fixtures for the cross-package tests: real daqlab servers on free ports."""
from __future__ import annotations

import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLI = ROOT / "daq-server" / "dist" / "src" / "cli.js"
sys.path.insert(0, str(Path(__file__).resolve().parent))  # simref

from procs import ReadyProcess  # noqa: E402
from slurm_cluster import slurm_cluster, slurm_users  # noqa: E402,F401 - one local Slurm per session (test_jobs*)
from pg_cluster import postgres_cluster  # noqa: E402,F401 - one PostgreSQL cluster per session (test_catalogue)


class ServerProcess(ReadyProcess):
    """A daqlab-server subprocess; `url` is its WebSocket URL, `log` what it printed."""

    def __init__(self, *args: str, env: dict | None = None):
        if not CLI.exists():
            raise RuntimeError(f"{CLI} is missing: run scripts/setup.sh (npm run build) first")
        # clients may name files under the temp folder (pytest's tmp_path) and the repository (notebooks);
        # each server keeps its persistent state in a folder of its own unless the test names one
        defaults = {
            "DAQLAB_DATA_ROOTS": os.pathsep.join([tempfile.gettempdir(), str(ROOT)]),
            "DAQLAB_STATE_DIR": tempfile.mkdtemp(prefix="daqlab-state-"),
        }
        super().__init__(["node", str(CLI), "--port", "0", *args], r"listening on (ws://\S+)",
                         env={**defaults, **(env or {})}, what="daqlab-server")
        self.url: str = self.ready.group(1)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1].split("/")[0])

    @property
    def http(self) -> str:
        return self.url.replace("ws://", "http://").removesuffix("/ws")

    def get(self, path: str, token: str | None = None):
        req = urllib.request.Request(self.http + path)
        if token:
            req.add_header("Authorization", f"token {token}")
        return urllib.request.urlopen(req, timeout=10)


@pytest.fixture(scope="session")
def server():
    """One server shared by the tests that do not need a special configuration."""
    s = ServerProcess("--memory-budget", "6G")
    yield s
    s.stop()


@pytest.fixture
def make_server():
    started: list[ServerProcess] = []

    def make(*args: str, env: dict | None = None) -> ServerProcess:
        s = ServerProcess(*args, env=env)
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()


@pytest.fixture
def client(server):
    import daqlab

    c = daqlab.connect(server.url)
    yield c
    c.close()


def wait_until(predicate, timeout=10.0, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False
