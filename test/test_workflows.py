"""Workflows at scan end: an ewoks graph (ESRF's `ewoks` + `ewoksxrpd`, in .venv-ewoks) run by the server on a
scan's saved master, its outputs registered as a derived scan; a failing graph shown beside the scan, the scan
intact; bad workflow requests refused at prepare with the field named."""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from daqlab.errors import ParameterError
from daqlab.scanning import ascan
from daqlab.workflows import wait_workflow, workflow_status
from test_devices import reset_devices

ROOT = Path(__file__).resolve().parents[1]
DET = "sim-eiger-500k"
PONI = {"dist": 0.1, "poni1": 0.0193, "poni2": 0.0386, "rot1": 0.01, "rot2": -0.005, "rot3": 0.0, "wavelength": 1e-10}
NPT = 400
# the same integration in pyFAI's worker terms (ewoksxrpd): 2θ, pixel splitting, solid angle, the Eiger gap dummy
OPTIONS = {"nbpt_rad": NPT, "unit": "2th_deg", "method": ["bbox", "csr", "cython"], "correct_solid_angle": True,
           "dummy": 4294967295.0, "delta_dummy": 0.5}


def powder(client, tmp_path, workflow, frames=3):
    """A powder acquisition with daqlab's online azint, saved so that BLISS readers find it (entry 1.1)."""
    acq = client.detector(DET).prepare(
        acquisition={"nb_frames": frames, "expo_time": 0.01},
        detector={"scene": "powder", "poni": PONI, "seed": 1, "pool_size": frames},
        processing={"pipeline": "azint", "poni": PONI, "npt": NPT, "unit": "2th_deg", "method": "bbox"},
        saving={"enabled": True, "base_path": str(tmp_path), "prefix": "powder", "nx_entry_name": "1.1", "nx_detector_name": "eiger"},
        workflow=workflow)
    acq.start()
    acq.wait(timeout=120, progress=False)
    return acq


def integrate_inputs():
    return {"scan": 1, "detector_name": "eiger", "detector": "Eiger500k",
            "geometry": {k: v for k, v in PONI.items() if k != "wavelength"},
            "energy": 12.398419843320026 / (PONI["wavelength"] * 1e10), "integration_options": OPTIONS}


def test_ewoksxrpd_graph_at_scan_end_gives_the_online_azint_curve(client, tmp_path):
    acq = powder(client, tmp_path, {"graph": "integrate.json", "inputs": integrate_inputs()})
    scan = acq.scan
    wf = wait_workflow(scan.key, timeout=240, client=client)
    assert wf["state"] == "DONE", wf["error"]
    assert wf["on"] == "end" and wf["where"] == "local" and wf["graph"].endswith("workflows/integrate.json")
    # the derived scan points at the outputs, its source the powder scan
    derived = client.scans.get(wf["derived"])
    assert derived.info["derived"]["template"] == "ewoks" and derived.info["derived"]["source_key"] == scan.key
    assert derived.info["saving"]["master"] == wf["output"]
    with h5py.File(wf["output"]) as f:
        radial = f["entry/results/radial"][()]
        intensity = f["entry/results/intensity"][()]
        assert f["entry/results"].attrs["signal"] == "intensity"
        assert json.loads(f["entry/workflow/inputs"][()])["detector_name"] == "eiger"
    assert intensity.shape == (3, NPT)
    online_radial = np.asarray(scan.streams["radial"][0])
    np.testing.assert_allclose(radial, online_radial, rtol=1e-6)
    # bins with >= 100 pixels, as pyFAI counts them on the same detector
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator
    from pyFAI.detectors import Detector
    ai = AzimuthalIntegrator(detector=Detector(75e-6, 75e-6, max_shape=(514, 1030)), **PONI)
    counts = ai.integrate1d(np.ones((514, 1030)), NPT, unit="2th_deg", method=("bbox", "csr", "cython"), correctSolidAngle=False).count
    well = counts >= 100
    assert well.sum() > NPT // 2
    for i in range(3):
        online = np.asarray(scan.streams["intensity"][i])
        np.testing.assert_allclose(intensity[i][well], online[well], rtol=1e-3)
    # the scan's info says it too
    assert client.scans.get(scan.key).info["workflow"]["state"] == "DONE"


