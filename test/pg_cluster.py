"""A PostgreSQL cluster of the test session's own, from Debian's packages: initdb and pg_ctl in a temp folder on a free
loopback port, as `nobody` when the tests run as root (PostgreSQL refuses root). Missing binaries fail, never skip."""
from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

_BIN_DIRS = ["/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin", "/usr/local/bin", "/usr/bin"]


def _bin(name: str) -> str:
    for d in _BIN_DIRS:
        if Path(d, name).exists():
            return str(Path(d, name))
    raise RuntimeError(f"{name} not found: install PostgreSQL (apt postgresql; scripts/setup.sh with DAQLAB_SETUP_FOR=test)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="daqlab-pg-"))
        self.port = _free_port()
        self._as = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"] if os.geteuid() == 0 else []
        if self._as:
            os.chown(self.dir, 65534, 65534)
            self.dir.chmod(0o700)
        data = self.dir / "data"
        self._data = data
        self._run([_bin("initdb"), "-D", str(data), "-U", "daqlab", "-A", "trust", "--no-sync", "-E", "UTF8"])
        self._run([_bin("pg_ctl"), "-D", str(data), "-l", str(self.dir / "log"), "-w", "-t", "60", "-o",
                   f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start"])
        self._n = itertools.count(1)

    def _run(self, cmd: list[str]) -> None:
        subprocess.run(self._as + cmd, check=True, capture_output=True, timeout=90)

    def new_database(self) -> str:
        """postgresql://daqlab@127.0.0.1:PORT/DB of a fresh database."""
        name = f"pyt{os.getpid()}_{next(self._n)}"
        subprocess.run([_bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "daqlab", "-d", "postgres", "-qAtc",
                        f"CREATE DATABASE {name}"], check=True, capture_output=True, timeout=30)
        return f"postgresql://daqlab@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        try:
            self._run([_bin("pg_ctl"), "-D", str(self._data), "-m", "immediate", "-w", "stop"])
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_cluster():
    """One cluster for the whole session; each user takes a database of its own (new_database())."""
    c = PgCluster()
    yield c
    c.stop()
