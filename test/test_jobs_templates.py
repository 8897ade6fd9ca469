"""The job templates end to end on the real local Slurm: a scan acquired and saved by a daqlab
server, a template job submitted through daqlab.jobs as a test user, the batch runner (or the
notebook runner) running as that user on the cluster, and its result — a derived scan — read back
through the same client API and compared with the online result.

One backend (the command-line tools) is enough here: test_jobs.py covers both."""
from __future__ import annotations

import os
from pathlib import Path

import nbformat
import numpy as np
import pytest

import daqlab
from conftest import ServerProcess, wait_until
from slurm_cluster import ALICE

pytestmark = pytest.mark.timeout(180)

DET = "sim-eiger-500k"
AZINT = {"npt": 300, "unit": "q_nm^-1", "method": "bbox"}
SMX = {"npt": 300, "min_nb_peaks": 8}


@pytest.fixture(scope="module")
def server(slurm_cluster, slurm_users):
    s = ServerProcess(*slurm_cluster.server_args("cli", slurm_users))
    yield s
    s.stop()


@pytest.fixture(scope="module")
def alice(server, slurm_users):
    c = daqlab.connect(server.url, token=slurm_users.tokens["alice"])
    yield c
    c.close()


@pytest.fixture(scope="module")
def scans_dir(slurm_cluster):
    """Where the server saves the scans: readable by the job users (the cluster root is 0755)."""
    d = slurm_cluster.root / "scans"
    d.mkdir(mode=0o755, exist_ok=True)
    return d


def acquire_saved(client, folder: Path, processing: dict, det_cfg: dict, frames: int, prefix: str):
    acq = client.detector(DET).prepare(
        acquisition={"nb_frames": frames, "expo_time": 0.002}, detector=det_cfg,
        processing={**processing, "nb_receivers": 2},
        saving={"enabled": True, "base_path": str(folder), "prefix": prefix, "compression": "bslz4"},
        scan={"name": prefix, "sample": "CeO2", "proposal": "ih-jobs"},
    )
    acq.start()
    acq.wait(timeout=120, progress=False)
    assert acq.counters["nb_frames_saved"] == frames
    return acq.scan


def test_azint_template_on_slurm_equals_online(alice, scans_dir, capsys):
    scan = acquire_saved(alice, scans_dir, {"pipeline": "azint", **AZINT},
                         {"scene": "powder", "seed": 5, "pool_size": 12}, 12, "powder")
    online = {name: scan.streams[name][:] for name in ("intensity", "radial", "sigma", "frame")}
    job = daqlab.jobs.submit(template="azint", scan=scan, params=AZINT, cpus=2, time="00:10:00", client=alice)
    assert job.user == ALICE and job.info["template"] == "azint"
    job.wait(timeout=120, progress=True)
    err = capsys.readouterr().err
    assert job.state == "COMPLETED", job.logs("stderr")
    assert "12/12" in err and "COMPLETED" in err                  # the bar followed "progress 12 12"
    with job.result as derived:
        assert derived.source["master"] == scan.files[0] and derived.source["template"] == "azint"
        assert derived.manifest["frames"] == [0, 12] and derived.manifest["counters"]["nb_frames_dropped"] == 0
        for name in ("intensity", "radial", "sigma", "frame"):
            np.testing.assert_array_equal(derived.streams[name][:], online[name], err_msg=name)
        # written as alice, in her job folder
        assert Path(derived.path).parent == Path(job.info["job_dir"]) / "output"
        assert os.stat(derived.path).st_uid == os.stat(job.info["stdout"]).st_uid != 0

    # registered back: the server lists the derived scan, linked to its source and its job
    def registered():
        found = [s for s in alice.call("scans.search", {})["scans"] if (s["info"].get("derived") or {}).get("job_id") == job.id]
        return found[0] if found else None
    assert wait_until(lambda: registered() is not None, 20, 0.2), "the derived scan was never registered"
    summary = registered()
    d = summary["info"]["derived"]
    assert d["source"] == scan.files[0] and d["source_key"] == scan.key and d["template"] == "azint"
    assert d["master"] == job.result.path and summary["state"] == "CLOSED"
    with daqlab.open_derived(d["master"]) as again:
        np.testing.assert_array_equal(again.streams["intensity"][:], online["intensity"])


def test_smx_template_on_slurm_peaks_equal_online(alice, scans_dir):
    det_cfg = {"scene": "serial_crystallography", "seed": 3, "pool_size": 10, "hit_rate": 0.5}
    scan = acquire_saved(alice, scans_dir, {"pipeline": "smx", **SMX}, det_cfg, 10, "smx")
    online = scan.streams["peak_counter"][:]
    assert any(c["is_hit"] for c in online)
    job = daqlab.jobs.submit(template="smx", scan=scan, params=SMX, time="00:10:00", client=alice, name="hits")
    job.wait(timeout=120, progress=False)
    assert job.state == "COMPLETED", job.logs("stderr")
    with job.result as derived:
        counter = derived.streams["peak_counter"][:]
        assert [c["nb_peaks"] for c in counter] == [c["nb_peaks"] for c in online]
        assert [bool(c["is_hit"]) for c in counter] == [bool(c["is_hit"]) for c in online]
        assert derived.source["template"] == "smx"


