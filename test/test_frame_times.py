"""Frames carry their acquisition time on the wire: data headers' `times` (ms since the epoch, one per
item), through the direct path and through a pipeline, for reads and subscriptions alike."""
from __future__ import annotations

import time

import numpy as np


def headers(client, op: str, params: dict) -> list[dict]:
    _, data = client._conn.request(op, params, collect=True)
    return [h for h, _ in data]


def test_frames_carry_their_acquisition_time(client):
    t0 = time.time() * 1000
    acq = client.detector("sim-eiger-500k").prepare(acquisition={"nb_frames": 20, "expo_time": 0.02})
    acq.start()
    acq.wait(progress=False)
    t1 = time.time() * 1000
    hs = headers(client, "stream.read", {"scan": acq.scan.key, "stream": "frame", "start": 0, "stop": 20, "binning": 4})
    times = np.array([t for h in hs for t in h["times"]])
    assert len(times) == sum(h["count"] for h in hs) == 20
    assert t0 <= times.min() and times.max() <= t1, (t0, times, t1)
    steps = np.diff(times)
    assert np.all(steps >= 0) and abs(np.median(steps) - 20) < 10, steps  # 50 Hz: one frame every 20 ms
    one = headers(client, "stream.read", {"scan": acq.scan.key, "stream": "frame", "start": 7, "single": True})
    assert one[0]["times"] == [times[7]]


def test_pipeline_results_keep_the_frames_time_and_event_streams_have_none(client):
    t0 = time.time() * 1000
    acq = client.detector("sim-camera").prepare(
        acquisition={"nb_frames": 6, "expo_time": 0.02},
        processing={"pipeline": "legacy", "nb_receivers": 2, "rois": [{"name": "a", "roi": [0, 0, 10, 10]}]})
    acq.start()
    acq.wait(progress=False)
    t1 = time.time() * 1000
    hs = headers(client, "stream.read", {"scan": acq.scan.key, "stream": "frame", "start": 0, "stop": 6})
    times = [t for h in hs for t in h["times"]]
    assert len(times) == 6 and all(t0 <= t <= t1 for t in times), (t0, times, t1)
    assert times == sorted(times)  # merged in frame order whatever receiver finished first
    events = headers(client, "stream.read", {"scan": acq.scan.key, "stream": "roi_stats", "start": 0, "stop": 6})
    assert events and all("times" not in h for h in events)
