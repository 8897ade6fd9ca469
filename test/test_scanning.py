"""BLISS-style step scans run by the server: points and semantics of every scan type, every channel
a stream of one numbered scan, peak statistics and goto_cen against the simulated sample's ground
truth, and the faults: targets outside limits, unknown counters, a motor fault and an abort mid-scan."""
from __future__ import annotations

import tempfile
import time

import numpy as np
import pytest

import daqlab
from daqlab.scanning import (a2scan, amesh, ascan, ct, d2scan, dmesh, dscan, lookupscan, loopscan, timescan,
                             _stats)
from test_devices import reset_devices


@pytest.fixture
def dev(client):
    reset_devices(client)
    yield client
    reset_devices(client)


def lengths(scan) -> set[int]:
    return {len(scan.scan.streams[n]) for n in scan.channels}


def test_ascan_points_channels_and_one_numbered_scan(dev):
    samy, diode, mca = dev.axis("samy"), dev.counter("diode"), dev.mca("mca")
    mca.rois.add("Fe", 6300, 6500)
    s = ascan(samy, 0, 1, 4, 0.01, "i0", diode, mca)
    assert s.state == "DONE" and s.title == "ascan samy 0 1 4 0.01"
    d = s.get_data()
    np.testing.assert_allclose(d["samy"], [0, 0.25, 0.5, 0.75, 1])
    assert list(d) == ["samy", "elapsed_time", "epoch", "i0", "diode", "mca:spectrum", "mca:Fe", "mca:deadtime"]
    assert d["mca:spectrum"].shape == (5, 4096) and d["mca:spectrum"].dtype == np.uint32
    assert (d["i0"] > 0).all() and (d["diode"] < d["i0"]).all()
    np.testing.assert_array_equal(d["mca:Fe"], d["mca:spectrum"][:, 630:651].sum(axis=1))
    assert np.all(np.diff(d["elapsed_time"]) > 0)
    # one scan of the store, with BLISS's title, closed; the next scan takes the next number
    scan = s.scan
    assert scan.state == "CLOSED" and scan.info["title"] == s.title and scan.info["end_state"] == "DONE"
    assert scan.info["plotselect"] == {"x": "samy", "y": "i0"}
    assert scan.info["start_time"] <= scan.info["end_time"]
    assert dev.scans.last().key == s.key
    assert ct(0.01, diode).number == s.number + 1


def test_alignment_cen_and_goto_cen_match_the_sample_truth(dev):
    """Scan samy across the strongest Fe grain: cen of the Fe ROI is where the truth puts the peak."""
    samx, samy, mca = dev.axis("samx"), dev.axis("samy"), dev.mca("mca")
    mca.rois.add("Fe", 6300, 6500)
    truth = dev.sample()
    g = max(truth["elements"]["Fe"], key=lambda g: g["amplitude"])
    samx.move(g["x"])
    s = ascan(samy, g["y"] - 2, g["y"] + 2, 40, 0.02, mca)
    y = s.get_data("samy")["samy"]
    conc = np.minimum(1, sum(q["amplitude"] * np.exp(-((g["x"] - q["x"]) ** 2 + (y - q["y"]) ** 2) / (2 * q["sigma"] ** 2))
                             for q in truth["elements"]["Fe"]))
    conc[np.abs(y) > truth["half_size"]] = 0
    expected = _stats(y, conc)
    assert s.cen("mca:Fe") == pytest.approx(expected["cen"], abs=0.1)
    # the grain saturates (concentration clipped at 1): the truth is a plateau, so the measured peak (argmax of noisy
    # counts) may be any point of it; it must lie where the truth is near its maximum
    at_peak = int(np.argmin(np.abs(y - s.peak("mca:Fe"))))
    assert conc[at_peak] >= 0.8 * conc.max(), (s.peak("mca:Fe"), expected["peak"], conc[at_peak], conc.max())
    assert s.fwhm("mca:Fe") == pytest.approx(expected["fwhm"], rel=0.15)
    measured = s.get_data("mca:Fe")["mca:Fe"]
    assert np.corrcoef(measured, conc)[0, 1] > 0.95
    target = s.goto_cen("mca:Fe")
    assert samy.position == pytest.approx(target) and target == pytest.approx(s.cen("mca:Fe"))


