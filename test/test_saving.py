"""Saving to HDF5/NeXus on a real server, checked with h5py + hdf5plugin and nexusformat
(independent readers): the master's virtual dataset, the NeXus tree, sparse and peak
files, and what happens on abort, crash, full disk, existing files and bad paths."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import hdf5plugin  # noqa: F401  (bitshuffle/LZ4 for h5py)
import h5py
import numpy as np
import pytest
from nexusformat.nexus import nxload

import daqlab
import simref
from conftest import wait_until

FLAT = {"scene": "flat", "seed": 11, "pool_size": 7}
DET = "sim-eiger-500k"


@pytest.fixture(autouse=True)
def leave_detector_usable(server):
    """A test that ends in FAULT (on purpose or not) must not break the next one."""
    yield
    c = daqlab.connect(server.url)
    try:
        if c.detector(DET).state == "FAULT":
            c.detector(DET).reset()
    finally:
        c.close()


def text(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def saving(path, **kw) -> dict:
    return {"enabled": True, "base_path": str(path), **kw}


def acquire(client, tmp_path, frames=12, expo=0.002, processing=None, det=DET, det_cfg=FLAT, scan=None, **save):
    acq = client.detector(det).prepare(
        acquisition={"nb_frames": frames, "expo_time": expo}, detector=det_cfg,
        processing=processing or {"pipeline": "none"}, saving=saving(tmp_path, **save), scan=scan or {"name": "sv"},
    )
    acq.start()
    acq.wait(timeout=180, progress=False)
    return acq


@pytest.mark.parametrize("processing,writers", [
    ({"pipeline": "none"}, 1),
    ({"pipeline": "none"}, 2),
    ({"pipeline": "legacy", "nb_receivers": 2}, None),
    ({"pipeline": "legacy", "nb_receivers": 3, "topology": "dynamic"}, None),
])
@pytest.mark.parametrize("compression", ["bslz4", "gzip", "none"])
def test_master_virtual_dataset_returns_the_streamed_frames_in_order(client, tmp_path, processing, writers, compression):
    n = 23
    acq = acquire(client, tmp_path, frames=n, processing=processing, nb_frames_per_file=4, compression=compression,
                  nb_writers=writers, prefix="vds")
    scan = acq.scan
    streamed = scan.streams["frame"][:]
    assert acq.counters["nb_frames_saved"] == n == len(streamed)
    files = scan.files
    assert files[0].endswith("vds_master.h5") and all(os.path.exists(f) for f in files)
    nb_writers = writers or processing.get("nb_receivers", 1)
    data_files = [f for f in files[1:] if not f.endswith("_sparse.h5")]
    ranks = {os.path.basename(f).split("_")[1] for f in data_files}
    if processing.get("topology") == "dynamic":  # the next free receiver: not every one need get frames
        dispatched = {str(e["receiver"]) for e in scan.streams["dispatch"][:]}
        assert ranks == dispatched and ranks <= {str(r) for r in range(nb_writers)}, (ranks, dispatched)
    else:
        assert ranks == {str(r) for r in range(nb_writers)}
    assert len(data_files) >= -(-n // 4)  # several files per writer
    with h5py.File(files[0], "r") as f:
        ds = f["entry/instrument/detector/data"]
        assert ds.is_virtual and ds.shape == (n, 514, 1030)
        assert {os.path.basename(s.file_name) for s in ds.virtual_sources()} == {os.path.basename(p) for p in data_files}
        np.testing.assert_array_equal(ds[()], streamed)
        assert list(f["entry/measurement/frame_index"][()]) == list(range(n))
    for p in data_files:
        with h5py.File(p, "r") as f:
            d = f["entry/instrument/detector/data"]
            assert d.chunks == (1, 514, 1030) and 1 <= d.shape[0] <= 4
            if compression == "bslz4":
                assert "32008" in d._filters
            elif compression == "gzip":
                assert d.compression == "gzip"
            else:
                assert d.compression is None
    if processing["pipeline"] == "none":
        for i in (0, 9, n - 1):
            np.testing.assert_array_equal(streamed[i], simref.frame(DET, FLAT, i))


def test_nexus_tree_metadata_and_default_plot(client, tmp_path):
    acq = acquire(client, tmp_path, frames=5, processing={"pipeline": "legacy", "rois": [{"name": "a", "roi": [0, 0, 10, 10]}]},
                  scan={"name": "meta", "sample": "lysozyme", "proposal": "mx1234", "info": {"operator": "ana"}})
    master = acq.scan.files[0]
    with h5py.File(master, "r") as f:
        assert text(f.attrs["NX_class"]) == "NXroot" and text(f.attrs["default"]) == "entry"
        e = f["entry"]
        assert text(e.attrs["NX_class"]) == "NXentry" and text(e.attrs["default"]) == "data"
        for name in ("title", "start_time", "end_time", "definition", "program_name"):
            assert text(e[name][()])
        assert text(e["experiment_identifier"][()]) == "mx1234"
        assert text(e["sample/name"][()]) == "lysozyme" and text(e["sample"].attrs["NX_class"]) == "NXsample"
        det = e["instrument/detector"]
        assert text(e["instrument"].attrs["NX_class"]) == "NXinstrument" and text(det.attrs["NX_class"]) == "NXdetector"
        assert det["x_pixel_size"][()] == pytest.approx(75e-6) and text(det["x_pixel_size"].attrs["units"]) == "m"
        assert text(det["distance"].attrs["units"]) == "m" and det["distance"][()] > 0
        assert text(det["count_time"].attrs["units"]) == "s"
        poni = text(det["geometry/poni"][()])
        assert "Distance" in poni and "Poni1" in poni
        params = json.loads(text(e["process/parameters/data"][()]))
        assert params["acquisition"]["nb_frames"] == 5 and params["processing"]["pipeline"] == "legacy"
        assert json.loads(text(e["scan_info/data"][()]))["operator"] == "ana"
        assert text(e["process"].attrs["NX_class"]) == "NXprocess"
        plot = e["data"]
        assert text(plot.attrs["NX_class"]) == "NXdata" and text(plot.attrs["signal"]) == "data"
        assert plot["data"].shape == (5, 514, 1030)
        # every NXdata has its axes, with units (issue 14: viewers label them)
        assert [text(a) for a in plot.attrs["axes"]] == [".", "y", "x"]
        assert plot["y"].shape == (514,) and plot["x"].shape == (1030,) and text(plot["x"].attrs["units"]) == "pixel"
        # roi_stats: one named dataset per ROI and statistic, the first the signal, on the item index
        stats = acq.scan.streams["roi_stats"][:]
        rs = e["roi_stats"]
        assert text(rs.attrs["NX_class"]) == "NXdata" and text(rs.attrs["signal"]) == "a_sum"
        assert [text(a) for a in rs.attrs["auxiliary_signals"]] == ["a_mean", "a_std", "a_min", "a_max"]
        for k, col in enumerate(("sum", "mean", "std", "min", "max")):
            np.testing.assert_allclose(rs[f"a_{col}"][()], stats[:, 0, k])
            assert text(rs[f"a_{col}"].attrs["long_name"]) == f"{col} of a"
        assert [text(a) for a in rs.attrs["axes"]] == ["index"] and rs["index"][()].tolist() == [0, 1, 2, 3, 4]
        assert text(rs["index"].attrs["units"]) == "frame"
        assert text(e["process/results/roi_stats"].attrs["columns"]) == "sum,mean,std,min,max"
        m = e["measurement"]
        assert text(m.attrs["NX_class"]) == "NXcollection" and m["timestamp"].shape == (5,)
        assert text(m["timestamp"].attrs["units"]) == "s"
        roi = e["process/results/roi_stats"]
        np.testing.assert_allclose(roi[()], acq.scan.streams["roi_stats"][:])
        assert e.get("measurement/roi_stats", getlink=True).path == "/entry/process/results/roi_stats"
        np.testing.assert_allclose(m["roi_stats"][()], roi[()])
    root = nxload(master)
    assert root.entry.nxclass == "NXentry" and root.entry.sample.nxclass == "NXsample"
    assert root.plottable_data.nxpath == "/entry/data" and root.plottable_data.nxsignal.nxname == "data"
    # nexusformat models a virtual field as one item per source mapping (its .shape says so), but its
    # reads go through h5py: slices of the frames come back right
    vds = root["entry/instrument/detector/data"]
    np.testing.assert_array_equal(vds[0:5].nxvalue, acq.scan.streams["frame"][:])
    np.testing.assert_array_equal(vds[3].nxvalue, acq.scan.streams["frame"][3])
    assert root.entry.instrument.detector.x_pixel_size.nxunits == "m"
    assert root.entry.roi_stats.nxsignal.nxname == "a_sum" and root.entry.roi_stats.nxaxes[0].nxname == "index"
    assert [a.nxname for a in root.entry.data.nxaxes[-2:]] == ["y", "x"]


def test_open_master_reads_like_the_live_scan(client, tmp_path):
    acq = acquire(client, tmp_path, frames=9, processing={"pipeline": "legacy", "nb_receivers": 2, "rois": [{"name": "a", "roi": [5, 5, 20, 30]}]},
                  nb_frames_per_file=3)
    live = acq.scan
    with daqlab.open_master(live.files[0]) as saved:
        assert saved.key == live.key and set(saved.files) == set(live.files)
        for name in ("frame", "roi_stats"):
            s, l = saved.streams[name], live.streams[name]
            assert len(s) == len(l) == 9
            np.testing.assert_allclose(s[:], l[:])
            np.testing.assert_allclose(s[-1], l[-1])
            np.testing.assert_allclose(s[2:8:3], l[2:8:3])
        np.testing.assert_array_equal(saved.streams["frame"].read(1, 3, roi=(10, 20, 30, 40), binning=2),
                                      live.streams["frame"].read(1, 3, roi=(10, 20, 30, 40), binning=2))
        batch = saved.streams["frame"].read_batch(0, 4)
        assert list(batch.index) == [0, 1, 2, 3] and batch.valid.all()
        assert saved.default.attrs["signal"] in ("data", b"data")
        with pytest.raises(daqlab.IndexWontBeThereError):
            saved.streams["frame"][9]


def test_smx_sparse_frames_and_cxi_peaks_with_veto(client, tmp_path):
    det_cfg = {"scene": "serial_crystallography", "seed": 3, "pool_size": 12}
    processing = {"pipeline": "smx", "nb_receivers": 2, "npt": 300, "min_nb_peaks": 8, "veto": True}
    acq = acquire(client, tmp_path, frames=12, expo=0.005, processing=processing, det_cfg=det_cfg)
    scan = acq.scan
    counters = scan.streams["peak_counter"][:]
    hits = [c["frame_idx"] for c in counters if c["is_hit"]]
    assert 0 < len(hits) < 12, "the scene should mix hits and misses"
    master, sparse = scan.files[0], scan.files[-1]
    assert sparse.endswith("_sparse.h5")
    with h5py.File(master, "r") as f:
        ds = f["entry/instrument/detector/data"]
        assert ds.shape[0] == len(hits) == len(scan.streams["frame"])
        assert list(f["entry/measurement/frame_index"][()]) == hits
        np.testing.assert_array_equal(ds[()], scan.streams["frame"][:])
        nb = f["entry/measurement/peak_counter/nb_peaks"][()]  # a link to process/results/peak_counter
        assert list(nb) == [c["nb_peaks"] for c in counters]
    events = scan.streams["sparse_frame"][:]
    peaks = scan.streams["peaks"][:]
    with h5py.File(sparse, "r") as f:
        g = f["entry_0000/sparse_frames"]
        ptr, index, intensity = g["frame_ptr"][()], g["index"][()], g["intensity"][()]
        assert len(ptr) == 13 and ptr[0] == 0 and ptr[-1] == len(index)
        for k, e in enumerate(events):
            dense = np.zeros(514 * 1030, np.float32)
            dense[index[ptr[k]:ptr[k + 1]]] = intensity[ptr[k]:ptr[k + 1]]
            expected = np.zeros_like(dense)
            expected[np.asarray(e["index"], np.int64)] = e["intensity"]
            np.testing.assert_array_equal(dense, expected)
        assert g["background_avg"].shape[0] == 12
        p = f["entry_0000/peaks"]
        npk = p["nPeaks"][()]
        assert list(npk) == [sum(1 for x in peaks if x["frame_idx"] == c["frame_idx"]) for c in counters]
        for k, c in enumerate(counters):
            mine = [x for x in peaks if x["frame_idx"] == c["frame_idx"]]
            np.testing.assert_allclose(p["peakXPosRaw"][k, :npk[k]], [x["x"] for x in mine], rtol=1e-6)
            np.testing.assert_allclose(p["peakYPosRaw"][k, :npk[k]], [x["y"] for x in mine], rtol=1e-6)
            np.testing.assert_allclose(p["peakTotalIntensity"][k, :npk[k]], [x["intensity"] for x in mine], rtol=1e-5)
            np.testing.assert_allclose(p["peakSNR"][k, :npk[k]], [x["snr"] for x in mine], rtol=1e-5)
        np.testing.assert_array_equal(f["entry_1/result_1/nPeaks"][()], npk)  # where CrystFEL looks


def test_azimuthal_integration_saved_as_nxdata(client, tmp_path):
    det_cfg = {"scene": "powder", "seed": 2, "pool_size": 3}
    acq = acquire(client, tmp_path, frames=4, expo=0.01, processing={"pipeline": "azint", "npt": 500, "unit": "q_nm^-1"},
                  det_cfg=det_cfg, save_frames=False)
    with h5py.File(acq.scan.files[0], "r") as f:
        e = f["entry"]
        assert text(e.attrs["default"]) == "integrate1d"
        g = e["integrate1d"]
        assert text(g.attrs["NX_class"]) == "NXdata" and text(g.attrs["signal"]) == "intensity"
        assert [text(a) for a in g.attrs["axes"]] == ["index", "radial"]
        assert text(g["radial"].attrs["units"]) == "1/nm" and "long_name" not in g["radial"].attrs  # `radial (1/nm)`
        assert g["index"][()].tolist() == [0, 1, 2, 3] and text(g["index"].attrs["units"]) == "frame"
        np.testing.assert_allclose(g["intensity"][()], acq.scan.streams["intensity"][:])
        np.testing.assert_allclose(e["measurement/intensity"][()], acq.scan.streams["intensity"][:])
        np.testing.assert_allclose(g["radial"][()], acq.scan.streams["radial"][0])
        assert "detector/data" not in e["instrument"]


def test_abort_mid_scan_leaves_consistent_files(client, tmp_path):
    acq = client.detector(DET).prepare(acquisition={"nb_frames": 100000, "expo_time": 0.005}, detector=FLAT,
                                       saving=saving(tmp_path, nb_frames_per_file=10))
    acq.start()
    wait_until(lambda: acq.counters["nb_frames_saved"] >= 15, timeout=30)
    acq.abort()
    wait_until(lambda: acq.status()["finished"], timeout=30)
    saved = acq.counters["nb_frames_saved"]
    frames = acq.scan.streams["frame"]
    assert saved == len(frames) >= 15
    with h5py.File(acq.scan.files[0], "r") as f:
        ds = f["entry/instrument/detector/data"]
        assert ds.shape[0] == saved
        for i in (0, saved - 1):
            np.testing.assert_array_equal(ds[i], simref.frame(DET, FLAT, i))
        assert "aborted" in text(f["entry/end_reason"][()])


def test_killed_server_leaves_readable_files_and_files_read_while_written(make_server, tmp_path):
    srv = make_server()
    c = daqlab.connect(srv.url)
    acq = c.detector(DET).prepare(acquisition={"nb_frames": 100000, "expo_time": 0.01}, detector=FLAT,
                                  saving=saving(tmp_path, nb_frames_per_file=1000, flush_interval=0.2, compression="bslz4"))
    acq.start()
    wait_until(lambda: acq.counters["nb_frames_saved"] >= 20, timeout=30)
    data_file = acq.scan.files[1]
    time.sleep(0.5)
    with h5py.File(data_file, "r") as f:  # while the writer is still writing
        d = f["entry/instrument/detector/data"]
        n_live = d.shape[0]
        assert n_live >= 10
        np.testing.assert_array_equal(d[n_live - 1], simref.frame(DET, FLAT, n_live - 1))
    c.close()
    os.kill(srv.proc.pid, signal.SIGKILL)
    srv.proc.wait(10)
    with h5py.File(data_file, "r") as f:
        d = f["entry/instrument/detector/data"]
        assert d.shape[0] >= n_live
        for i in range(0, d.shape[0], 7):
            np.testing.assert_array_equal(d[i], simref.frame(DET, FLAT, i))


def test_trimmed_frames_are_read_back_from_the_files(make_server, tmp_path):
    srv = make_server("--memory-budget", str(12 * 514 * 1030 * 4))
    c = daqlab.connect(srv.url)
    acq = c.detector(DET).prepare(acquisition={"nb_frames": 40, "expo_time": 0.002}, detector=FLAT,
                                  saving=saving(tmp_path, nb_frames_per_file=16))
    acq.start()
    acq.wait(timeout=60, progress=False)
    frames = acq.scan.streams["frame"]
    assert frames.info["info"] is not None
    for i in (0, 5, 39):
        np.testing.assert_array_equal(frames[i], simref.frame(DET, FLAT, i))
    np.testing.assert_array_equal(frames[0:3], np.stack([simref.frame(DET, FLAT, i) for i in range(3)]))
    c.close()


@pytest.fixture
def small_disk(tmp_path):
    """A 6 MiB tmpfs: a few uncompressed Eiger 500K frames fill it."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.fail("the disk-full test mounts a small tmpfs: run the tests as root (CI does)")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mnt)], check=True)
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_disk_full_stops_with_a_clear_error_and_readable_files(client, small_disk):
    acq = client.detector(DET).prepare(acquisition={"nb_frames": 50, "expo_time": 0.01}, detector=FLAT,
                                       saving=saving(small_disk, compression="none", nb_frames_per_file=100, flush_interval=0.05))
    acq.start()
    with pytest.raises(daqlab.FaultError) as err:
        acq.wait(timeout=60, progress=False)
    msg = str(err.value)
    assert "ENOSPC" in msg and "frames saved" in msg
    saved = acq.counters["nb_frames_saved"]
    assert 0 < saved < 50
    data_file = next(p for p in acq.scan.files if "_0_" in p)
    with h5py.File(data_file, "r") as f:
        d = f["entry/instrument/detector/data"]
        assert d.shape[0] >= 1
        np.testing.assert_array_equal(d[0], simref.frame(DET, FLAT, 0))
    # the server goes on: a new acquisition works after reset
    client.detector(DET).reset()
    ok = client.detector(DET).prepare(acquisition={"nb_frames": 2, "expo_time": 0.01}, detector=FLAT)
    ok.start().wait(timeout=30, progress=False)


