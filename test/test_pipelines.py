"""The pipelines end to end on a real server, checked against numpy, the simulator's truth and calibration."""
from __future__ import annotations

import numpy as np
import pytest

import daqlab
import simref

FLAT = {"scene": "flat", "seed": 8, "pool_size": 5}


def run(c, detector, frames, expo, det_cfg, processing, **kw):
    acq = c.detector(detector).prepare(acquisition={"nb_frames": frames, "expo_time": expo}, detector=det_cfg, processing=processing, **kw)
    acq.start()
    acq.wait(timeout=120, progress=False)
    assert acq.counters["nb_frames_processed"] == frames and acq.counters["nb_frames_dropped"] == 0
    return acq.scan


def test_legacy_transforms_and_roi_statistics_match_numpy(client, tmp_path):
    mask = np.zeros((514, 1030), np.uint8)
    mask[100:110, 200:220] = 1
    np.save(tmp_path / "mask.npy", mask)
    rois = [{"name": "a", "roi": [10, 20, 30, 40]}, {"name": "b", "roi": [0, 0, 5, 257]}]
    scan = run(client, "sim-eiger-500k", 6, 0.002, FLAT, {
        "pipeline": "legacy", "nb_receivers": 2, "mask_file": str(tmp_path / "mask.npy"),
        "bin_x": 2, "bin_y": 2, "flip_vertical": True, "rotation": 90, "rois": rois, "output_dtype": "float32",
    })
    for i in (0, 5):
        raw = simref.frame("sim-eiger-500k", FLAT, i).astype(np.float64)
        raw[mask == 1] = np.nan
        binned = raw.reshape(257, 2, 515, 2).sum(axis=(1, 3))
        expected = np.rot90(binned[::-1, :])
        got = scan.streams["frame"][i]
        assert got.shape == expected.shape == (515, 257)
        np.testing.assert_allclose(got, expected, rtol=1e-6, equal_nan=True)
        stats = scan.streams["roi_stats"][i]
        for k, r in enumerate(rois):
            r0, c0, h, w = r["roi"]
            region = expected[r0 : r0 + h, c0 : c0 + w]
            region = region[np.isfinite(region)]
            np.testing.assert_allclose(stats[k], [region.sum(), region.mean(), region.std(), region.min(), region.max()], rtol=1e-6)


def test_legacy_rejects_a_roi_outside_the_image(client):
    with pytest.raises(daqlab.ParameterError) as e:
        client.detector("sim-eiger-500k").prepare(
            acquisition={"nb_frames": 1, "expo_time": 0.01}, processing={"pipeline": "legacy", "rois": [{"name": "x", "roi": [500, 0, 100, 10]}]}
        )
    assert any(f["field"].startswith("processing.rois") for f in e.value.fields)


def test_jungfrau_pedestal_mode_recovers_the_calibration(client):
    det = client.detector("sim-jungfrau-4m")
    cal = det.calibration(seed=5)
    scan = run(client, "sim-jungfrau-4m", 16, 0.01, {"scene": "dark", "seed": 5, "pool_size": 16}, {"pipeline": "pedestal", "nb_receivers": 2})
    total = scan.streams["pedestal_sum"][-1]
    count = scan.streams["pedestal_count"][-1]
    assert count[0].min() == 16
    ped = total[0] / count[0]
    # G0 electronic noise is ~12 ADU: the mean of 16 darks is within a few ADU of the simulator's pedestal
    err = ped - cal["pedestal"][0]
    assert abs(float(np.median(err))) < 1.0 and float(np.percentile(np.abs(err), 99)) < 12


def test_jungfrau_correction_gives_near_zero_energy_on_darks(client):
    scan = run(client, "sim-jungfrau-4m", 4, 0.01, {"scene": "dark", "seed": 5, "pool_size": 4}, {"pipeline": "legacy"})
    img = scan.streams["frame"][2]
    assert img.shape == (2164, 2068) and img.dtype == np.float32
    gaps = img[514:550, :]
    assert not np.isfinite(gaps).any() or np.all(gaps == 0)  # gaps are never data
    valid = img[np.isfinite(img)]
    assert abs(float(np.median(valid))) < 0.1 and float(valid.std()) < 1.0  # keV


def test_xpcs_g2_decays_over_the_simulated_correlation_time(client):
    tau_c = 8
    scan = run(client, "sim-eiger-500k", 256, 0.002, {
        "scene": "xpcs", "correlation_frames": tau_c, "contrast": 0.8, "xpcs_intensity": 3000, "background": 0, "pool_size": 256,
    }, {"pipeline": "xpcs", "q_rings": [[1.5, 2.5], [2.5, 4]], "m": 16, "levels": 4, "update_every": 64, "publish_every": 64})
    tau = scan.streams["tau"][0]
    g2 = scan.streams["g2"][-1]
    assert g2.shape == (2, len(tau))
    assert len(scan.streams["g2"]) >= 4  # live snapshots every 64 frames
    for ring in g2:
        baseline = ring[(tau >= 4 * tau_c) & (tau <= 64)].mean()
        assert ring[0] - baseline > 0.4  # strong correlation at lag 1
        assert abs(ring[tau == 3 * tau_c][0] - baseline) < 0.1 * (ring[0] - baseline) + 0.02