def test_relative_scans_return_to_start(dev):
    samx, samy = dev.axis("samx"), dev.axis("samy")
    samx.move(0.3)
    samy.move(-0.4)
    s = dscan(samy, -0.5, 0.5, 4, 0, "diode")
    np.testing.assert_allclose(s.get_data("samy")["samy"], -0.4 + np.linspace(-0.5, 0.5, 5))
    assert samy.position == pytest.approx(-0.4) and samy.state == "READY"
    s2 = d2scan(samx, 0, 1, samy, 0, -1, 2, 0, "i0")
    d = s2.get_data()
    np.testing.assert_allclose(d["samx"], [0.3, 0.8, 1.3])
    np.testing.assert_allclose(d["samy"], [-0.4, -0.9, -1.4])
    assert (samx.position, samy.position) == pytest.approx((0.3, -0.4))
    m = dmesh(samx, -0.1, 0.1, 1, samy, 0, 0.2, 1, 0, "i0")
    assert len(m.get_data("samx")["samx"]) == 4
    assert (samx.position, samy.position) == pytest.approx((0.3, -0.4))


def test_a2scan_mesh_lookup_time_and_loop_scans(dev):
    samx, samy, diode = dev.axis("samx"), dev.axis("samy"), dev.counter("diode")
    s = a2scan(samx, 0, 1, samy, 1, 0, 2, 0, diode)
    np.testing.assert_allclose(s.get_data("samx")["samx"], [0, 0.5, 1])
    np.testing.assert_allclose(s.get_data("samy")["samy"], [1, 0.5, 0])
    m = amesh(samx, 0, 1, 2, samy, 0, 1, 1, 0, diode, backnforth=True)
    d = m.get_data()
    np.testing.assert_allclose(d["samx"], [0, 0.5, 1, 1, 0.5, 0])
    np.testing.assert_allclose(d["samy"], [0, 0, 0, 1, 1, 1])
    assert m.title == "amesh samx 0 1 2 samy 0 1 1 0 backnforth"
    lk = lookupscan([(samx, [0.2, -0.2, 0.1]), (samy, [1, 2, 3])], 0, diode)
    np.testing.assert_allclose(lk.get_data("samy")["samy"], [1, 2, 3])
    lp = loopscan(4, 0.01, "i0", sleep_time=0.01)
    assert len(lp.get_data("i0")["i0"]) == 4 and lp.title == "loopscan 4 0.01"
    ts = timescan(0.01, "i0", npoints=3)
    assert lengths(ts) == {3}
    one = ct(0.05, "i0", "diode")
    assert lengths(one) == {1} and one.get_data("i0")["i0"][0] == pytest.approx(1e6 * 0.05, rel=0.05)


def test_measurement_group_and_default_counters(dev):
    mg = dev.measurement_group("default", [dev.counter("diode"), dev.mca("mca")])
    s = ascan(dev.axis("samy"), 0, 0.1, 1, 0, mg)
    assert s.channels == ["samy", "elapsed_time", "epoch", "diode", "mca:spectrum", "mca:deadtime"]
    everything = ct(0)
    assert {"i0", "diode", "mca:spectrum"} <= set(everything.channels)