def test_queue_limit_stops_the_acquisition_saying_how_many_frames_were_saved(client, tmp_path):
    acq = client.detector(DET).prepare(acquisition={"nb_frames": 20000, "expo_time": 0.0002}, detector=FLAT,
                                       saving=saving(tmp_path, compression="gzip", compression_level=9, max_queued_frames=8))
    acq.start()
    with pytest.raises(daqlab.FaultError) as err:
        acq.wait(timeout=60, progress=False)
    msg = str(err.value)
    assert "cannot keep up" in msg and "max_queued_frames = 8" in msg and "frames saved" in msg
    saved = acq.counters["nb_frames_saved"]
    with h5py.File(acq.scan.files[0], "r") as f:
        assert f["entry/instrument/detector/data"].shape[0] == saved
        np.testing.assert_array_equal(f["entry/instrument/detector/data"][saved - 1], simref.frame(DET, FLAT, saved - 1))
    client.detector(DET).reset()


def test_existing_files_abort_or_overwrite(client, tmp_path):
    acquire(client, tmp_path, frames=3, prefix="same")
    with pytest.raises(daqlab.ParameterError) as err:
        client.detector(DET).prepare(acquisition={"nb_frames": 3}, detector=FLAT, saving=saving(tmp_path, prefix="same"))
    assert any(f["field"] == "saving.file_exists_policy" and "same_master.h5" in f["message"] for f in err.value.fields)
    acq = acquire(client, tmp_path, frames=5, prefix="same", file_exists_policy="overwrite")
    with h5py.File(acq.scan.files[0], "r") as f:
        assert f["entry/instrument/detector/data"].shape[0] == 5


