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


SMX_SCENE = {"scene": "serial_crystallography", "seed": 2, "hit_rate": 0.5, "spots_per_hit": 60, "spot_intensity": 1000, "pool_size": 200}


def smx_scan(c, nb_receivers=1, topology=None, frames=200):
    processing = {"pipeline": "smx", "nb_receivers": nb_receivers, "npt": 500, "min_nb_peaks": 20}
    if topology:
        processing["topology"] = topology
    return run(c, "sim-eiger-500k", frames, 0.005, SMX_SCENE, processing)


def test_smx_hit_finding_agrees_with_the_simulated_truth(client):
    scan = smx_scan(client, 2)
    counter = scan.streams["peak_counter"][0:200]
    truth = scan.streams["sim_truth"][0:200]
    assert [e["frame_idx"] for e in counter] == list(range(200))
    found = np.array([e["is_hit"] for e in counter])
    true = np.array([e["is_hit"] for e in truth])
    assert (found == true).mean() >= 0.99, (found != true).sum()
    # isolated bright spots are found, and the centroids of found peaks lie within 0.3 px of the drawn spot
    peaks = scan.streams["peaks"][0 : len(scan.streams["peaks"])]
    errors, missed = [], 0
    for e in truth[:40]:
        if not e["is_hit"]:
            continue
        spots = np.array(e["spots"])
        mine = np.array([(p["y"], p["x"]) for p in peaks if p["frame_idx"] == e["frame_idx"]])
        for row, col, photons in spots:
            others = np.hypot(spots[:, 0] - row, spots[:, 1] - col)
            isolated = np.sort(others)[1] >= 8 and 4 <= row < 510 and 4 <= col < 1026
            if photons < 400 or not isolated:
                continue
            d = np.hypot(mine[:, 0] - row, mine[:, 1] - col).min()
            if d < 2:
                errors.append(d)
            else:
                missed += 1
    assert len(errors) > 100
    assert max(errors) < 0.3, max(errors)
    assert missed <= 0.01 * (len(errors) + missed), (missed, len(errors))
    # the sparse frames keep a small fraction of the pixels: the data reduction
    sparse = scan.streams["sparse_frame"][0:50]
    kept = np.mean([len(s["index"]) for s in sparse])
    assert 0 < kept < 0.02 * 514 * 1030


def test_smx_results_do_not_depend_on_receivers_or_topology(client):
    a = smx_scan(client, 1, frames=60)
    b = smx_scan(client, 2, "dynamic", frames=60)
    ca = a.streams["peak_counter"][0:60]
    cb = b.streams["peak_counter"][0:60]
    assert [(e["frame_idx"], e["nb_peaks"], e["is_hit"]) for e in ca] == [(e["frame_idx"], e["nb_peaks"], e["is_hit"]) for e in cb]
    pa = a.streams["peaks"][0 : len(a.streams["peaks"])]
    pb = b.streams["peaks"][0 : len(b.streams["peaks"])]
    assert pa == pb
    np.testing.assert_array_equal(a.streams["acc_corrected"][-1], b.streams["acc_corrected"][-1])


def test_smx_veto_keeps_only_the_dense_frames_of_hits(client):
    scan = run(client, "sim-eiger-500k", 60, 0.005, SMX_SCENE, {"pipeline": "smx", "npt": 500, "min_nb_peaks": 20, "veto": True})
    hits = sum(e["is_hit"] for e in scan.streams["peak_counter"][0:60])
    assert 10 < hits < 50
    assert len(scan.streams["frame"]) == hits
    assert len(scan.streams["peak_counter"]) == 60  # counters of every frame are kept


