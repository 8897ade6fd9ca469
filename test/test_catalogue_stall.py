"""Issue 13 × 19: a catalogue database that stops answering never holds the server's event loop. The session's own
PostgreSQL cluster (pg_cluster.py) is stopped with SIGSTOP — every process of it, so connections stay open and
silent, the worst case — while a client queries the catalogue: /health, WebSocket pings and other operations keep
answering at once, the query fails with a clear timeout, an acquisition goes on and its dataset is queued, and after
SIGCONT everything queued is written."""
from __future__ import annotations

import json
import os
import signal
import statistics
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import daqlab
from daqlab import _ws  # the client's own RFC 6455 socket: raw ping frames on a connection of their own
from conftest import ServerProcess

STAFF, ALICE = "tok-staff-sys-1", "tok-alice-daemon"
USERS = {"tokens": {STAFF: {"user": "sys", "staff": True, "beamlines": ["id11"]}, ALICE: {"user": "daemon"}}}
# the server's bound on each catalogue statement (catalogue/postgres/pool.ts), and what the test allows beyond it
DB_TIMEOUT_S = 5.0
# an answer slower than this would mean the event loop waited on the database (it waited 5 s per call before)
RESPONSIVE_S = 1.0


def _cluster_pids(cluster) -> list[int]:
    """The postmaster and every process it started (backends, checkpointer, …)."""
    postmaster = int((cluster._data / "postmaster.pid").read_text().split()[0])
    pids = [postmaster]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == postmaster:
                pids.append(int(entry.name))
    return pids


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _drain(ws) -> None:
    try:
        while True:
            ws.recv()
    except (_ws.ConnectionClosed, OSError):
        pass


def _wait_for(fn, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(0.2)


class _Freezer:
    """SIGSTOP / SIGCONT of every process of the cluster; resumed whatever happens (the fixture's teardown)."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.pids: list[int] = []

    def stop(self) -> None:
        self.pids = _cluster_pids(self.cluster)
        _signal_all(self.pids, signal.SIGSTOP)

    def resume(self) -> None:
        _signal_all(self.pids, signal.SIGCONT)
        self.pids = []


@pytest.fixture
def stall(postgres_cluster):
    tmp = Path(tempfile.mkdtemp(prefix="daqlab-stall-"))
    users = tmp / "users.json"
    users.write_text(json.dumps(USERS))
    users.chmod(0o600)
    root = tmp / "data"
    root.mkdir()
    srv = ServerProcess("--users", str(users), "--beamline", "id11", "--data-root", str(root),
                        "--catalogue", postgres_cluster.new_database())
    freezer = _Freezer(postgres_cluster)
    try:
        yield srv, freezer
    finally:
        freezer.resume()
        srv.stop()


def test_a_stopped_postgresql_never_holds_the_event_loop_and_nothing_queued_is_lost(stall):
    srv, freezer = stall
    staff = daqlab.connect(srv.url, token=STAFF)
    alice = daqlab.connect(srv.url, token=ALICE)
    ws = None
    try:
        staff.catalogue.add_proposal("mx1234", team=[{"user": "daemon", "role": "principal-investigator"}])
        daqlab.policy.new_proposal("mx1234", client=staff)
        daqlab.policy.new_sample("lyso1", client=staff)
        det = staff.detector("sim-camera")

        def acquire():
            det.prepare(acquisition={"nb_frames": 2, "expo_time": 0.01}, saving={"enabled": True}).start().wait(progress=False, timeout=60)

        acquire()
        assert _wait_for(lambda: staff.catalogue.count() == 1, 30)
        ws = _ws.connect(srv.url, headers={"Authorization": f"token {STAFF}"})
        # a reader thread: recv() answers the server's pings and records our pongs (last_pong)
        threading.Thread(target=_drain, args=(ws,), daemon=True).start()

        freezer.stop()
        outcome: dict = {}

        def query():
            t0 = time.monotonic()
            try:
                alice.catalogue.datasets(proposal="mx1234", text="lyso1")
                outcome["result"] = "answered"
            except Exception as e:  # noqa: BLE001 - the error itself is what the test checks
                outcome["error"] = e
            outcome["seconds"] = time.monotonic() - t0

        q = threading.Thread(target=query)
        q.start()
        health, pings, ops = [], [], []
        while q.is_alive():
            t0 = time.monotonic()
            with urllib.request.urlopen(srv.http + "/health", timeout=10) as r:
                assert r.status == 200
            health.append(time.monotonic() - t0)
            t0 = time.monotonic()
            token = f"stall-{len(pings)}".encode()
            ws.ping(token)
            while ws.last_pong != token and time.monotonic() - t0 < 10:
                time.sleep(0.001)
            assert ws.last_pong == token, "no pong"
            pings.append(time.monotonic() - t0)
            t0 = time.monotonic()
            alice.scans.search()  # a scan list decided on the proposal's facts at hand, not a database round trip
            ops.append(time.monotonic() - t0)
            time.sleep(0.05)
        q.join()
        # the query failed with a clear error, at the database's bound (not at the client's own deadline)
        err = outcome.get("error")
        assert isinstance(err, daqlab.errors.TimeoutError), outcome
        assert "catalogue database" in str(err) and "did not answer" in str(err), err
        assert outcome["seconds"] < DB_TIMEOUT_S + 5, outcome
        # …while everything else answered at once, every time
        for name, times in (("/health", health), ("ping", pings), ("scans.search", ops)):
            assert len(times) >= 3 and max(times) < RESPONSIVE_S, (name, times)
        print(f"stalled database: /health median {statistics.median(health) * 1e3:.1f} ms, max {max(health) * 1e3:.1f} ms; "
              f"ping median {statistics.median(pings) * 1e3:.1f} ms, max {max(pings) * 1e3:.1f} ms ({len(pings)} each)")
        # alice still sees her scan: access decisions do not wait for the database
        assert alice.scans.search(proposal="mx1234")

        # acquisition goes on with the database stopped; both its dataset and the next wait in the queue
        acquire()
        acquire()
        # the write of the first failed at the database's bound: kept, to be retried
        assert _wait_for(lambda: "catalogue write failed: kept and retried" in srv.log, DB_TIMEOUT_S + 10), srv.log[-3000:]
        assert "TimeoutError" in srv.log.split("catalogue write failed")[1].split("\n")[0] or "did not answer" in srv.log
        freezer.resume()
        # written once the database answers again (retried every 5 s): nothing lost, nothing twice
        assert _wait_for(lambda: staff.catalogue.count() == 3, 60), srv.log[-3000:]
        time.sleep(1)
        assert staff.catalogue.count() == 3
        names = sorted(d["name"] for d in alice.catalogue.datasets(proposal="mx1234"))
        assert len(set(names)) == 3, names
    finally:
        if ws is not None:
            ws.abort()
        staff.close()
        alice.close()
