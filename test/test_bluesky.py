"""daqlab.bluesky (issue 18): ophyd-async devices over daqlab's detector, axes and counters, driven by a real
bluesky RunEngine in .venv-bluesky (bluesky 1.15, ophyd-async 0.21, event-model, tiled, bluesky-tiled-plugins;
scripts/setup.sh makes it). One driver run (test/bluesky_driver.py) against the session server does count,
scan, grid_scan, rel_scan and a fly plan, validates every document with event-model and writes the runs to a
SimpleTiledServer with TiledWriter; these tests check what it reports against the daqlab server itself."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import daqlab

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def runs(server, tmp_path_factory):
    venv = Path(os.environ.get("DAQLAB_BLUESKY_VENV") or ROOT / ".venv-bluesky")
    python = venv / "bin" / "python"
    assert python.exists(), f"{python} is missing: run DAQLAB_SETUP_FOR=test scripts/setup.sh"
    out = tmp_path_factory.mktemp("bluesky")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "kernel-bridge")}
    r = subprocess.run([str(python), str(ROOT / "test" / "bluesky_driver.py"), server.url, str(out)],
                       capture_output=True, text=True, timeout=400, env=env)
    assert r.returncode == 0 and "OK" in r.stdout, r.stdout[-3000:] + r.stderr[-6000:]
    result = json.loads((out / "result.json").read_text())
    result["out"] = out
    return result


@pytest.fixture(scope="module")
def c(server):
    client = daqlab.connect(server.url)
    yield client
    client.close()


def _frames_equal_tiled(runs, c, key, n):
    run = runs["runs"][key]
    tiled = np.load(runs["out"] / f"{key}_tiled.npy")
    frames = c.scans.get(run["scan_key"]).streams["frame"]
    assert len(frames) == n
    served = np.stack([np.asarray(frames[i]) for i in range(n)])
    assert tiled.reshape(served.shape).shape == (n, 514, 1030)
    assert np.array_equal(tiled.reshape(served.shape), served), "frames read back from Tiled differ from the server's"
    assert served.any()


def test_count_points_the_images_at_the_servers_hdf5_by_stream_resource(runs):
    run = runs["runs"]["count"]
    assert run["exit_status"] == "success" and run["n_events"] == 3
    assert {"stream_resource", "stream_datum"} <= set(run["names"])
    (res,) = run["resources"]
    assert res["uri"].endswith(Path(run["master"]).name) and res["mimetype"] == "application/x-hdf5"
    assert res["parameters"]["dataset"] == "/entry/instrument/detector/data"
    assert run["data_keys"]["eiger"]["external"] == "STREAM:" and run["data_keys"]["eiger"]["shape"] == [1, 514, 1030]
    assert "eiger" not in run["rows"], "images must not travel inside events"
    assert run["datums"] == [{"start": i, "stop": i + 1} for i in range(3)]
    assert len(run["rows"]["diode"]) == 3 and all(v > 0 for v in run["rows"]["diode"])
    assert Path(run["master"]).exists()


def test_tiled_stores_the_run_and_its_frames_equal_the_servers(runs, c):
    _frames_equal_tiled(runs, c, "count", 3)


def test_scan_moves_samy_and_counts_diode_and_i0(runs):
    run = runs["runs"]["scan"]
    assert run["rows"]["samy"] == pytest.approx([-1, -0.5, 0, 0.5, 1], abs=1e-3)
    assert len(run["rows"]["diode"]) == len(run["rows"]["i0"]) == 5
    assert min(run["rows"]["i0"]) > max(run["rows"]["diode"]) > 0  # the diode sees what the sample lets through


def test_grid_scan_visits_every_point(runs):
    run = runs["runs"]["grid"]
    pts = sorted(zip(np.round(run["rows"]["samx"], 3), np.round(run["rows"]["samy"], 3)))
    assert pts == sorted((x, y) for x in (-0.5, 0.0, 0.5) for y in (-0.5, 0.5))


def test_rel_scan_is_relative_and_returns(runs, c):
    run = runs["runs"]["rel"]
    assert run["rows"]["samy"] == pytest.approx([0.1, 0.3, 0.5], abs=1e-3)
    assert runs["samy_after_rel"] == pytest.approx(0.3, abs=1e-3)
    _frames_equal_tiled(runs, c, "rel", 3)


def test_a_fly_plan_collects_the_detectors_frames(runs, c):
    run = runs["runs"]["fly"]
    assert run["exit_status"] == "success"
    assert run["datums"][-1]["stop"] == 20 and run["datums"][0]["start"] == 0
    _frames_equal_tiled(runs, c, "fly", 20)


def test_the_mca_reads_its_spectrum_dead_time_and_rois(runs):
    run = runs["runs"]["mca"]
    assert run["n_events"] == 2
    assert run["data_keys"]["mca-spectrum"]["shape"] == [4096]
    assert all(len(sp) == 4096 and sum(sp) > 0 for sp in run["rows"]["mca-spectrum"])
    assert all(0 <= d < 1 for d in run["rows"]["mca-deadtime"])
    assert all(v >= 0 for v in run["rows"]["mca-roi_Fe"])


def test_a_target_outside_the_limits_is_refused_naming_the_axis(runs):
    assert runs["limit_error"] and "samy" in runs["limit_error"] and "limits" in runs["limit_error"], runs["limit_error"]
    assert runs["samy_after_limit"] == pytest.approx(0.3, abs=1e-3)