def test_bad_saving_parameters_are_named(client, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    cases = [
        ({"enabled": True}, "saving.base_path"),
        ({"enabled": True, "base_path": "relative/dir"}, "saving.base_path"),
        ({"enabled": True, "base_path": str(blocker / "sub")}, "saving.base_path"),
        ({"enabled": True, "base_path": str(tmp_path), "compression": "zstd"}, "saving.compression"),
        ({"enabled": True, "base_path": str(tmp_path), "nb_frames_per_file": 0}, "saving.nb_frames_per_file"),
        ({"enabled": True, "base_path": str(tmp_path), "prefix": "../escape"}, "saving.prefix"),
    ]
    for params, field in cases:
        with pytest.raises(daqlab.ParameterError) as err:
            client.detector(DET).prepare(acquisition={"nb_frames": 1}, saving=params)
        assert any(f["field"] == field for f in err.value.fields), (params, err.value.fields)


def test_unwritable_folder_is_refused_at_prepare(client, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() != 0:
        pytest.fail("this test mounts a read-only tmpfs: run the tests as root (CI does)")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)], check=True)
    try:
        with pytest.raises(daqlab.ParameterError) as err:
            client.detector(DET).prepare(acquisition={"nb_frames": 1}, saving=saving(ro / "data"))
        assert any(f["field"] == "saving.base_path" and "cannot write" in f["message"] for f in err.value.fields)
    finally:
        subprocess.run(["umount", "-l", str(ro)], check=False)


