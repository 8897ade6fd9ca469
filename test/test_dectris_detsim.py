"""The real-detector path end to end: the `dectris` plugin driving `daqlab-detector-sim`.

One simulated EIGER 500K per scene (module-scoped, started once) and one daqlab server with a `--dectris`
detector per scene, Stream2 and stream v1, beside the built-in sim-eiger-500k. What arrives through SIMPLON +
ZeroMQ must be, frame for frame, what the built-in simulator gives for the same scene and seed, and the smx
and azint pipelines, fed the geometry the detector advertises, must give the built-in simulator's results.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

import daqlab
from detsim import DetectorSim

SCENES = ["flat", "dark", "serial_crystallography", "powder", "saxs", "xpcs", "tomography"]
N = 20
POOL = 4
SEED = 7
# the smx scene of test_pipelines.py, with a pool as long as the run (no frame repeats)
SMX = {"scene": "serial_crystallography", "seed": 2, "hit_rate": 0.5, "spots_per_hit": 60, "spot_intensity": 1000, "pool_size": N}
POWDER = {"scene": "powder", "seed": 3, "pool_size": 4}


def sim_args(config: dict) -> list[str]:
    rest = {k: v for k, v in config.items() if k not in ("scene", "seed")}
    return ["--model", "eiger-500k", "--scene", config["scene"], "--seed", str(config["seed"]), "--config", json.dumps(rest)]


@pytest.fixture(scope="module")
def sims():
    # the tomography scene renders live (its pool would be the whole 200-frame scan)
    configs = {s: {"scene": s, "seed": SEED, "pool_size": 0 if s == "tomography" else POOL} for s in SCENES}
    configs["smx"] = SMX
    configs["azint"] = POWDER
    started: dict[str, DetectorSim] = {}
    try:
        for name, config in configs.items():
            started[name] = DetectorSim(*sim_args(config))
        yield {name: (sim, configs[name]) for name, sim in started.items()}
    finally:
        for sim in started.values():
            sim.stop()


@pytest.fixture(scope="module")
def detsim_server(sims):
    from conftest import ServerProcess

    args = ["--detector", "sim-eiger-500k"]
    for name, (sim, _) in sims.items():
        args += ["--dectris", f"{name}={sim.http},stream={sim.stream}"]
        args += ["--dectris", f"{name}-v1={sim.http},stream={sim.stream},format=legacy"]
    s = ServerProcess(*args)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def dclient(detsim_server):
    c = daqlab.connect(detsim_server.url)
    yield c
    c.close()


def acquire(client, detector: str, config: dict | None = None, processing: dict | None = None, n: int = N):
    acq = client.detector(detector).prepare(acquisition={"nb_frames": n, "expo_time": 0.01},
                                            detector=config or {}, processing=processing or {})
    acq.start()
    try:
        acq.wait(timeout=60, progress=False)
    except daqlab.errors.DaqlabError as e:
        raise AssertionError(f"{detector}: {e}: {acq.scan.info.get('detector_series')}") from e
    assert acq.state == "STOPPED" and acq.reason == "completed", acq.status()
    return acq


def assert_complete(acq, n: int = N):
    """Every image arrived once, none invalid, nothing missing by the detector's or our count."""
    c = acq.counters
    assert c["nb_frames_acquired"] == n and c["nb_frames_invalid"] == 0, c
    series = acq.scan.info["detector_series"]
    assert series["counters"]["images_released"] == n and series["counters"]["missing_image_ids"] == 0, series
    assert not series["problems"], series["problems"]


@pytest.fixture(scope="module")
def builtin(dclient):
    """Frames of the built-in sim-eiger-500k for a configuration, acquired once on the same server."""
    cache: dict[str, np.ndarray] = {}

    def frames(config: dict) -> np.ndarray:
        key = json.dumps(config, sort_keys=True)
        if key not in cache:
            acq = acquire(dclient, "sim-eiger-500k", config)
            cache[key] = acq.scan.streams["frame"][0:N]
        return cache[key]

    return frames


@pytest.mark.parametrize("scene", SCENES)
def test_every_scene_through_stream2_equals_the_builtin_simulator(dclient, sims, builtin, scene):
    _, config = sims[scene]
    acq = acquire(dclient, scene)
    assert_complete(acq)
    frames = acq.scan.streams["frame"][0:N]
    expected = builtin(config)
    assert frames.shape == expected.shape == (N, 514, 1030) and frames.dtype == expected.dtype
    for k in range(N):
        np.testing.assert_array_equal(frames[k], expected[k], err_msg=f"{scene} frame {k}")


