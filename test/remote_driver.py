"""Runs one acquisition on a daqlab control server from inside a network namespace (test_remote_receivers.py):
the test process cannot reach the namespaces' addresses, so this script, started in the control host's
namespace, drives the scan with the daqlab client and prints what the test compares, as JSON lines:

    {"running": {...counters}}    once at least `--signal-after` frames are processed (then the test may
                                  kill a receiver host or cut its cable)
    {"result": {...}}             the end: state, reason, counters, per-host counters, the result streams

    python remote_driver.py URL TOKEN DETECTOR '{"acquisition": ..., "processing": ...}' [--signal-after N]
"""
from __future__ import annotations

import json
import sys
import time

import numpy as np

import daqlab


def column(stream, n: int):
    items = stream[0:n] if n else []
    return [x.tolist() if isinstance(x, np.ndarray) else x for x in items]


def main() -> None:
    url, token, detector, params = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    signal_after = int(sys.argv[6]) if len(sys.argv) > 6 and sys.argv[5] in ("--signal-after", "--stop-after") else None
    stop = len(sys.argv) > 6 and sys.argv[5] == "--stop-after"
    with daqlab.connect(url, token=token, timeout=60) as c:
        det = c.detector(detector)
        try:
            acq = det.prepare(**params)
        except daqlab.errors.StateError:  # the previous scan FAULTed (a host was lost): clear it
            det.reset()
            acq = det.prepare(**params)
        acq.start()
        if signal_after is not None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                s = acq.status()
                if s["counters"]["nb_frames_processed"] >= signal_after or s["state"] != "RUNNING":
                    break
                time.sleep(0.05)
            print(json.dumps({"running": s["counters"]}), flush=True)
            if stop:
                acq.stop()
        try:
            acq.wait(timeout=120, progress=False)
        except daqlab.errors.DaqlabError:
            pass
        deadline = time.monotonic() + 30
        while not acq.status().get("finished") and time.monotonic() < deadline:
            time.sleep(0.1)
        status = acq.status()
        scan = acq.scan
        streams = {}
        for name in ("peak_counter", "peaks"):
            if name in scan.streams:
                s = scan.streams[name]
                streams[name] = column(s, len(s))
        if "acc_corrected" in scan.streams and len(scan.streams["acc_corrected"]):
            streams["acc_corrected_sum"] = float(np.asarray(scan.streams["acc_corrected"][-1], dtype=np.float64).sum())
        print(json.dumps({"result": {"state": status["state"], "reason": status["reason"], "counters": status["counters"],
                                     "series": scan.info.get("detector_series"), "streams": streams}}), flush=True)


if __name__ == "__main__":
    main()
