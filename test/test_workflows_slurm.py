"""A workflow with where="slurm": the scan's ewoks graph runs as a job of the `ewoks` template on the real local
Slurm, as the user who started the scan, and its outputs come back as a derived scan (test_workflows.py covers the
local runs and the errors)."""
from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import pytest

import daqlab
from conftest import ServerProcess
from daqlab.scanning import loopscan
from daqlab.workflows import wait_workflow
from slurm_cluster import let_job_users_run
from test_workflows import DET, NPT, integrate_inputs

pytestmark = pytest.mark.timeout(240)
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def server(slurm_cluster, slurm_users):
    venv = Path(os.environ.get("DAQLAB_EWOKS_VENV") or ROOT / ".venv-ewoks")
    let_job_users_run(str(venv / "bin" / "python"))
    s = ServerProcess(*slurm_cluster.server_args("cli", slurm_users))
    yield s
    s.stop()


def test_a_workflow_runs_as_a_slurm_job_of_the_scans_user(server, slurm_cluster, slurm_users):
    folder = slurm_cluster.root / "wf-scans"
    folder.mkdir(mode=0o755, exist_ok=True)
    c = daqlab.connect(server.url, token=slurm_users.tokens["alice"])
    try:
        inputs = {k: v for k, v in integrate_inputs().items() if k not in ("scan",)}
        inputs["detector_name"] = DET
        det = c.detector(DET)
        s = loopscan(2, 0.01, det, save_dir=str(folder), client=c,
                     workflow={"graph": "integrate.json", "inputs": inputs, "where": "slurm", "timeout": 300})
        assert s.state == "DONE"
        wf = wait_workflow(s, timeout=200)
        assert wf["state"] == "DONE", wf["error"]
        assert wf["where"] == "slurm" and wf["job_id"]
        derived = c.scans.get(wf["derived"])
        assert derived.info["derived"]["source"] == s.scan.info["saving"]["master"]
        with h5py.File(wf["output"]) as f:
            intensity = f["entry/results/intensity"][()]
        assert intensity.shape == (2, NPT) and np.isfinite(intensity).all() and intensity.max() > 0
        assert Path(wf["output"]).stat().st_uid == slurm_users.alice.pw_uid  # written by the job, as alice
    finally:
        c.close()