def test_notebook_template_on_slurm(alice, scans_dir):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("factor = 1"), nbformat.v4.new_code_cell("import getpass\nprint(factor * 21, getpass.getuser())")]
    nb.cells[0].metadata["tags"] = ["parameters"]
    path = scans_dir / "param.ipynb"
    nbformat.write(nb, path)
    path.chmod(0o644)
    job = daqlab.jobs.submit(template="notebook", notebook=str(path), parameters={"factor": 2}, time="00:10:00", client=alice)
    job.wait(timeout=120, progress=False)
    assert job.state == "COMPLETED", job.logs("stderr")
    out = Path(job.info["job_dir"]) / "notebook.ipynb"
    done = nbformat.read(out, as_version=4)
    assert done.cells[1].metadata["tags"] == ["injected-parameters"] and "factor = 2" in done.cells[1].source
    assert done.cells[2].outputs[0]["text"] == f"42 {ALICE}\n"               # ran on the cluster, as alice
    with pytest.raises(daqlab.StateError, match="left no derived scan"):
        job.result


def test_program_job_users_cannot_run_is_refused_at_submission(slurm_cluster, tmp_path, slurm_users):
    """A template whose interpreter the job's user cannot reach fails at submission, not in the job."""
    private = tmp_path / "private"
    (private / "bin").mkdir(parents=True)
    private.chmod(0o700)
    python = private / "bin" / "python"
    python.symlink_to("/usr/bin/python3")
    s = ServerProcess(*slurm_cluster.server_args("cli", slurm_users), "--jobs-python", str(python))
    try:
        c = daqlab.connect(s.url, token=slurm_users.tokens["alice"])
        with pytest.raises(daqlab.ParameterError, match=f"cannot reach {private}") as err:
            daqlab.jobs.submit(template="notebook", notebook="/x.ipynb", client=c)
        assert err.value.fields[0]["field"] == "template"
        c.close()
    finally:
        s.stop()


def test_derived_scan_registered_after_a_server_restart(slurm_cluster, slurm_users, alice, scans_dir):
    """A template job that ends while its server is down is still registered (and listed, and its result
    read) by the next server on the same jobs folder; the job completion file (sacct -c) knows ended jobs."""
    scan = acquire_saved(alice, scans_dir, {"pipeline": "azint", **AZINT}, {"scene": "powder", "seed": 9, "pool_size": 4}, 4, "restart")
    first = ServerProcess(*slurm_cluster.server_args("cli", slurm_users))
    try:
        c = daqlab.connect(first.url, token=slurm_users.tokens["alice"])
        job = daqlab.jobs.submit(template="azint", scan=scan.files[0], params=AZINT, time="00:05:00", client=c, name="restart")
        c.close()
    finally:
        first.stop()                                         # before the job ends
    assert wait_until(lambda: "COMPLETED" in (Path(slurm_cluster.root) / "cluster" / "log" / "jobcomp.txt").read_text()
                      and f"JobId={job.id} " in (Path(slurm_cluster.root) / "cluster" / "log" / "jobcomp.txt").read_text(), 60, 0.5)
    second = ServerProcess(*slurm_cluster.server_args("cli", slurm_users))
    try:
        c = daqlab.connect(second.url, token=slurm_users.tokens["alice"])
        def registered():
            return [s for s in c.call("scans.search", {})["scans"] if (s["info"].get("derived") or {}).get("job_id") == job.id]
        assert wait_until(lambda: registered(), 20, 0.2), second.log[-2000:]
        d = registered()[0]["info"]["derived"]
        assert d["source"] == scan.files[0] and d["source_key"] is None and d["source_entry"]   # not in this store
        again = daqlab.jobs.get(job.id, client=c)
        assert again.info["state"] == "COMPLETED" and again.info["template"] == "azint"
        with again.result as derived:
            assert derived.streams["intensity"][:].shape[0] == 4
        c.close()
    finally:
        second.stop()
    # the completion file, read with sacct -c by the server's parser: what it falls back on once slurmctld forgets
    import json
    import subprocess
    from conftest import ROOT
    out = subprocess.run(["node", "--input-type=module", "-e",
                          f"const m = await import({json.dumps(str(ROOT / 'daq-server/dist/src/jobs/jobcomp.js'))});"
                          f"console.log(JSON.stringify(await m.completedJobs({json.dumps(slurm_cluster.env['SLURM_CONF'])})))"],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    rec = next(r for r in json.loads(out) if str(r["job_id"]) == job.id)
    assert rec["job_state"] == "COMPLETED" and rec["user_name"] == ALICE and rec["exit_code"] == 0
    assert rec["name"] == "restart" and rec["end_time"] >= rec["start_time"] > 0