def test_bad_input_refused_before_anything_moves(dev):
    samy = dev.axis("samy")
    last = dev.scans.last()
    with pytest.raises(daqlab.ParameterError, match="samy: 20 is outside the limits") as err:
        ascan(samy, 0, 20, 4, 0)
    assert err.value.fields[0]["field"] == "axes[0].stop"
    with pytest.raises(daqlab.ParameterError, match='unknown counter "foo"') as err:
        ascan(samy, 0, 1, 4, 0, "diode", "foo")
    assert err.value.fields[0]["field"] == "counters[1]"
    with pytest.raises(daqlab.ParameterError) as err:
        dev.call("scanning.run", type="ascan", axes=[{"axis": "samy", "start": 0, "stop": 1}], intervals=0, count_time=-1)
    assert {f["field"] for f in err.value.fields} == {"intervals", "count_time"}
    with pytest.raises(daqlab.ParameterError, match="axes"):
        dev.call("scanning.run", type="amesh", count_time=0,
                 axes=[{"axis": "samx", "start": 0, "stop": 1, "intervals": 10 ** 5},
                       {"axis": "samy", "start": 0, "stop": 1, "intervals": 10 ** 5}])
    with pytest.raises(daqlab.ParameterError, match="axes\\[0\\].axis"):
        ascan("samq", 0, 1, 2, 0, client=dev)
    # nothing was created, nothing moved
    assert dev.scans.last().key == (last.key if last else None) or last is None
    assert samy.position == 0


def test_motor_fault_mid_scan_keeps_data_consistent(dev):
    samy = dev.axis("samy")
    samy.configure(fault_at=0.55)
    with pytest.raises(daqlab.FaultError, match="samy FAULT at point 6") as err:
        ascan(samy, 0, 1, 10, 0, "diode")
    s = err.value.scan
    st = s.status()
    assert st["state"] == "FAULT" and st["points_done"] == 6
    assert lengths(s) == {6}
    assert s.scan.state == "CLOSED" and s.scan.info["end_state"] == "FAULT"
    assert samy.state == "FAULT" and samy.position == pytest.approx(0.55)


def test_abort_mid_scan_stops_the_axes_and_relative_scans_return(dev):
    samy, samz = dev.axis("samy"), dev.axis("samz")
    samy.move(0.2)
    s = dscan(samy, 0, 4, 8, 0.2, "i0", wait=False)
    time.sleep(0.5)
    assert s.state == "RUNNING"
    # the running scan owns samy; another scan cannot start
    with pytest.raises(daqlab.StateError, match="driven by scan"):
        samy.move(1)
    with pytest.raises(daqlab.StateError, match="is running"):
        ct(0.01)
    samz.move(0.1)  # an axis the scan does not drive moves
    s.abort()
    st = s.status()
    assert st["state"] == "ABORTED" and 0 < st["points_done"] < 9
    assert lengths(s) == {st["points_done"]}
    assert samy.state == "READY" and samy.position == pytest.approx(0.2)
    # a timescan runs until aborted
    t = timescan(0.01, "i0", wait=False)
    time.sleep(0.3)
    t.abort()
    assert t.status()["state"] == "ABORTED" and t.status()["npoints"] is None
    n = t.status()["points_done"]
    assert n > 0 and lengths(t) == {n}
    assert t.scan.state == "CLOSED"


def test_scan_numbers_persist_across_restarts(make_server):
    state = tempfile.mkdtemp(prefix="daqlab-state-scans-")
    a = make_server(env={"DAQLAB_STATE_DIR": state})
    with daqlab.connect(a.url) as c:
        first = ct(0.01, "i0", client=c).number
        assert ct(0.01, "i0", client=c).number == first + 1
    a.stop()
    b = make_server(env={"DAQLAB_STATE_DIR": state})
    with daqlab.connect(b.url) as c:
        assert ct(0.01, "i0", client=c).number == first + 2


def test_a_detector_among_the_counters_gives_one_frame_per_point(dev):
    """Each point triggers one frame (software trigger); the frames are a stream of the step scan."""
    det = dev.detector("sim-camera")
    s = ascan(dev.axis("samy"), 0, 0.2, 2, 0.01, "diode", det)
    assert "sim-camera:image" in s.channels
    frames = s.get_data("sim-camera:image")["sim-camera:image"]
    assert frames.shape[0] == 3 and frames.shape[1:] == tuple(det.info["shape"])
    acq_scan = dev.scans.get(s.scan.info["detectors"]["sim-camera"]["scan"])
    np.testing.assert_array_equal(frames, acq_scan.streams["frame"][:3])
    assert acq_scan.info["acquisition"]["trigger_mode"] == "software"
    assert lengths(s) == {3}
    with pytest.raises(daqlab.ParameterError, match="npoints"):
        timescan(0.01, det)


