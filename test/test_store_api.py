"""Store semantics seen through the API: index errors that say why, trimming that is reported."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import daqlab
from conftest import wait_until


def test_index_errors_say_why(client):
    acq = client.detector("sim-camera").prepare(acquisition={"nb_frames": 0, "expo_time": 0.01})
    s = acq.scan.streams["frame"]
    with pytest.raises(daqlab.IndexNotYetThereError):
        s[0]
    acq.start()
    assert wait_until(lambda: len(s) >= 2)
    with pytest.raises(daqlab.IndexNotYetThereError, match="sealed"):
        s[-1]  # negative indexes need a sealed stream
    with pytest.raises(daqlab.IndexNotYetThereError):
        s[100000]
    acq.stop()
    n = len(s)
    assert s.sealed
    assert s[-1].shape == (1024, 1024)
    with pytest.raises(daqlab.IndexWontBeThereError):
        s[n]
    with pytest.raises(IndexError):  # every index error is also a Python IndexError
        s[n + 5]


def test_trimmed_data_is_reported_not_silently_lost(make_server):
    srv = make_server("--memory-budget", "40M")
    c = daqlab.connect(srv.url)
    trims = []
    try:
        det = c.detector("sim-eiger-500k")  # 2.1 MB frames: the budget holds ~19
        first = det.prepare(acquisition={"nb_frames": 10, "expo_time": 0.001}, detector={"scene": "flat"})
        first.start()
        first.wait(timeout=10, progress=False)
        second = det.prepare(acquisition={"nb_frames": 30, "expo_time": 0.001}, detector={"scene": "flat"})
        second.start()
        second.wait(timeout=10, progress=False)
        old = first.scan.streams["frame"]
        with pytest.raises(daqlab.IndexNoMoreThereError):
            old[0]
        info = old.info
        assert info["first"] > 0
        new = second.scan.streams["frame"]
        assert new[-1].shape == (514, 1030)
        status = srv.get("/status").read()
        assert b"memory_budget" in status
        assert "store trimmed" in srv.log
    finally:
        c.close()


def test_lossless_subscriber_is_told_about_gaps(make_server):
    srv = make_server("--memory-budget", "30M")
    c = daqlab.connect(srv.url)
    try:
        acq = c.detector("sim-eiger-500k").prepare(acquisition={"nb_frames": 200, "expo_time": 0.001}, detector={"scene": "flat"})
        acq.start()
        acq.wait(timeout=20, progress=False)
        s = acq.scan.streams["frame"]
        gaps = []
        got = []
        for batch in s.cursor(start=0, on_gap=lambda a, b, why: gaps.append((a, b))):
            got.extend(int(i) for i in batch.index)
        assert gaps and gaps[0][0] == 0
        assert got[-1] == 199
        # the gaps and what arrived cover everything: nothing vanished silently
        covered = set(got)
        for a, b in gaps:
            covered |= set(range(a, b))
        assert covered == set(range(200))
    finally:
        c.close()
