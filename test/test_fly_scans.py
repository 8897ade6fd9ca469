"""Continuous (fly) scans run by the server: fscan and fmesh with encoder positions at each trigger,
a real simulated EIGER taking one frame per trigger, 10 kHz fast channels joined by trigger index,
the XRF map of a fly mesh against the sample's truth, the BLISS file, and the faults: a detector
slower than the triggers refused with both rates, an abort leaving the motor stopped."""
from __future__ import annotations

import time

import numpy as np
import pytest

import daqlab
from daqlab.scanning import FlyScan, fmesh, fscan
from test_devices import reset_devices


@pytest.fixture
def dev(client):
    reset_devices(client)
    yield client
    reset_devices(client)


def trigger_lengths(s) -> set[int]:
    return {len(s.scan.streams[n]) for n in s.channels if not n.startswith("fast:")}


def test_fscan_with_a_detector_fast_channels_and_the_bliss_file(dev, tmp_path):
    import h5py
    samy = dev.axis("samy")
    dev.mca("mca").rois.add("Fe", 6300, 6500)
    s = fscan(samy, -1, 0.02, 50, 0.01, "i0", "mca", "sim-eiger-500k", fast_counters=["samy_interf", "i0"],
              fast_rate=5000, save_dir=str(tmp_path))
    assert isinstance(s, FlyScan) and s.state == "DONE", s.status()
    assert s.title == "fscan samy -1 0.02 50 0.01"
    d = s.get_data()
    assert trigger_lengths(s) == {50}
    np.testing.assert_allclose(d["samy"], -1 + 0.02 * np.arange(50), atol=1.5e-4)  # the encoder at each trigger
    np.testing.assert_array_equal(d["trigger"], np.arange(50))
    assert d["mca:spectrum"].shape == (50, 4096)
    # 50 samples per trigger at 5 kHz, joined on the trigger index: the interferometer's mean is mid-exposure
    assert len(d["fast:trigger"]) == 2500
    np.testing.assert_array_equal(s.per_trigger("samy_interf", "count"), np.full(50, 50.0))
    np.testing.assert_allclose(s.per_trigger("samy_interf") - d["samy"], 0.0099, atol=2e-4)
    assert s.per_trigger("fast:i0", "sum") == pytest.approx(d["i0"], rel=0.1)
    # the detector took one frame per trigger, in its own scan
    info = s.scan.info
    assert info["scan_engine"] == "fly" and info["trigger_rate"] == pytest.approx(100)
    det = dev.scans.get(info["detectors"]["sim-eiger-500k"]["scan"])
    assert len(det.streams["frame"]) == 50 and det.info["fly_scan_title"] == s.title
    assert info["detector_frames"]["sim-eiger-500k"] == {"acquired": 50, "processed": 50, "dropped": 0}
    assert dev.axis("samy").state == "READY"
    with h5py.File(s.scan.files[0], "r") as f:
        e = f[f"{s.number}.1"]
        assert e["title"][()].decode() == s.title and e.attrs["default"] == "plotselect"
        np.testing.assert_allclose(e["measurement/samy"][()], d["samy"])
        np.testing.assert_array_equal(e["measurement/fast:trigger"][()], d["fast:trigger"])
        np.testing.assert_array_equal(e["instrument/fast/samy_interf"][()], d["fast:samy_interf"])
        np.testing.assert_array_equal(e["instrument/mca/data"][()], d["mca:spectrum"])


def test_fmesh_xrf_map_follows_the_sample(dev):
    samx, samy = dev.axis("samx"), dev.axis("samy")
    dev.mca("mca").rois.add("Fe", 6300, 6500)
    truth = dev.sample()
    g = max(truth["elements"]["Fe"], key=lambda g: g["amplitude"])
    x0, y0 = round(g["x"] - 1.5, 2), round(g["y"] - 1.5, 2)
    s = fmesh(samx, x0, 0.1, 30, samy, y0, 0.3, 11, 0.01, "mca", backnforth=True)
    assert s.state == "DONE", s.status()
    grid = s.scan.info["grid"]
    assert grid["backnforth"] and [a["intervals"] for a in grid["axes"]] == [29, 10]
    d = s.get_data("samx", "samy", "mca:Fe")
    assert len(d["mca:Fe"]) == 330
    conc = np.minimum(1, sum(q["amplitude"] * np.exp(-((d["samx"] + 0.05 - q["x"]) ** 2 + (d["samy"] - q["y"]) ** 2)
                                                     / (2 * q["sigma"] ** 2)) for q in truth["elements"]["Fe"]))
    assert np.corrcoef(conc, d["mca:Fe"])[0, 1] > 0.95


def test_a_detector_too_slow_for_the_triggers_is_refused_and_an_abort_stops_the_motor(dev):
    samy = dev.axis("samy")
    with pytest.raises(daqlab.ParameterError) as err:
        fscan(samy, 0, 0.001, 100, 0.001, "sim-camera")
    assert err.value.fields[0]["field"] == "counters[0]"
    assert "100 Hz" in str(err.value) and "1000 Hz" in str(err.value)
    with pytest.raises(daqlab.ParameterError) as err:
        fscan(samy, -10, 0.01, 10, 0.002)  # the acceleration ramp would leave the limits
    assert err.value.fields[0]["field"] == "axes[0].start"
    s = fscan(samy, -4, 0.002, 4000, 0.002, "i0", fast_counters=["samy_interf"], wait=False)
    time.sleep(1.5)
    s.abort()
    assert s.state == "ABORTED"
    done = s.status()["points_done"]
    assert 0 < done < 4000 and trigger_lengths(s) == {done}
    assert s.get_data("fast:trigger")["fast:trigger"].max() < done
    assert samy.info()["state"] == "READY"
    at = samy.position
    time.sleep(0.1)
    assert samy.position == at
