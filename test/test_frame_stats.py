"""Whole-frame statistics beside a region (`frame_stats` on stream.read / subscribe): a LiveImage zoomed into a
region receives only that region, yet its `auto_scope="frame"` levels must follow each new frame. Each data
header then carries, per item, [min, max, lo, hi] of the whole item, which numpy reproduces from the full frame
(same fixed-stride subsample, gap pixels left out); bad percentiles are refused naming the field."""
from __future__ import annotations

import numpy as np
import pytest

from daqlab import _protocol as P
from daqlab._arrow import decode
from daqlab.errors import ParameterError

SAMPLES = 16384  # FRAME_STATS_SAMPLES (daq-server/src/protocol/frame-stats.ts)
PCT = [1.0, 99.5]
ROI = [100, 200, 64, 64]


def expected(frame: np.ndarray, pct) -> list[float]:
    """What the server computes: a fixed-stride subsample, gap/dummy pixels (uint32 ≥ 2^31) and NaN left out."""
    flat = frame.ravel()
    step = max(1, -(-flat.size // SAMPLES))
    sample = flat[::step][:SAMPLES].astype(np.float64)
    keep = ~np.isnan(sample)
    if frame.dtype == np.uint32:
        keep &= sample < 2**31
    s = np.sort(sample[keep])
    rank = lambda p: s[min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))]  # noqa: E731
    return [s[0], s[-1], rank(pct[0]), rank(pct[1])]


@pytest.fixture(scope="module")
def scans(server):
    import daqlab

    c = daqlab.connect(server.url)
    keys = {}
    for det, scene in (("sim-eiger-500k", "serial_crystallography"), ("sim-camera", None)):
        acq = c.detector(det).prepare(acquisition={"nb_frames": 4, "expo_time": 0.01}, **({"detector": {"scene": scene, "seed": 3}} if scene else {}))
        acq.start()
        acq.wait(progress=False)
        keys[det] = acq.scan.key
    c.close()
    return keys


def collect(client, params: dict) -> list[tuple[dict, bytes]]:
    _, data = client._conn.request(P.OP_STREAM_READ, params, collect=True)
    return sorted(data, key=lambda hb: (hb[0]["msg"], hb[0].get("part", 0)))


@pytest.mark.parametrize("det", ["sim-eiger-500k", "sim-camera"])
def test_a_region_read_carries_each_whole_frames_statistics(client, scans, det):
    frames = client.scans.get(scans[det]).streams["frame"][0:4]
    base = {"scan": scans[det], "stream": "frame", "start": 0, "stop": 4}
    got = collect(client, {**base, "roi": ROI, "frame_stats": PCT})
    stats = [s for header, _ in got for s in header["frame_stats"]]
    assert len(stats) == 4
    for k in range(4):
        assert stats[k] == pytest.approx(expected(frames[k], PCT), rel=1e-6), k
    # the pixels sent are the region's only
    region = decode(b"".join(buf for _, buf in got)).data
    assert region.shape[-2:] == (64, 64)
    # the frames differ, so do their levels: a zoomed view's levels follow each frame
    assert len({tuple(s) for s in stats}) > 1, stats
    # not asked: not sent
    assert all("frame_stats" not in h for h, _ in collect(client, {**base, "roi": ROI}))


def test_a_region_subscription_carries_each_whole_frames_statistics(client, scans):
    key = scans["sim-eiger-500k"]
    frames = client.scans.get(key).streams["frame"][0:4]
    sub = client._conn.subscribe({"scan": key, "stream": "frame", "mode": "lossless", "roi": ROI, "binning": 2, "frame_stats": PCT})
    try:
        seen: dict[int, list] = {}
        while len(seen) < 4:
            item = sub.get(timeout=20)
            assert item is not None, f"only {sorted(seen)} arrived"
            if item[0] != "data":
                continue
            header = item[1]
            for k, s in enumerate(header["frame_stats"]):
                seen[header["first"] + k] = s
            client._conn.post(P.OP_SUB_ACK, {"sub": sub.id, "msg": header["msg"]})
        for k in range(4):
            assert seen[k] == pytest.approx(expected(frames[k], PCT), rel=1e-6), k
    finally:
        client._conn.unsubscribe(sub)


@pytest.mark.parametrize("bad", [[99.5, 1], [0, 101], [1], "all", [1, "99"]])
def test_bad_percentiles_are_refused_naming_the_field(client, scans, bad):
    params = {"scan": scans["sim-camera"], "stream": "frame", "start": 0, "stop": 1, "roi": ROI, "frame_stats": bad}
    for op in (P.OP_STREAM_READ, P.OP_SUBSCRIBE):
        with pytest.raises(ParameterError) as e:
            client._conn.request(op, params)
        assert "frame_stats" in str(e.value)
