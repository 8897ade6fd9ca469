"""What the server keeps across a restart in its state folder: scan numbers continue (a second run of the same
scan name in the same folder does not clash with the first one's files), and finished scans are listed again,
their frames read from the saved files."""
from __future__ import annotations

import os

import hdf5plugin  # noqa: F401  (bitshuffle/LZ4 for h5py)
import h5py
import numpy as np
import pytest

import daqlab

DET = "sim-eiger-500k"
FLAT = {"scene": "flat", "seed": 5, "pool_size": 3}


def run_scan(c, folder, frames=5, compression="bslz4"):
    acq = c.detector(DET).prepare(acquisition={"nb_frames": frames, "expo_time": 0.002}, detector=FLAT,
                                  saving={"enabled": True, "base_path": str(folder), "compression": compression,
                                          "nb_frames_per_file": 2, "file_exists_policy": "abort"},
                                  scan={"name": "ct"})
    acq.start()
    acq.wait(timeout=60, progress=False)
    return acq


def saved_frames(master: str) -> np.ndarray:
    with h5py.File(master, "r") as f:
        return f["entry/instrument/detector/data"][()]


@pytest.mark.parametrize("compression", ["bslz4", "none"])
def test_scan_numbers_continue_and_finished_scans_come_back_after_a_restart(make_server, tmp_path, compression):
    state = tmp_path / "state"
    env = {"DAQLAB_STATE_DIR": str(state)}
    data = tmp_path / "data"
    srv = make_server(env=env)
    c = daqlab.connect(srv.url)
    try:
        first = run_scan(c, data, compression=compression)
        key1 = first.scan.key
        assert first.scan.number == 1
        master1 = first.scan.info["saving"]["master"]
        assert os.path.basename(master1) == "ct_0001_master.h5"
        streamed = first.scan.streams["frame"][:]
    finally:
        c.close()
    srv.stop()

    srv = make_server(env=env)
    c = daqlab.connect(srv.url)
    try:
        # the first scan is listed again, finished, and its frames read from the files equal the saved ones
        listed = {s.key: s for s in c.scans.search()}
        assert key1 in listed, list(listed)
        old = listed[key1]
        assert old.state == "CLOSED" and old.number == 1 and old.name == "ct"
        assert old.info["saving"]["master"] == master1
        frames = old.streams["frame"]
        assert len(frames) == 5
        on_disk = saved_frames(master1)
        np.testing.assert_array_equal(frames[:], on_disk)
        np.testing.assert_array_equal(frames[3], on_disk[3])
        np.testing.assert_array_equal(on_disk, streamed)
        # the same scan name in the same folder: number 2, its own files, the first ones untouched
        second = run_scan(c, data, compression=compression)
        assert second.state == "STOPPED" or second.counters["nb_frames_saved"] == 5, second.info.get("saving")
        assert second.scan.number == 2
        master2 = second.scan.info["saving"]["master"]
        assert os.path.basename(master2) == "ct_0002_master.h5" and os.path.exists(master2)
        np.testing.assert_array_equal(saved_frames(master1), on_disk)
    finally:
        c.close()

