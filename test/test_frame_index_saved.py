"""Saved and restored scans keep the acquisition frame of every per-frame item (issue 14): once frames were
dropped, row k of a saved stream is not frame k. The master saves a frame index per per-frame stream
(`measurement/frame_index` for the frames, `process/frame_index/<stream>` for the results), `daqlab.open_master`
reads them back as `frame_indices()` / `Batch.frames`, and a scan listed again after a server restart names them
too (the state folder's frame locations keep them)."""
from __future__ import annotations

import warnings

import hdf5plugin  # noqa: F401  (bitshuffle/LZ4 for h5py)
import h5py
import numpy as np
import pytest

import daqlab
from conftest import ServerProcess

SCENE = {"scene": "serial_crystallography", "seed": 3, "hit_rate": 1.0, "spots_per_hit": 60, "spot_intensity": 1000,
         "pool_size": 64}
NB_FRAMES = 300


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """An smx scan that dropped frames (one receiver holding one frame, at 200 Hz), saved; its live frame indexes;
    then the server restarted on the same state folder."""
    tmp = tmp_path_factory.mktemp("frames_saved")
    env = {"DAQLAB_STATE_DIR": str(tmp / "state")}
    srv = ServerProcess(env=env)
    c = daqlab.connect(srv.url)
    try:
        acq = c.detector("sim-eiger-500k").prepare(
            acquisition={"nb_frames": NB_FRAMES, "expo_time": 0.005}, detector=SCENE,
            processing={"pipeline": "smx", "max_pending": 1, "min_nb_peaks": 5},
            saving={"enabled": True, "base_path": str(tmp / "data"), "nb_frames_per_file": 50}, scan={"name": "drops"})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", daqlab.DroppedFramesWarning)
            result = acq.start().wait(timeout=120, progress=False)
        assert result.dropped > 0, result
        scan = acq.scan
        live = {name: scan.streams[name].frame_indices() for name in ("frame", "peak_counter", "peaks")}
        # every stream beside the frames, whole: a restarted server must list and read them all
        results = {name: (s.frame_indices(), s[0:len(s)]) for name, s in scan.streams.items() if name != "frame" and len(s)}
        key, master = scan.key, scan.info["saving"]["master"]
    finally:
        c.close()
        srv.stop()
    srv = ServerProcess(env=env)
    c = daqlab.connect(srv.url)
    yield {"live": live, "results": results, "key": key, "master": master, "client": c}
    c.close()
    srv.stop()


def test_the_live_scan_dropped_frames_before_its_last_items(saved):
    frames = saved["live"]["frame"]
    assert 0 < len(frames) < NB_FRAMES and frames[-1] > len(frames) - 1, "item positions and frame indexes differ"
    assert np.all(np.diff(frames) > 0)


def test_the_master_saves_a_frame_index_for_the_frames_and_every_per_frame_result(saved):
    live = saved["live"]
    with h5py.File(saved["master"], "r") as f:
        e = f["entry"]
        assert e["measurement/frame_index"][()].tolist() == live["frame"].tolist()
        assert e["process/frame_index/peak_counter"][()].tolist() == live["peak_counter"].tolist()
        assert e["process/frame_index/peaks"][()].tolist() == live["peaks"].tolist()
        # the frame index datasets are not results (readers list the results as streams)
        assert "frame_index" not in e["process/results"]


def test_open_master_names_each_saved_items_acquisition_frame(saved):
    live = saved["live"]
    with daqlab.open_master(saved["master"]) as scan:
        frame = scan.streams["frame"]
        assert frame.frame_indices().tolist() == live["frame"].tolist()
        assert frame.read_batch(3, 9).frames.tolist() == live["frame"][3:9].tolist()
        assert frame.frame_indices(None, None, -1).tolist() == live["frame"][::-1].tolist()
        counter = scan.streams["peak_counter"].read_batch(0, None)
        assert counter.frames.tolist() == live["peak_counter"].tolist()
        assert counter.frames.tolist() == [ev["frame_idx"] for ev in counter.data]
        peaks = scan.streams["peaks"]
        assert peaks.frame_indices().tolist() == live["peaks"].tolist()
        # the join on frame index puts peaks on their frame's spots; the join on position does not
        k = next(k for k, fr in enumerate(live["frame"].tolist()) if fr != k)
        image = frame[k].astype(np.float64)
        batch = peaks.read_batch(0, None)
        mine = [p for fr, p in zip(batch.frames.tolist(), batch.data) if fr == live["frame"][k]]
        assert mine and np.mean([image[int(p["y"]), int(p["x"])] for p in mine]) > 20 * (np.median(image) + 1)


def test_a_scan_listed_again_after_a_restart_names_its_frames(saved):
    c = saved["client"]
    listed = {s.key: s for s in c.scans.search()}
    assert saved["key"] in listed, list(listed)
    frame = listed[saved["key"]].streams["frame"]
    live = saved["live"]["frame"]
    assert len(frame) == len(live)
    assert frame.frame_indices().tolist() == live.tolist()
    assert frame.read_batch(len(live) - 3, None, roi=(0, 0, 1, 1)).frames.tolist() == live[-3:].tolist()


def test_a_scan_listed_again_after_a_restart_lists_and_reads_every_stream(saved):
    """Not only its frames: the per-frame results, peaks and every other stream, each item with its frame."""
    c = saved["client"]
    scan = c.scans.get(saved["key"])
    results = saved["results"]
    assert {"peaks", "peak_counter"} <= set(results), sorted(results)
    assert set(scan.streams) == {"frame", *results}, (sorted(scan.streams), sorted(results))
    for name, (frames, data) in results.items():
        s = scan.streams[name]
        assert len(s) == len(frames), name
        assert s.frame_indices().tolist() == frames.tolist(), name
        got = s[0:len(s)]
        if isinstance(data, np.ndarray):
            np.testing.assert_array_equal(got, data, err_msg=name)
        else:
            assert got == data, name
