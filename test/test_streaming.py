"""What travels on the wire: chunking of large frames, per-view ROI/binning/decimation, calibration maps."""
from __future__ import annotations

import json
import struct
import time

import numpy as np
import pytest

import daqlab
import simref
from rawws import RawWS

MAX_MESSAGE = 8 * 1024 * 1024


@pytest.fixture(scope="module")
def eiger4m_scan(server):
    c = daqlab.connect(server.url)
    config = {"scene": "flat", "seed": 11, "pool_size": 3}
    acq = c.detector("sim-eiger-4m").prepare(acquisition={"nb_frames": 4, "expo_time": 0.01}, detector=config)
    acq.start()
    acq.wait(timeout=60, progress=False)
    yield acq.scan.key, config
    c.close()


def test_frames_larger_than_a_message_are_chunked_and_reassembled(client, eiger4m_scan):
    key, config = eiger4m_scan
    s = client.scans.get(key).streams["frame"]
    assert s.shape == (2167, 2070) and s.dtype == np.uint32  # 17.9 MB per frame
    for i in range(4):
        np.testing.assert_array_equal(s[i], simref.frame("sim-eiger-4m", config, i))
    gaps = s[0][514:551, :]
    assert (gaps == 2**32 - 1).all()


def test_no_message_exceeds_8_mib(server, eiger4m_scan):
    key, _ = eiger4m_scan
    ws = RawWS(server.url)
    ws.send_json({"id": 1, "op": "stream.read", "scan": key, "stream": "frame", "start": 0, "stop": 2})
    sizes, parts = [], []
    while True:
        op, data = ws.recv()
        if op == 0x1:
            msg = json.loads(data)
            if msg.get("id") == 1:
                assert msg["ok"], msg
                break
            continue
        sizes.append(len(data))
        (h,) = struct.unpack("<I", data[:4])
        header = json.loads(data[4 : 4 + h])
        parts.append((header["msg"], header["part"], header["parts"]))
    ws.close()
    assert max(sizes) <= MAX_MESSAGE
    assert parts == [(0, 0, 3), (0, 1, 3), (0, 2, 3), (1, 0, 3), (1, 1, 3), (1, 2, 3)]


def test_roi_and_binning_are_applied_by_the_server(client, eiger4m_scan):
    key, config = eiger4m_scan
    s = client.scans.get(key).streams["frame"]
    full = simref.frame("sim-eiger-4m", config, 1).astype(np.uint64)
    b = s.read(1, 2, roi=[100, 200, 64, 96], binning=4)
    assert b.shape == (1, 16, 24) and b.dtype == np.uint32
    expected = full[100:164, 200:296].reshape(16, 4, 24, 4).sum(axis=(1, 3))
    np.testing.assert_array_equal(b[0], expected)


def test_decimation_and_rate_limit_of_a_subscription(client):
    acq = client.detector("sim-eiger-500k").prepare(acquisition={"nb_frames": 300, "expo_time": 0.001}, detector={"scene": "flat"})
    acq.start()
    acq.wait(timeout=20, progress=False)
    s = acq.scan.streams["frame"]
    got = [int(i) for batch in s.cursor(every=25, binning=2) for i in batch.index]
    assert got == list(range(0, 300, 25))
    t0 = time.monotonic()
    n = 0
    for batch in s.cursor(start=0, stop=10, max_rate=20, window=1):
        n += len(batch.index)
        assert batch.data.shape[1:] == (514, 1030)
    assert n == 10
    assert time.monotonic() - t0 >= 0.4  # 10 messages at ≤ 20/s


def test_jungfrau_calibration_maps_decode_raw_frames(client):
    det = client.detector("sim-jungfrau-4m")
    info = det.info
    assert info["shape"] == [8, 512, 1024] and info["image_shape"] == [2164, 2068] and info["dtype"] == "uint16"
    maps = det.calibration(seed=3)
    assert maps["pedestal"].shape == (3, 8, 512, 1024) and maps["gain"].shape == (3, 8, 512, 1024)
    acq = det.prepare(acquisition={"nb_frames": 2, "expo_time": 0.01}, detector={"scene": "dark", "seed": 3, "pool_size": 2})
    acq.start()
    acq.wait(timeout=60, progress=False)
    raw = acq.scan.streams["frame"][0]
    gain_code = raw >> 14
    adc = (raw & 0x3FFF).astype(np.float32)
    assert (gain_code == 0).mean() > 0.99  # dark frames stay in G0
    energy = (adc - maps["pedestal"][0]) / maps["gain"][0]
    assert abs(float(np.median(energy))) < 0.5  # keV: pedestal-subtracted dark is ~0


def test_external_trigger_mode_is_paced_by_the_simulated_trigger_source(client):
    acq = client.detector("sim-eiger-500k").prepare(
        acquisition={"nb_frames": 20, "expo_time": 0.001, "latency_time": 0.004, "trigger_mode": "external", "nb_frames_per_trigger": 5},
        detector={"scene": "flat"},
    )
    t0 = time.monotonic()
    acq.start()
    acq.wait(timeout=10, progress=False)
    assert acq.counters["nb_frames_acquired"] == 20
    assert time.monotonic() - t0 >= 0.09  # 20 frames × 5 ms
    with pytest.raises(daqlab.StateError):
        acq.trigger()
