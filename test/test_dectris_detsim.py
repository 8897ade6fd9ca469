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
    acq = client.detector(detector).prepare(acquisition={"nb_frames": n, "expo_time": 0.002},
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
    # the detector dealt the images round robin: every receiver got some
    assert series, series


@pytest.mark.parametrize("scene", ["flat", "xpcs"])
def test_stream_v1_equals_the_builtin_simulator(dclient, sims, builtin, scene):
    _, config = sims[scene]
    acq = acquire(dclient, f"{scene}-v1")
    assert_complete(acq)
    frames = acq.scan.streams["frame"][0:N]
    expected = builtin(config)
    for k in range(N):
        np.testing.assert_array_equal(frames[k], expected[k], err_msg=f"v1 {scene} frame {k}")


def test_the_geometry_is_the_detectors(dclient, sims):
    acq = acquire(dclient, "azint", n=1)
    ref = acquire(dclient, "sim-eiger-500k", POWDER, n=1)
    got = acq.scan.info["detector_description"]
    want = ref.scan.info["detector_description"]
    print(json.dumps(got, default=str)[:3000])
    print(json.dumps(want, default=str)[:3000])