@pytest.mark.parametrize("fmt, receivers", [("cbor", 2), ("cbor", 4), ("legacy", 2), ("legacy", 4)])
def test_receivers_lose_nothing_and_keep_the_order(dclient, sims, builtin, fmt, receivers):
    name = "powder" if fmt == "cbor" else "powder-v1"
    _, config = sims["powder"]
    acq = acquire(dclient, name, processing={"nb_receivers": receivers})
    assert_complete(acq)
    series = acq.scan.info["detector_series"]
    frames = acq.scan.streams["frame"][0:N]
    expected = builtin(config)
    for k in range(N):
        np.testing.assert_array_equal(frames[k], expected[k], err_msg=f"{fmt} x{receivers} frame {k}")
    # the detector dealt the images round robin: every receiver got some, and none twice
    per = series["images_per_receiver"]
    assert len(per) == receivers and sum(per) == N and min(per) > 0, per
    # the frame → receiver table is published as the built-in dynamic topology's: one row per frame, in order
    table = acq.scan.streams["dispatch"][0:N]
    assert [e["frame_idx"] for e in table] == list(range(N))
    assert [sum(e["receiver"] == r for e in table) for r in range(receivers)] == per
    assert series["counters"]["duplicates"] == 0
    sim, _ = sims["powder"]
    assert sim.value("stream", "status", "dropped") == 0  # nor did the detector drop any
    assert series["detector_stream_dropped"] == 0  # and the scan says so, read when the series ended


@pytest.mark.parametrize("scene", ["flat", "xpcs"])
def test_stream_v1_equals_the_builtin_simulator(dclient, sims, builtin, scene):
    _, config = sims[scene]
    acq = acquire(dclient, f"{scene}-v1")
    assert_complete(acq)
    frames = acq.scan.streams["frame"][0:N]
    expected = builtin(config)
    for k in range(N):
        np.testing.assert_array_equal(frames[k], expected[k], err_msg=f"v1 {scene} frame {k}")


def test_the_geometry_is_the_detectors_and_equals_the_simulators(dclient, sims):
    """SIMPLON's beam_center_x/y (pixels), detector_distance (m), x/y_pixel_size (m) and wavelength (Å)
    become the scan's PONI: the one the built-in simulator renders the scene with."""
    sim, config = sims["azint"]
    got = acquire(dclient, "azint", n=1).scan.info["detector_description"]
    want = acquire(dclient, "sim-eiger-500k", config, n=1).scan.info["detector_description"]
    g, w = got["geometry"], want["geometry"]
    for key in ("pixel1", "pixel2", "dist", "poni1", "poni2", "rot1", "rot2", "rot3", "wavelength"):
        assert g[key] == pytest.approx(w[key], rel=1e-12, abs=1e-15), key
    assert got["wavelength"] == pytest.approx(want["wavelength"], rel=1e-12)
    assert got["energy_kev"] == pytest.approx(want["energy_kev"], rel=1e-12)
    # what the detector advertises, in DECTRIS's units
    c = lambda p: sim.value("detector", "config", p)  # noqa: E731
    assert c("beam_center_x") * c("x_pixel_size") == pytest.approx(w["poni2"])
    assert c("beam_center_y") * c("y_pixel_size") == pytest.approx(w["poni1"])
    assert c("detector_distance") == pytest.approx(w["dist"]) and c("wavelength") == pytest.approx(w["wavelength"] * 1e10)


def test_azint_on_the_detector_equals_azint_on_the_builtin_simulator(dclient, sims):
    _, config = sims["azint"]
    processing = {"pipeline": "azint", "npt": 300, "unit": "q_nm^-1", "nb_receivers": 2}  # no poni: the detector's
    a = acquire(dclient, "azint", processing=processing)
    b = acquire(dclient, "sim-eiger-500k", config, processing=processing)
    assert_complete(a)
    np.testing.assert_allclose(a.scan.streams["radial"][0], b.scan.streams["radial"][0], rtol=1e-6)
    ia, ib = a.scan.streams["intensity"][0:N], b.scan.streams["intensity"][0:N]
    assert ia.shape == ib.shape == (N, 300) and np.isfinite(ib).sum() > 200
    np.testing.assert_allclose(ia, ib, rtol=1e-5, atol=1e-6, equal_nan=True)
    np.testing.assert_allclose(a.scan.streams["sigma"][0:N], b.scan.streams["sigma"][0:N], rtol=1e-5, atol=1e-6, equal_nan=True)


