"""Per-frame items say which acquisition frame they come from (issue 14, defect 1): once frames are
dropped, item k of the `frame` stream is not acquisition frame k, so peaks (`frame_idx`) and every
other per-frame result must be joined on the items' frame index (data header `frames`), never on
item position."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import daqlab

# every frame a hit with 60 bright spots at random places: a peak of another frame lands on background
SCENE = {"scene": "serial_crystallography", "seed": 3, "hit_rate": 1.0, "spots_per_hit": 60, "spot_intensity": 1000,
         "pool_size": 64}
NB_FRAMES = 400  # 2 s at 200 Hz: the receiver (4 in flight + 1 queued) frees up again long before the end


def headers(client, op: str, params: dict) -> list[dict]:
    _, data = client._conn.request(op, params, collect=True)
    return [h for h, _ in data]


@pytest.fixture(scope="module")
def scan(server):
    """An smx scan that dropped frames: one receiver that may hold one frame, at 200 Hz (smx takes longer per frame)."""
    c = daqlab.connect(server.url)
    acq = c.detector("sim-eiger-500k").prepare(
        acquisition={"nb_frames": NB_FRAMES, "expo_time": 0.005}, detector=SCENE,
        processing={"pipeline": "smx", "max_pending": 1, "min_nb_peaks": 5})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", daqlab.DroppedFramesWarning)
        result = acq.start().wait(timeout=60, progress=False)
    assert result.dropped > 0 and result.processed + result.dropped == NB_FRAMES, result
    yield acq.scan
    c.close()


def test_frame_items_name_the_acquisition_frame_that_peaks_count(scan):
    frame = scan.streams["frame"]
    frames = frame.frame_indices()
    assert len(frames) == len(frame) < NB_FRAMES
    assert np.all(np.diff(frames) > 0) and frames[0] >= 0 and frames[-1] < NB_FRAMES
    assert frames[-1] > len(frame) - 1, "frames were dropped: item positions and frame indexes differ"
    counter = scan.streams["peak_counter"].read_batch(0, None)
    assert [e["frame_idx"] for e in counter.data] == counter.frames.tolist()
    assert counter.frames.tolist() == frames.tolist(), "one peak count per frame item, same frames"
    peaks = scan.streams["peaks"].read_batch(0, None)
    assert len(peaks) > 0 and [p["frame_idx"] for p in peaks.data] == peaks.frames.tolist()
    truth = scan.streams["sim_truth"].read_batch(0, None)
    assert [e["frame_idx"] for e in truth.data] == truth.frames.tolist()


def test_frames_stored_as_received_name_their_frame_and_a_step_keeps_them(client):
    acq = client.detector("sim-camera").prepare(acquisition={"nb_frames": 6, "expo_time": 0.01})
    acq.start().wait(timeout=30, progress=False)
    frame = acq.scan.streams["frame"]
    assert frame.frame_indices().tolist() == list(range(6))
    assert frame.frame_indices(1, None, 2).tolist() == [1, 3, 5]
    batch = frame.read_batch(4, 6)
    assert batch.frames.tolist() == [4, 5]
    assert np.all(np.isfinite(batch.times)) and batch.times[1] > batch.times[0]  # acquisition times beside them


def test_the_peaks_joined_on_an_items_frame_lie_on_its_spots(scan):
    frames = scan.streams["frame"].frame_indices()
    peaks = scan.streams["peaks"].read_batch(0, None)
    by_frame: dict[int, list] = {}
    for f, p in zip(peaks.frames.tolist(), peaks.data):
        by_frame.setdefault(f, []).append(p)
    checked = 0
    for k in [k for k in range(len(frames)) if frames[k] != k][:4]:
        image = scan.streams["frame"][k].astype(np.float64)
        background = float(np.median(image)) + 1.0

        def brightness(ps):
            return float(np.mean([image[int(p["y"]), int(p["x"])] for p in ps]))
        right = brightness(by_frame[int(frames[k])])
        assert right > 20 * background, (k, right, background)
        wrong = by_frame.get(k, [])  # what a join on item position draws: frame k was dropped, or is another item
        assert not wrong or brightness(wrong) < right / 10, (k, brightness(wrong), right)
        checked += 1
    assert checked >= 1, "no item whose position differs from its frame (no drop before it)"


def test_header_frames_on_reads_and_subscriptions_and_none_for_accumulated_results(scan, client):
    frames = scan.streams["frame"].frame_indices().tolist()
    hs = headers(client, "stream.read", {"scan": scan.key, "stream": "frame", "start": 0, "stop": len(frames), "binning": 8})
    assert [f for h in hs for f in h["frames"]] == frames
    one = headers(client, "stream.read", {"scan": scan.key, "stream": "frame", "start": 2, "single": True, "binning": 8})
    assert one[0]["frames"] == [frames[2]]
    ev = headers(client, "stream.read", {"scan": scan.key, "stream": "peak_counter", "start": 1, "single": True})
    assert ev[0]["frames"] == [frames[1]]
    acc = headers(client, "stream.read", {"scan": scan.key, "stream": "acc_peaks", "start": 0, "stop": 1})
    assert acc and all("frames" not in h for h in acc)
    got = []
    with scan.streams["frame"].cursor(0, binning=8, stop=len(frames)) as cur:
        for batch in cur:
            got.extend(batch.frames.tolist())
            if len(got) >= len(frames):
                break
    assert got == frames
    with scan.streams["peak_counter"].cursor(0, stop=len(frames)) as cur:
        batch = next(cur)
    assert batch.frames.tolist() == [e["frame_idx"] for e in batch.data]
    # a reversed read keeps each item with its frame
    back = scan.streams["frame"].read_batch(None, None, -1, roi=(0, 0, 1, 1))
    assert back.frames.tolist() == frames[::-1]


def test_frames_trimmed_from_memory_and_read_back_from_the_files_keep_their_frame(make_server, tmp_path):
    srv = make_server("--memory-budget", str(8 * 514 * 1030 * 4))
    c = daqlab.connect(srv.url)
    acq = c.detector("sim-eiger-500k").prepare(
        acquisition={"nb_frames": NB_FRAMES, "expo_time": 0.005}, detector=SCENE,
        processing={"pipeline": "smx", "max_pending": 1, "min_nb_peaks": 5},
        saving={"enabled": True, "base_path": str(tmp_path), "nb_frames_per_file": 4})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", daqlab.DroppedFramesWarning)
        result = acq.start().wait(timeout=60, progress=False)
    assert result.dropped > 0
    frame = acq.scan.streams["frame"]
    assert frame.info["first"] > 0, "some frames were trimmed from memory"
    counted = acq.scan.streams["peak_counter"].read_batch(0, None).frames.tolist()
    assert frame.frame_indices().tolist() == counted
    c.close()
