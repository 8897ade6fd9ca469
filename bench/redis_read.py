"""Reading frames of a scan published in Redis (`--store redis://…`), in the same run:
raw XRANGE of the frame stream with redis-py (→ one numpy array), blissdata's own client (`stream[:]`),
and daqlab's Python client through a second daqlab server attached to the same Redis (the scan imported
from Redis, then read to numpy). EIGER 500k frames (uint32, 2.1 MB) from the simulator.

    .venv/bin/python bench/redis_read.py --redis redis://127.0.0.1:6380/0 [--frames 150]

Needs .venv-blissdata (scripts/setup.sh with DAQLAB_SETUP_FOR=test) and a Redis with the JSON module.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "kernel-bridge"))
import daqlab  # noqa: E402
from record import Recorder  # noqa: E402  (bench/record.py)

CLI = ROOT / "daq-server" / "dist" / "src" / "cli.js"
BLISSDATA = ROOT / ".venv-blissdata" / "bin" / "python"

# run in .venv-blissdata: the newest scan named bench-read, read raw and through blissdata
BLISS_SIDE = r"""
import json, sys, time
import numpy as np
from blissdata.redis_engine.store import DataStore
url, name = sys.argv[1], sys.argv[2]
store = DataStore(url)
key = next(e[1][b"key"].decode() for e in store._redis.xrevrange("_SCAN_HISTORY_", count=50)
           if store.load_scan(e[1][b"key"].decode()).name == name)
scan = store.load_scan(key)
frame = scan.streams["frame"]
n = len(frame)
rkey = frame.event_stream.key
t0 = time.perf_counter()
chunks, last = [], "-"
while True:
    entries = store._redis.xrange(rkey, min=last, max="(18446744073709551615-18446744073709551615", count=64)
    if not entries:
        break
    chunks.extend(f[b"payload"] for _, f in entries)
    last = "(" + entries[-1][0].decode()
raw = np.frombuffer(b"".join(chunks), dtype=np.uint32).reshape(n, *frame.shape)
t_raw = time.perf_counter() - t0
t0 = time.perf_counter()
data = frame[:]
t_bliss = time.perf_counter() - t0
assert data.shape == raw.shape and np.array_equal(data[-1], raw[-1])
print(json.dumps({"key": key, "n": n, "bytes": raw.nbytes, "raw_s": t_raw, "blissdata_s": t_bliss}))
"""


def server(url: str, data_root: str) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "DAQLAB_DATA_ROOTS": data_root, "DAQLAB_STATE_DIR": tempfile.mkdtemp(prefix="daqlab-bench-state-")}
    p = subprocess.Popen(["node", str(CLI), "--port", "0", "--store", url, "--memory-budget", "4G"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    for line in p.stderr:
        m = re.search(r"listening on (ws://\S+)", line)
        if m:
            return p, m.group(1)
    raise RuntimeError("daqlab-server did not start")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--redis", required=True)
    ap.add_argument("--frames", type=int, default=150)
    args = ap.parse_args()
    data_root = tempfile.mkdtemp(prefix="daqlab-bench-redis-")
    first, url1 = server(args.redis, data_root)
    second = None
    try:
        with daqlab.connect(url1) as c:
            acq = c.detector("sim-eiger-500k").prepare(acquisition={"nb_frames": args.frames, "expo_time": 0.001},
                                                         detector={"scene": "flat", "seed": 1, "pool_size": 50}, scan={"name": "bench-read"})
            acq.start()
            acq.wait(timeout=300, progress=False)
            t0 = time.perf_counter()
            own = acq.scan.streams["frame"][0 : args.frames]
            t_own = time.perf_counter() - t0
        time.sleep(1)  # the publisher's last entries and the seal
        out = subprocess.run([str(BLISSDATA), "-c", BLISS_SIDE, args.redis, "bench-read"], capture_output=True, text=True, timeout=300)
        if out.returncode:
            raise RuntimeError(out.stderr)
        bliss = json.loads(out.stdout.strip().splitlines()[-1])
        t_start = time.perf_counter()
        second, url2 = server(args.redis, data_root)
        with daqlab.connect(url2) as c2:
            while True:
                found = [s for s in c2.scans.search(name="bench-read") if s.info.get("redis_source", {}).get("key") == bliss["key"]]
                if found and found[0].state == "CLOSED":
                    break
                time.sleep(0.05)
            t_import = time.perf_counter() - t_start
            frames = found[0].streams["frame"]
            t0 = time.perf_counter()
            data = frames[0 : bliss["n"]]
            t_daqlab = time.perf_counter() - t0
            assert data.shape[0] == bliss["n"]
    finally:
        for p in (first, second):
            if p is not None:
                p.terminate()
                p.wait(10)
    gb = bliss["bytes"] / 1e9
    rows = {
        "raw XRANGE (redis-py) → numpy": gb / bliss["raw_s"],
        "blissdata stream[:]": gb / bliss["blissdata_s"],
        "daqlab client via a 2nd server → numpy": gb / t_daqlab,
        "daqlab client via the 1st server (its own scan) → numpy": own.nbytes / 1e9 / t_own,
        "import into a 2nd server (start + Redis → its store)": gb / t_import,
    }
    print(f"reading {bliss['n']} EIGER 500k frames ({gb:.2f} GB) published in Redis ({args.redis}), GB/s:")
    for k, v in rows.items():
        print(f"  {k:55s} {v:6.3f}")
    rec = Recorder("redis_read")
    ref = ("raw XRANGE (redis-py) to numpy", rows["raw XRANGE (redis-py) → numpy"])
    rec.figure("eiger-500k.blissdata.gbps", rows["blissdata stream[:]"], "GB/s", True,
               label="EIGER 500k: blissdata's client reads frames from Redis", reference=ref)
    rec.figure("eiger-500k.daqlab.gbps", rows["daqlab client via a 2nd server → numpy"], "GB/s", True,
               label="EIGER 500k: daqlab's client reads frames through a second server on Redis", reference=ref)


if __name__ == "__main__":
    main()
