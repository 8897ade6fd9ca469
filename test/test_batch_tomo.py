"""The batch template "tomography reconstruction of a saved scan" is the online `tomo` pipeline.

A real server acquires a tomography scan (darks, flats, projections of the simulator's phantom) with the
`tomo` pipeline and saving on; the batch command line replays the saved master through the same pipeline.
What each frame is (dark/flat/projection, angle) comes from the master's NXtomo, read back by the replay
detector, and the reconstruction settings from the online run: the batch volume and centre of rotation
equal the online ones bit for bit. h5py reads the derived master."""
from __future__ import annotations

import shutil

import hdf5plugin  # noqa: F401  (bitshuffle/LZ4 for h5py)
import h5py
import numpy as np
import pytest

import daqlab
from test_batch import run_batch

DET = "sim-tomo-camera"
PROJECTIONS = 91  # 0° … 180° by 2°: the 0°/180° pair gives the centre estimate
ONLINE = {"pipeline": "tomo", "filter": "hann", "slice_start": 8, "slice_stop": 56}


@pytest.fixture(scope="module")
def tomo_scan(server, tmp_path_factory):
    """64² frames, 10 darks + 10 flats + 91 projections, axis 2.3 px off centre, saved with bitshuffle-LZ4."""
    c = daqlab.connect(server.url)
    try:
        folder = tmp_path_factory.mktemp("tomo")
        total = 10 + 10 + PROJECTIONS
        acq = c.detector(DET).prepare(
            acquisition={"nb_frames": total, "expo_time": 0.001},
            detector={"frame_shape": [64, 64], "tomo_projections": PROJECTIONS, "tomo_cor_offset": 2.3, "seed": 7},
            processing=ONLINE,
            saving={"enabled": True, "base_path": str(folder), "prefix": "online", "compression": "bslz4",
                    "nb_frames_per_file": 40},
            scan={"name": "online", "sample": "phantom", "proposal": "ih-tomo"},
        )
        acq.start()
        acq.wait(timeout=120, progress=False)
        assert acq.counters["nb_frames_saved"] == total and acq.counters["nb_frames_dropped"] == 0
        scan = acq.scan
        master = next(f for f in scan.files if f.endswith("_master.h5"))
        online = {"volume": scan.streams["volume"][:], "sinogram": scan.streams["sinogram"][:],
                  "cor": scan.streams["center_of_rotation"][0]}
        return master, online
    finally:
        c.close()


def test_tomo_batch_equals_online(tomo_scan, tmp_path):
    master, online = tomo_scan
    assert online["volume"].shape == (48, 64, 64) and online["cor"]["method"].startswith("cross-correlation")
    # no reconstruction parameters: the layout comes from the NXtomo, filter and slices from the online run;
    # one reconstruction thread (online: one per core) — slices are independent, so the volume is the same
    r = run_batch("tomo", master, {"recon_threads": 1}, tmp_path, "rec")
    assert r.returncode == 0, r.stderr
    with daqlab.open_derived(tmp_path / "rec.derived.json") as derived:
        assert derived.manifest["processing"]["filter"] == "hann"
        assert (derived.manifest["processing"]["slice_start"], derived.manifest["processing"]["slice_stop"]) == (8, 56)
        vol = derived.streams["volume"][:]
        assert vol.dtype == np.float32 and vol.shape == online["volume"].shape
        np.testing.assert_array_equal(vol, online["volume"])  # bit for bit
        np.testing.assert_array_equal(derived.streams["sinogram"][:], online["sinogram"])
        cor = derived.streams["center_of_rotation"][0]
        assert cor["center"] == online["cor"]["center"] and cor["method"] == online["cor"]["method"]
        assert abs(cor["center"] - (63 / 2 + 2.3)) < 0.5
        assert (cor["nb_darks"], cor["nb_flats"], cor["nb_projections"]) == (10, 10, PROJECTIONS)
        assert derived.source["template"] == "tomo" and derived.identity["sample"] == "phantom"

    with h5py.File(tmp_path / "rec_master.h5", "r") as f, h5py.File(master, "r") as src:
        e = f["entry"]
        # the replayed frames are an NXtomo again, with the source's keys and angles
        assert e["tomo/definition"][()] in (b"NXtomo", "NXtomo")
        np.testing.assert_array_equal(e["tomo/instrument/detector/image_key"][()], src["entry/tomo/instrument/detector/image_key"][()])
        np.testing.assert_array_equal(e["tomo/sample/rotation_angle"][()], src["entry/tomo/sample/rotation_angle"][()])
        # the volume is the default NXdata, the same as the NXdata of the online master
        assert e.attrs["default"] in ("reconstruction", b"reconstruction")
        rec = e["reconstruction"]
        assert rec.attrs["signal"] in ("data", b"data") and rec["z"][0] == 8
        np.testing.assert_array_equal(rec["data"][()], src["entry/reconstruction/data"][()])
        # and it records its source
        link = f.get("entry/source_scan/entry", getlink=True)
        assert isinstance(link, h5py.ExternalLink) and e["source_scan/master"][()].decode() == str(master)


def edited_copy(master, name, image_key):
    """A copy of the master (beside it: the data files are found) whose NXtomo image_key is rewritten."""
    copy = shutil.copy(master, str(master).replace("online_master.h5", name))
    with h5py.File(copy, "r+") as f:
        path = "entry/tomo/instrument/detector/image_key"
        keys = image_key(f[path][()])
        del f[path]
        f[path] = keys
    return copy


def test_the_scan_layout_is_read_from_the_nxtomo(tomo_scan, tmp_path):
    """Projections the NXtomo marks invalid (3) are left out; darks or flats after projections are refused."""
    master, online = tomo_scan

    def odd_invalid(k):
        k[21::2] = 3
        return k
    thinned = edited_copy(master, "thinned_master.h5", odd_invalid)
    r = run_batch("tomo", thinned, {"slice_start": 30, "slice_stop": 34}, tmp_path, "thin")
    assert r.returncode == 0, r.stderr
    with daqlab.open_derived(tmp_path / "thin.derived.json") as derived:
        cor = derived.streams["center_of_rotation"][0]
        assert cor["nb_projections"] == 46 and cor["center"] == online["cor"]["center"]  # 0° … 180° by 4°
        assert derived.streams["sinogram"].shape == (46, 64)
        vol = derived.streams["volume"][:]
        assert vol.shape == (4, 64, 64)
        # fewer angles: close to the online slices, not equal
        diff = np.abs(vol - online["volume"][22:26]).mean() / np.abs(online["volume"][22:26]).mean()
        assert 0 < diff < 0.2, diff  # measured 0.04

    def flat_at_end(k):
        k[-1] = 1
        return k
    bad = edited_copy(master, "bad_master.h5", flat_at_end)
    r = run_batch("tomo", bad, {}, tmp_path, "bad")
    assert r.returncode == 2, r.stderr
    assert "tomo_scan.image_key: frame 110 is a flat field after the first projection (frame 20)" in r.stderr, r.stderr
    assert "NXtomo /entry/tomo of bad_master.h5" in r.stderr

    short = edited_copy(master, "short_master.h5", lambda k: k[:-1])
    r = run_batch("tomo", short, {}, tmp_path, "short")
    assert r.returncode == 2 and "/entry/tomo/instrument/detector/image_key has 110 values for 111 frames" in r.stderr, r.stderr