def test_a_failing_graph_is_shown_beside_the_scan_which_stays_intact(client, tmp_path):
    reset_devices(client)
    # a detector name the file does not have: ewoksxrpd's task fails reading it
    inputs = {**integrate_inputs(), "detector_name": "no_such_detector"}
    inputs.pop("scan")
    s = ascan(client.axis("samy"), 0, 0.2, 2, 0.01, "diode", client.detector(DET), save_dir=str(tmp_path),
              workflow={"graph": "integrate.json", "inputs": inputs})
    wf = wait_workflow(s, timeout=240)
    assert wf["state"] == "FAILED" and wf["derived"] is None
    assert "no_such_detector" in wf["error"], wf["error"]
    assert s.state == "DONE"
    assert s.scan.info["workflow"]["state"] == "FAILED" and "no_such_detector" in s.scan.info["workflow"]["error"]
    data = s.get_data("diode", "samy")
    assert len(data["diode"]) == 3 and np.allclose(data["samy"], [0, 0.1, 0.2])
    with h5py.File(s.scan.info["saving"]["master"]) as f:  # the scan's own file is untouched
        assert f[f"{s.number}.1/measurement/diode"].shape == (3,)
    assert workflow_status(s)["state"] == "FAILED"


@pytest.mark.parametrize("workflow, field, words", [
    ({"graph": "missing.json"}, "workflow.graph", "no graph file"),
    ({"graph": "/etc/passwd"}, "workflow.graph", "outside"),
    ({"graph": "integrate.json", "on": "later"}, "workflow.on", "end"),
    ({"graph": "integrate.json", "where": "slurm"}, "workflow.where", "Slurm"),
    ({"graph": "integrate.json", "inputs": {"filename": "/x.h5"}}, "workflow.inputs.filename", "given by daqlab"),
    ({"graph": "integrate.json", "timeout": -1}, "workflow.timeout", "seconds"),
    ({"graph": "integrate.json", "bogus": 1}, "workflow.bogus", "unknown"),
])
def test_bad_workflows_are_refused_at_prepare_with_the_field(client, tmp_path, workflow, field, words):
    reset_devices(client)
    before = client.axis("samy").position
    with pytest.raises(ParameterError) as e:
        ascan(client.axis("samy"), 0, 0.1, 1, 0.01, "diode", save_dir=str(tmp_path), workflow=workflow)
    assert field in str(e.value) and words in str(e.value), str(e.value)
    assert client.axis("samy").position == before  # nothing started


def test_a_graph_of_methods_is_refused_and_a_workflow_needs_a_saved_scan(client, tmp_path):
    reset_devices(client)
    graph = tmp_path / "evil.json"
    graph.write_text(json.dumps({"graph": {"id": "g"}, "nodes": [{"id": "a", "task_type": "method", "task_identifier": "os.system"}], "links": []}))
    with pytest.raises(ParameterError, match=r"workflow.graph.*task_type \"method\" is not allowed"):
        ascan(client.axis("samy"), 0, 0.1, 1, 0.01, "diode", save_dir=str(tmp_path), workflow={"graph": str(graph)})
    with pytest.raises(ParameterError, match="workflow.*saved"):
        ascan(client.axis("samy"), 0, 0.1, 1, 0.01, "diode", workflow={"graph": "integrate.json"})
    with pytest.raises(ParameterError, match="workflow.*saved"):
        client.detector(DET).prepare(acquisition={"nb_frames": 1, "expo_time": 0.01}, workflow="integrate.json")


def test_on_prepared_starts_the_graph_while_the_scan_runs(client, tmp_path):
    reset_devices(client)
    inputs = {**integrate_inputs(), "detector_name": "no_such_detector"}
    inputs.pop("scan")
    s = ascan(client.axis("samy"), 0, 1, 15, 0.2, "diode", save_dir=str(tmp_path), wait=False,
              workflow={"graph": "integrate.json", "inputs": inputs, "on": "prepared"})
    wf = wait_workflow(s, timeout=240)
    s.wait(60)
    assert wf["on"] == "prepared" and wf["state"] == "FAILED"  # the graph had no such detector; the scan went on
    assert s.state == "DONE" and len(s.get_data("diode")["diode"]) == 16
    assert wf["start_time"] < s.scan.info["end_time"], (wf, s.scan.info["end_time"])
