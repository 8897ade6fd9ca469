"""ESRF's ewoksxrpd integrates a daqlab step scan saved in BLISS's layout, unmodified: its
IntegrateBlissScanWithoutSaving task reads the detector's frames and a counter through blissdata's HDF5
reader, and its patterns equal pyFAI's on the frames daqlab serves (same venv, same geometry)."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np

from daqlab.scanning import ascan
from test_devices import reset_devices

ROOT = Path(__file__).resolve().parents[1]
DET = "sim-eiger-500k"
# the simulator's default geometry for this detector (daq-server/src/detectors/sim/specs.ts), in pyFAI's terms
GEOMETRY = {"dist": 0.08, "poni1": 0.019275, "poni2": 0.038625, "rot1": 0, "rot2": 0, "rot3": 0}

SCRIPT = r"""
import json, sys
import numpy as np
from ewoksxrpd.tasks.integrate import IntegrateBlissScanWithoutSaving
from pyFAI.integrator.azimuthal import AzimuthalIntegrator
import pyFAI.detectors
args = json.loads(sys.argv[1])
options = {"nbpt_rad": 200, "unit": "2th_deg"}
task = IntegrateBlissScanWithoutSaving(inputs=dict(
    filename=args["filename"], scan=args["scan"], detector_name=args["detector"], counter_names=["diode"],
    detector="Eiger500k", geometry=args["geometry"], energy=12.4, integration_options=options))
task.execute()
out = task.get_output_values()
frames = np.load(args["frames"])
ai = AzimuthalIntegrator(detector=pyFAI.detectors.detector_factory("Eiger500k"), wavelength=12.398419843320026e-10 / 12.4,
                         **args["geometry"])
ref = [ai.integrate1d(f, 200, unit="2th_deg").intensity for f in frames]
json.dump({"intensity": np.asarray(out["intensity"]).tolist(), "radial": np.asarray(out["radial"]).tolist(),
           "units": str(out["radial_units"]), "reference": np.asarray(ref).tolist()}, sys.stdout)
"""


def test_ewoksxrpd_integrates_a_daqlab_bliss_scan(client, tmp_path):
    venv = Path(os.environ.get("DAQLAB_EWOKS_VENV") or ROOT / ".venv-ewoks")
    python = venv / "bin" / "python"
    assert python.exists(), f"{venv} is missing: DAQLAB_SETUP_FOR=test scripts/setup.sh creates it (ewoksxrpd)"
    reset_devices(client)
    s = ascan(client.axis("samy"), 0, 0.2, 2, 0.01, "diode", client.detector(DET), save_dir=str(tmp_path))
    frames = s.get_data(f"{DET}:image")[f"{DET}:image"]
    np.save(tmp_path / "frames.npy", frames)
    args = {"filename": s.scan.files[0], "scan": s.number, "detector": DET, "geometry": GEOMETRY,
            "frames": str(tmp_path / "frames.npy")}
    r = subprocess.run([str(python), "-c", SCRIPT, json.dumps(args)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-4000:]
    out = json.loads(r.stdout)
    intensity = np.asarray(out["intensity"])
    assert intensity.shape == (3, 200) and out["units"].startswith("2th")
    assert np.isfinite(intensity).all() and intensity.max() > 0
    np.testing.assert_allclose(intensity, np.asarray(out["reference"]), rtol=1e-5, atol=1e-6)
