"""Receivers on other hosts (issue 17): four hosts on one machine, network namespaces on one switch: the
simulated DECTRIS detector (`daqlab-detector-sim`), a control server, two receiver hosts
(`daqlab-server --role receiver`). Each receiver host PULLs its share of the detector's stream itself and
runs smx on its own threads; the control server merges the results in frame order. Checked: the merged
results equal the single-host run of the same detector and seed (frame for frame), every frame went through
one of the two hosts and none through the control host, and a host lost mid-scan (killed; its cable pulled)
FAULTs the scan with the host's name and its last frame, keeping what was merged."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

import netns
from conftest import ROOT, wait_until
from procs import ReadyProcess

CLI = str(ROOT / "daq-server" / "dist" / "src" / "cli.js")
SIM = str(ROOT / "daq-server" / "dist" / "src" / "detector-sim" / "cli.js")
DRIVER = str(ROOT / "test" / "remote_driver.py")
TOKEN = "T"
N = 24
SMX_SCENE = {"hit_rate": 0.5, "spots_per_hit": 60, "spot_intensity": 1000, "pool_size": N}
SMX = {"pipeline": "smx", "npt": 500, "min_nb_peaks": 20, "nb_receivers": 2}
HOSTS = ["recv1", "recv2"]


class Cluster:
    def __init__(self, tmp):
        why = netns.available()
        assert why is None, why
        self.tmp = tmp
        self.net = netns.Network()
        self.det, self.ctrl = self.net.host("det"), self.net.host("ctrl")
        self.recv = {name: self.net.host(name) for name in HOSTS}
        self.switch = self.net.switch([self.det, self.ctrl, *self.recv.values()])
        a = self.switch.address
        self.sim = ReadyProcess(self.det.command(["node", SIM, "--host", a(self.det), "--port", "8000", "--stream-port", "31001",
                                                  "--model", "eiger-500k", "--scene", "serial_crystallography", "--seed", "2",
                                                  "--config", json.dumps(SMX_SCENE)]),
                                r"SIMPLON (http://\S+) stream (tcp://\S+)", timeout=60, what="daqlab-detector-sim")
        self.url = f"ws://{a(self.ctrl)}:8765"
        self.control = ReadyProcess(self.ctrl.command(["node", CLI, "--role", "control", "--host", a(self.ctrl), "--port", "8765",
                                                       "--token", TOKEN, "--data-root", str(tmp), "--detector", "sim-eiger-500k",
                                                       "--dectris", f"smx=http://{a(self.det)}:8000,stream=tcp://{a(self.det)}:31001"]),
                                    r"listening on", timeout=60, what="control server")
        self.receivers = {name: self.start_receiver(name) for name in HOSTS}

    def start_receiver(self, name: str) -> ReadyProcess:
        h = self.recv[name]
        p = ReadyProcess(h.command(["node", CLI, "--role", "receiver", "--control", self.url, "--token", TOKEN,
                                    "--host", self.switch.address(h), "--port", "8766", "--host-name", name]),
                         r"listening on", timeout=60, what=f"receiver {name}")
        assert wait_until(lambda: "registered with the control server" in p.log, 30), p.log
        return p

    def scan(self, processing: dict, n: int = N, expo: float = 0.01, signal_after: int | None = None, on_running=None,
             stop: bool = False) -> dict:
        params = {"acquisition": {"nb_frames": n, "expo_time": expo}, "processing": processing}
        argv = [sys.executable, DRIVER, self.url, TOKEN, "smx", json.dumps(params)]
        if signal_after is not None:
            argv += ["--stop-after" if stop else "--signal-after", str(signal_after)]
        proc = subprocess.Popen(self.ctrl.command(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            for line in proc.stdout:
                msg = json.loads(line)
                if "running" in msg and on_running:
                    on_running(msg["running"])
                if "result" in msg:
                    return msg["result"]
            hosts = "".join(f"\n{name}:\n{p.log[-2000:]}" for name, p in self.receivers.items())
            raise AssertionError(f"driver ended without a result: {proc.stderr.read()}\ncontrol:\n{self.control.log[-4000:]}{hosts}")
        finally:
            proc.wait(60)

    def close(self):
        for p in [*self.receivers.values(), self.control, self.sim]:
            p.stop()
        self.net.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("remote"))
    yield c
    c.close()


def key(e: dict) -> tuple:
    return (e["frame_idx"], e["nb_peaks"], e["is_hit"])


def test_two_receiver_hosts_give_the_single_host_results(cluster):
    local = cluster.scan(SMX)
    remote = cluster.scan({**SMX, "receiver_hosts": HOSTS})
    assert local["state"] == "STOPPED" and local["reason"] == "completed", local
    assert remote["state"] == "STOPPED" and remote["reason"] == "completed", (remote, cluster.control.log[-3000:])
    # frame for frame the same per-frame results, in frame order, and the same accumulated sum
    ca, cb = local["streams"]["peak_counter"], remote["streams"]["peak_counter"]
    assert [key(e) for e in cb] == [key(e) for e in ca] and len(cb) == N
    assert 0 < sum(e["is_hit"] for e in ca) < N
    pa, pb = local["streams"]["peaks"], remote["streams"]["peaks"]
    assert len(pa) == len(pb) > 100
    for p, q in zip(pa, pb):
        assert p.keys() == q.keys()
        for k in p:
            assert p[k] == pytest.approx(q[k], rel=1e-5, abs=1e-6) if isinstance(q[k], float) else p[k] == q[k], (k, p, q)
    assert remote["streams"]["acc_corrected_sum"] == pytest.approx(local["streams"]["acc_corrected_sum"], rel=1e-6)
    # both hosts took frames (the detector deals round robin); none passed through the control host
    hosts = remote["series"]["receiver_hosts"]
    assert set(hosts) == set(HOSTS), hosts
    assert all(h["frames_processed"] > 0 and h["state"] == "finished" for h in hosts.values()), hosts
    assert sum(h["frames_processed"] for h in hosts.values()) == N
    assert remote["series"]["counters"]["images_received"] == 0, remote["series"]  # no socket on the control host
    assert sum(remote["counters"]["nb_frames_transferred"]) == N and remote["counters"]["nb_frames_dropped"] == 0
    assert remote["counters"]["nb_frames_acquired"] == remote["counters"]["nb_frames_processed"] == N


# before the tests that lose a host: the aftermath of a lost host (the detector's stream backed up) is theirs
def test_a_scan_stopped_early_keeps_a_contiguous_prefix_and_drops_nothing(cluster):
    n = 3000
    result = cluster.scan({**SMX, "receiver_hosts": HOSTS}, n=n, expo=0.005, signal_after=10, stop=True)
    assert result["state"] == "STOPPED" and result["reason"] == "stopped", result
    c = result["counters"]
    assert 10 <= c["nb_frames_processed"] < n and c["nb_frames_dropped"] == 0, c
    assert [e["frame_idx"] for e in result["streams"]["peak_counter"]] == list(range(c["nb_frames_processed"]))
    assert all(h["state"] == "finished" for h in result["series"]["receiver_hosts"].values()), result["series"]


def assert_fault_names(result: dict, host: str, signalled: dict) -> None:
    assert result["state"] == "FAULT", result
    reason = result["reason"]
    assert f"receiver host {host} lost" in reason and "after frame" in reason, reason
    last = int(reason.split("after frame ")[1].split(",")[0])
    assert last == result["series"]["receiver_hosts"][host]["last_frame"] and last >= 0, (reason, result["series"])
    # what was merged before the loss is kept, in frame order
    kept = [e["frame_idx"] for e in result["streams"]["peak_counter"]]
    assert kept == sorted(kept) and len(kept) >= signalled["nb_frames_processed"] // 2, (kept, signalled)


def test_a_receiver_host_killed_mid_scan_faults_the_scan_naming_it(cluster):
    n = 3000
    result = cluster.scan({**SMX, "receiver_hosts": HOSTS}, n=n, expo=0.005, signal_after=20,
                          on_running=lambda _: cluster.receivers["recv1"].proc.kill())
    assert_fault_names(result, "recv1", {"nb_frames_processed": 20})
    assert result["counters"]["nb_frames_processed"] < n
    # the host comes back, registers again and takes the next scan
    cluster.receivers["recv1"] = cluster.start_receiver("recv1")
    again = cluster.scan({**SMX, "receiver_hosts": HOSTS})
    assert again["state"] == "STOPPED" and len(again["streams"]["peak_counter"]) == N, (again["counters"], again["series"])


def test_a_receiver_host_whose_cable_is_pulled_faults_the_scan_naming_it(cluster):
    n = 3000
    host = cluster.recv["recv2"]
    try:
        result = cluster.scan({**SMX, "receiver_hosts": HOSTS}, n=n, expo=0.005, signal_after=20,
                              on_running=lambda _: cluster.switch.down(host))
    finally:
        cluster.switch.up(host)
    assert_fault_names(result, "recv2", {"nb_frames_processed": 20})
    assert "no answer" in result["reason"] or "closed" in result["reason"], result["reason"]


def test_receiver_hosts_are_checked_at_prepare(cluster):
    result = subprocess.run(cluster.ctrl.command([sys.executable, "-c", (
        "import sys, daqlab\n"
        "c = daqlab.connect(sys.argv[1], token='T')\n"
        "try:\n"
        "    c.detector('smx').reset()\n"
        "except daqlab.DaqlabError:\n"
        "    pass\n"
        "try:\n"
        "    c.detector('smx').prepare(acquisition={'nb_frames': 4, 'expo_time': 0.01},"
        " processing={'pipeline': 'smx', 'nb_receivers': 2, 'receiver_hosts': ['nohost']})\n"
        "except daqlab.ParameterError as e:\n"
        "    print([f['field'] for f in e.fields], e)\n"), cluster.url]), capture_output=True, text=True, timeout=60)
    assert "processing.receiver_hosts" in result.stdout and "not registered: nohost" in result.stdout, (result.stdout, result.stderr)