def test_saved_in_the_bliss_layout(dev, tmp_path):
    import h5py
    mca = dev.mca("mca")
    mca.rois.add("Fe", 6300, 6500)
    s = ascan(dev.axis("samy"), 0, 0.3, 3, 0.01, "diode", mca, save_dir=str(tmp_path))
    path = s.scan.files[0]
    assert path == str(tmp_path / f"scan_{s.number}.h5")
    d = s.get_data()
    with h5py.File(path, "r") as f:
        n = f"{s.number}.1"
        assert f.attrs["default"] == n
        e = f[n]
        assert e.attrs["NX_class"] == "NXentry" and e.attrs["default"] == "plotselect"
        assert e["title"][()].decode() == s.title
        assert e["start_time"][()].decode() <= e["end_time"][()].decode()
        assert e["instrument/samy"].attrs["NX_class"] == "NXpositioner"
        np.testing.assert_allclose(e["instrument/samy/value"][()], d["samy"])
        np.testing.assert_array_equal(e["instrument/mca/data"][()], d["mca:spectrum"])
        np.testing.assert_array_equal(e["instrument/mca/Fe"][()], d["mca:Fe"])
        assert e["instrument/positioners_start/samy"][()] == pytest.approx(0)
        # a flat link per channel
        assert set(e["measurement"]) == set(s.channels)
        for ch in s.channels:
            np.testing.assert_array_equal(e["measurement"][ch][()], d[ch])
        plot = e["plotselect"]
        assert plot.attrs["NX_class"] == "NXdata" and plot.attrs["signal"] == "diode"
        assert list(plot.attrs["axes"]) == ["samy"]
        np.testing.assert_array_equal(plot["diode"][()], d["diode"])
    # never overwritten; outside the data roots refused, naming the field
    with pytest.raises(daqlab.ParameterError) as err:
        ascan(dev.axis("samy"), 0, 0.3, 3, 0.01, "diode", save_dir="/etc")
    assert err.value.fields[0]["field"] == "save_dir"


def test_a_huge_fast_scan_leaves_the_server_responsive_and_aborts(dev):
    """A million-point mesh at 0 s per point: other requests are still served, abort ends it at once."""
    samx, samy = dev.axis("samx"), dev.axis("samy")
    m = amesh(samx, 0, 1, 999, samy, 0, 1, 999, 0, "i0", "mca", wait=False)
    assert m.status()["npoints"] == 1_000_000
    for _ in range(20):
        assert len(dev.call("devices.list")["devices"]) == 7
        assert dev.call("scanning.status")["state"] == "RUNNING"
    m.abort()
    st = m.status()
    assert st["state"] == "ABORTED" and 0 < st["points_done"] < 1_000_000
    assert lengths(m) == {st["points_done"]}
    assert samx.state == "READY" and samy.state == "READY"


def test_the_sample_is_deterministic_by_seed(make_server):
    """Two servers on the same seed measure the same numbers (another seed, another sample: the node tests)."""
    values = []
    for seed in ("7", "7"):
        s = make_server("--sample-seed", seed, env={"DAQLAB_STATE_DIR": tempfile.mkdtemp(prefix="daqlab-state-seed-")})
        with daqlab.connect(s.url) as c:
            c.mca("mca").rois.add("Fe", 6300, 6500)
            scan = ascan(c.axis("samy"), -1, 1, 4, 0.01, "i0", "diode", "mca", client=c)
            values.append((c.sample(), scan.get_data("i0", "diode", "mca:Fe")))
        s.stop()
    (t7, d7), (t7b, d7b) = values
    assert t7 == t7b and t7["seed"] == 7
    for k in d7:
        np.testing.assert_array_equal(d7[k], d7b[k])
