"""Lossless streaming from the daqlab server to numpy arrays in Python, beside the raw
WebSocket throughput measured in the same run (node ws → node ws, and node ws → our Python socket)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "kernel-bridge"))
import daqlab  # noqa: E402
from daqlab import _ws  # noqa: E402
from record import Recorder  # noqa: E402  (bench/record.py: this script's folder is on sys.path)

RAW = ROOT / "bench" / "dist" / "raw_ws.js"
CLI = ROOT / "daq-server" / "dist" / "src" / "cli.js"


def raw_node_to_node(n=300):
    srv = subprocess.Popen(["node", str(RAW), "serve", str(n)], stdout=subprocess.PIPE, text=True)
    port = json.loads(srv.stdout.readline())["port"]
    out = subprocess.run(["node", str(RAW), "recv", str(port)], capture_output=True, text=True, timeout=120)
    srv.kill()
    return json.loads(out.stdout)["gb_s"]


def raw_node_to_python(n=300):
    srv = subprocess.Popen(["node", str(RAW), "serve", str(n)], stdout=subprocess.PIPE, text=True)
    port = json.loads(srv.stdout.readline())["port"]
    ws = _ws.connect(f"ws://127.0.0.1:{port}/")
    total = 0
    t0 = None
    while True:
        opcode, payload = ws.recv()
        if t0 is None:
            t0 = time.perf_counter()
        if opcode == _ws.OP_TEXT:
            break
        total += len(payload)
    dt = time.perf_counter() - t0
    ws.close()
    srv.kill()
    return total / dt / 1e9


def daqlab_lossless(detector="sim-eiger-500k", frames=2000, hz=5000):
    proc = subprocess.Popen(["node", str(CLI), "--port", "0", "--memory-budget", "12G"], stderr=subprocess.PIPE, text=True)
    url = None
    for line in proc.stderr:
        m = re.search(r"listening on (ws://\S+)", line)
        if m:
            url = m.group(1)
            break
    threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
    try:
        c = daqlab.connect(url)
        acq = c.detector(detector).prepare(acquisition={"nb_frames": frames, "expo_time": 1 / hz}, detector={"scene": "flat", "pool_size": 64})
        acq.start()
        acq.wait(progress=False)
        s = acq.scan.streams["frame"]
        results = {}
        for window in (8, 16, 32):
            nbytes = 0
            n = 0
            t0 = time.perf_counter()
            for batch in s.cursor(start=0, window=window):
                arr = np.asarray(batch.data)
                nbytes += arr.nbytes
                n += len(batch.index)
            dt = time.perf_counter() - t0
            assert n == frames, n
            results[window] = nbytes / dt / 1e9
        # live: follow the acquisition while it runs
        acq = c.detector(detector).prepare(acquisition={"nb_frames": frames, "expo_time": 1 / hz}, detector={"scene": "flat", "pool_size": 64})
        got = []
        t = threading.Thread(target=lambda: got.extend(len(b.index) for b in acq.scan.streams["frame"].cursor(start=0)))
        t.start()
        t0 = time.perf_counter()
        acq.start()
        acq.wait(progress=False)
        t.join()
        live_dt = time.perf_counter() - t0
        frame_bytes = int(np.prod(acq.scan.streams["frame"].shape)) * 4
        c.close()
        return results, sum(got), sum(got) * frame_bytes / live_dt / 1e9, hz * frame_bytes / 1e9
    finally:
        proc.terminate()


def main():
    ref_node = raw_node_to_node()
    ref_py = raw_node_to_python()
    stored, live_frames, live_gbs, detector_gbs = daqlab_lossless()
    best = max(stored.values())
    rows = [
        ("raw ws, node → node, 8 MiB messages", f"{ref_node:.2f}", "reference"),
        ("raw ws, node → daqlab._ws (Python)", f"{ref_py:.2f}", f"{ref_py / ref_node:.0%} of node→node"),
        *[(f"daqlab lossless → numpy, stored scan, window {w}", f"{g:.2f}", f"{g / ref_node:.0%} of raw ws") for w, g in stored.items()],
        (f"daqlab lossless → numpy, live 5 kHz sim-eiger-500k ({live_frames} frames)", f"{live_gbs:.2f}", "paced by the detector"),
    ]
    w = max(len(r[0]) for r in rows)
    print("\nLossless streaming to Python (GB/s)")
    print(f"{'what'.ljust(w)}  GB/s   ratio")
    for name, gbs, ratio in rows:
        print(f"{name.ljust(w)}  {gbs:>5}  {ratio}")
    print(f"target ≥ 1.5 GB/s to Python: {'PASS' if best >= 1.5 else 'FAIL'} ({best:.2f} GB/s)")
    rec = Recorder("stream_to_python")
    node = ("raw ws, node → node, 8 MiB messages", ref_node)
    rec.figure("raw_ws_node_to_python.gbps", ref_py, "GB/s", True, label=rows[1][0], reference=node)
    for w, g in stored.items():  # issue 15: ≥ 1.5 GB/s, aiming at 80 % of the raw node→node figure
        rec.figure(f"window{w}.gbps", g, "GB/s", True, label=f"daqlab lossless → numpy, stored scan, window {w}",
                   reference=node, target=1.5)
    rec.figure("live.gbps", live_gbs, "GB/s", True, label=rows[-1][0],
               reference=("the detector's rate (5 kHz × frame bytes)", detector_gbs))


if __name__ == "__main__":
    main()