def test_xpcs_g2_saved_as_nxdata_with_its_delay_axis(client, tmp_path):
    det_cfg = {"scene": "xpcs", "correlation_frames": 8, "contrast": 0.8, "xpcs_intensity": 3000, "background": 0, "pool_size": 64}
    processing = {"pipeline": "xpcs", "q_rings": [[1.5, 2.5], [2.5, 4]], "m": 8, "levels": 3, "update_every": 32, "publish_every": 32}
    acq = acquire(client, tmp_path, frames=64, processing=processing, det_cfg=det_cfg, save_frames=False)
    with h5py.File(acq.scan.files[0], "r") as f:
        e = f["entry"]
        assert text(e.attrs["default"]) == "xpcs"
        g = e["xpcs"]
        assert text(g.attrs["NX_class"]) == "NXdata" and text(g.attrs["signal"]) == "g2"
        assert [text(a) for a in g.attrs["axes"]] == ["q", "tau"]
        assert int(g.attrs["q_indices"]) == 0 and int(g.attrs["tau_indices"]) == 1
        # every axis carries its units: q the ring centres in 1/nm, tau in s, the frame lags in frames
        assert text(g["q"].attrs["units"]) == "1/nm"
        np.testing.assert_allclose(g["q"][()], acq.scan.streams["q"][0])
        np.testing.assert_allclose(g["q"][()], [2.0, 3.25])
        assert text(g["tau"].attrs["units"]) == "s"
        assert text(g["tau_frames"].attrs["units"]) == "frames"
        assert g["q_ring"][()].tolist() == [0, 1]
        # and so does the stream info
        assert acq.scan.streams["q"].info["info"]["unit"] == "q_nm^-1"
        assert acq.scan.streams["g2"].info["info"]["axes_units"] == ["q_nm^-1", "frames"]
        assert acq.scan.streams["tau"].info["info"]["unit"] == "frames"
        np.testing.assert_allclose(g["g2"][()], acq.scan.streams["g2"][-1])
        np.testing.assert_allclose(g["tau"][()], acq.scan.streams["tau"][0] * 0.002)  # frame period 2 ms
        np.testing.assert_allclose(g["tau_frames"][()], acq.scan.streams["tau"][0])