def test_azint_agrees_with_pyfai_on_the_same_frames(client, tmp_path):
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator
    from pyFAI.detectors import Detector

    poni = {"dist": 0.1, "poni1": 0.0193, "poni2": 0.0386, "rot1": 0.01, "rot2": -0.005, "rot3": 0.0, "wavelength": 1e-10}
    ai = AzimuthalIntegrator(detector=Detector(75e-6, 75e-6, max_shape=(514, 1030)), **poni)
    for method, unit in (("bbox", "2th_deg"), ("no", "q_nm^-1"), ("bbox", "r_mm")):
        scan = run(client, "sim-eiger-500k", 3, 0.01, {"scene": "powder", "poni": poni, "seed": 1, "pool_size": 3},
                   {"pipeline": "azint", "poni": poni, "npt": 400, "unit": unit, "method": method, "polarization_factor": 0.95})
        radial = scan.streams["radial"][0]
        for i in range(3):
            frame = scan.streams["frame"][i]
            ref = ai.integrate1d(frame.astype(np.float64), 400, unit=unit, method=(method, "csr", "cython"), polarization_factor=0.95,
                                 correctSolidAngle=True, error_model="poisson", dummy=2**32 - 1, delta_dummy=0.5)
            np.testing.assert_allclose(radial, ref.radial, rtol=1e-6)
            counts = ai.integrate1d(np.ones((514, 1030)), 400, unit=unit, method=(method, "csr", "cython"), correctSolidAngle=False).count
            well = counts >= 100 if counts is not None else np.ones(400, bool)
            got = scan.streams["intensity"][i]
            np.testing.assert_allclose(got[well], ref.intensity[well], rtol=1e-3)
            np.testing.assert_allclose(scan.streams["sigma"][i][well], ref.sigma[well], rtol=1e-3)


def test_bad_azint_parameters_are_rejected_with_the_field(client):
    det = client.detector("sim-eiger-500k")
    with pytest.raises(daqlab.ParameterError) as e:
        det.prepare(acquisition={"nb_frames": 1, "expo_time": 0.01}, processing={"pipeline": "azint", "npt": 0})
    assert "processing.npt" in {f["field"] for f in e.value.fields}
    with pytest.raises(daqlab.ParameterError) as e:
        det.prepare(acquisition={"nb_frames": 1, "expo_time": 0.01},
                    processing={"pipeline": "azint", "poni": {"dist": -0.1, "poni1": 0, "poni2": 0, "rot1": 0, "rot2": 0, "rot3": 0, "wavelength": 1e-10}})
    assert any(f["field"].startswith("processing.poni") for f in e.value.fields)


def test_partial_frame_topology_gives_the_same_results(client):
    """Each receiver corrects some Jungfrau modules into one shared image; one receiver finishes the frame."""
    scene = {"scene": "serial_crystallography", "seed": 6, "hit_rate": 0.5, "spots_per_hit": 40, "spot_intensity": 600, "pool_size": 8}
    base = {"pipeline": "smx", "npt": 300, "min_nb_peaks": 15}
    single = run(client, "sim-jungfrau-4m", 16, 0.02, scene, {**base, "nb_receivers": 1})
    partial = run(client, "sim-jungfrau-4m", 16, 0.02, scene, {**base, "nb_receivers": 2, "topology": "partial"})
    assert partial.info["processing"]["topology"] == "partial"
    for i in (0, 7, 15):
        np.testing.assert_array_equal(single.streams["frame"][i], partial.streams["frame"][i])
    a = single.streams["peak_counter"][0:16]
    b = partial.streams["peak_counter"][0:16]
    assert [(e["nb_peaks"], e["is_hit"]) for e in a] == [(e["nb_peaks"], e["is_hit"]) for e in b]
    assert sum(e["is_hit"] for e in b) > 0
    with pytest.raises(daqlab.ParameterError) as e:
        client.detector("sim-eiger-500k").prepare(acquisition={"nb_frames": 1, "expo_time": 0.01},
                                                 processing={"pipeline": "smx", "nb_receivers": 2, "topology": "partial"})
    assert [f["field"] for f in e.value.fields] == ["processing.topology"]


def test_missing_calibration_maps_are_named_at_prepare(client, tmp_path):
    det = client.detector("sim-jungfrau-4m")
    with pytest.raises(daqlab.ParameterError) as e:
        det.prepare(acquisition={"nb_frames": 1, "expo_time": 0.01}, processing={"pipeline": "legacy", "pedestal_file": str(tmp_path / "nope.npy")})
    fields = {f["field"]: f["message"] for f in e.value.fields}
    assert "processing.pedestal_file" in fields and "nope.npy" in fields["processing.pedestal_file"]
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((2, 3), np.float32))
    with pytest.raises(daqlab.ParameterError) as e:
        det.prepare(acquisition={"nb_frames": 1, "expo_time": 0.01}, processing={"pipeline": "legacy", "gain_file": str(bad)})
    assert "processing.gain_file" in {f["field"] for f in e.value.fields}
    assert det.state in ("IDLE", "STOPPED")  # nothing was prepared