def test_smx_on_the_detector_equals_smx_on_the_builtin_simulator(dclient, sims):
    _, config = sims["smx"]
    processing = {"pipeline": "smx", "npt": 500, "min_nb_peaks": 20, "nb_receivers": 2}
    a = acquire(dclient, "smx", processing=processing)
    b = acquire(dclient, "sim-eiger-500k", config, processing=processing)
    assert_complete(a)
    ca, cb = a.scan.streams["peak_counter"][0:N], b.scan.streams["peak_counter"][0:N]
    key = lambda e: (e["frame_idx"], e["nb_peaks"], e["is_hit"])  # noqa: E731
    assert [key(e) for e in ca] == [key(e) for e in cb]
    assert 0 < sum(e["is_hit"] for e in cb) < N  # hits and misses: the comparison means something
    pa = a.scan.streams["peaks"][0 : len(a.scan.streams["peaks"])]
    pb = b.scan.streams["peaks"][0 : len(b.scan.streams["peaks"])]
    assert len(pa) == len(pb) > 100
    for p, q in zip(pa, pb):
        assert p.keys() == q.keys()
        for k in p:
            if isinstance(q[k], float):
                assert p[k] == pytest.approx(q[k], rel=1e-5, abs=1e-6), (k, p, q)
            else:
                assert p[k] == q[k], (k, p, q)
    np.testing.assert_allclose(a.scan.streams["acc_corrected"][-1], b.scan.streams["acc_corrected"][-1], rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def eiger4m():
    """An EIGER2 4M (module gaps) with its own server: the gap pixels carry DECTRIS's NODATA value, 2**32 - 1."""
    from conftest import ServerProcess

    config = {"scene": "powder", "seed": 4, "pool_size": 2}
    sim = DetectorSim(*sim_args(config)[2:], "--model", "eiger2-4m")
    server = ServerProcess("--detector", "sim-eiger-4m", "--dectris", f"e4m={sim.http},stream={sim.stream}")
    c = daqlab.connect(server.url)
    try:
        yield c, config
    finally:
        c.close()
        server.stop()
        sim.stop()


def test_gap_pixels_are_nodata_for_azint_as_on_the_builtin_simulator(eiger4m):
    c, config = eiger4m
    assert c.detector("e4m").info["dummy"] == 2**32 - 1  # DECTRIS's NODATA: the largest value of the image's type
    processing = {"pipeline": "azint", "npt": 200, "unit": "q_nm^-1"}
    a = acquire(c, "e4m", processing=processing, n=2)
    b = acquire(c, "sim-eiger-4m", config, processing=processing, n=2)
    assert (a.scan.streams["frame"][0] == 2**32 - 1).any()  # the gaps are in the frames
    ia, ib = a.scan.streams["intensity"][0:2], b.scan.streams["intensity"][0:2]
    assert np.nanmax(ib) < 1e6  # gap pixels left out
    np.testing.assert_allclose(ia, ib, rtol=1e-5, atol=1e-6, equal_nan=True)


@pytest.fixture(scope="module")
def flood():
    """A detector whose stream buffer holds a few images only, and one whose buffer holds none (every image dropped)."""
    from conftest import ServerProcess

    sims = {name: DetectorSim("--model", "eiger-500k", "--scene", "powder", "--seed", "1", "--config", '{"pool_size": 4}',
                              "--stream-buffer", str(budget)) for name, budget in (("small", 400_000), ("none", 1))}
    server = ServerProcess(*[a for name, sim in sims.items() for a in ("--dectris", f"{name}={sim.http},stream={sim.stream}")])
    c = daqlab.connect(server.url)
    try:
        yield c, sims
    finally:
        c.close()
        server.stop()
        for sim in sims.values():
            sim.stop()


@pytest.mark.parametrize("name", ["small", "none"])
def test_a_detector_sending_faster_than_the_receivers_keep_up(flood, name):
    """The detector sends flat out (9 kHz) into a small buffer while a slow pipeline (azint, one frame pending) keeps up
    as it can: the detector's dropped count and ours are both reported and agree, nothing crashes."""
    c, sims = flood
    n = 200
    acq = c.detector(name).prepare(acquisition={"nb_frames": n, "expo_time": 1 / 9000},
                                   processing={"pipeline": "azint", "npt": 100, "unit": "q_nm^-1", "max_pending": 1})
    acq.start()
    acq.wait(timeout=120, progress=False)
    assert acq.state == "STOPPED" and acq.reason == "completed", acq.status()
    series = acq.scan.info["detector_series"]
    theirs = sims[name].value("stream", "status", "dropped")
    ours = series["counters"]["missing_image_ids"]
    assert series["detector_stream_dropped"] == theirs  # the detector's own count, read when the series ended
    assert ours == theirs  # every image the detector dropped is one we miss, and we lost none of those it sent
    assert series["counters"]["images_released"] + ours == n
    counters = acq.scan.info["counters"]  # as the scan closed, every frame through processing
    assert counters["nb_frames_acquired"] == n - ours
    assert counters["nb_frames_processed"] + counters["nb_frames_dropped"] == counters["nb_frames_acquired"]
    warnings = acq.scan.info["warnings"]
    if name == "none":
        assert theirs == n  # a buffer smaller than one image: the detector sends none
    assert any("dropped" in w and "by its own count" in w for w in warnings) == (theirs > 0), warnings
    assert c.detector(name).status()["stream_dropped"] == theirs  # and det.status says so too
