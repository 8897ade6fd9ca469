"""The tutorials are executed against a real server, top to bottom, as a user would run them."""
from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import daqlab

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]-*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, request, monkeypatch, tmp_path):
    if path.name.startswith("07-"):
        server = slurm_server(request, monkeypatch)
    else:
        server = request.getfixturevalue("server")
    monkeypatch.setenv("DAQLAB_URL", server.url)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    kernel = bluesky_kernel(monkeypatch, tmp_path) if path.name.startswith("11-") else "python3"
    NotebookClient(nb, timeout=180, kernel_name=kernel, resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    errors = [o for o in outputs if o.get("output_type") == "error"]
    assert not errors, "\n".join(errors[0].get("traceback", []))[-3000:]
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    if path.name.startswith("00-"):
        # the LiveImage was created in the kernel (headless, no view renders it: nothing may fail)
        views = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
        assert views and "ROIs drawn so far: []" in text
        # what Python prints is what the chart shows: the hit fraction of the last frames, from the stream
        printed = re.search(r"hit fraction over the last (\d+) frames: (\d+%)", text)
        assert printed, text
        with daqlab.connect(server.url) as c:
            scan = max(c.scans.search(name="quickstart-smx"), key=lambda s: s.seq)
            events = [e for e in scan.streams["peak_counter"][:] if not e.get("invalid")][-int(printed[1]):]
        assert printed[2] == f"{sum(e['is_hit'] for e in events) / len(events):.0%}"
    if path.name.startswith("01-"):
        assert "in order: True" in text
        assert "IndexWontBeThereError" in text and "StateError" in text
    if path.name.startswith("07-"):
        assert "batch == online for 12 frames" in text and "COMPLETED exit code 0" in text
    if path.name.startswith("08-"):
        # the notebook's own server received the simulated DECTRIS detector's frames and integrated them
        # with the detector's geometry: the CeO2 111 ring where the powder scene draws it
        assert "frames from the detector: 20 invalid: 0" in text
        assert "strongest ring at q = 20.1 nm^-1" in text
    if path.name.startswith("10-"):
        # aligned on the grain the truth places; the XRF map follows the truth; ewoksxrpd integrated every point
        off = re.search(r"off by ([\d.]+) mm", text)
        assert off and float(off[1]) < 0.2, text
        r = re.search(r"Fe map vs the sample's truth: r = ([\d.-]+)", text)
        assert r and float(r[1]) > 0.8, text
        assert "workflow DONE -> derived scan True" in text and "36 integrated patterns" in text, text
        assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
    if path.name.startswith("11-"):
        # the same with a RunEngine: aligned by PeakStats, the map and the frames read back from Tiled
        off = re.search(r"off by ([\d.]+) mm", text)
        assert off and float(off[1]) < 0.2, text
        r = re.search(r"Fe map vs the sample's truth: r = ([\d.-]+)", text)
        assert r and float(r[1]) > 0.8, text
        assert "31 points from Tiled" in text and "diffraction frames from Tiled: 36, equal to the server's: True" in text, text
    if path.name.startswith("12-"):
        # the data policy end to end: the catalogue filled itself, both kinds of logbook entries, the embargo, the DOI's page
        assert "files go to" in text and "sha256" in text and "frames in the run description: 5" in text
        assert "by daqlab:" in text and "'Crystal centred, beam on;'" in text and "version 2" in text
        assert "released: False" in text and "release_date: 2001-01-01T00:00:00.000Z is in the past" in text
        assert "logbook (notification): Release date of" in text and "logbook (annotation): Embargo extended" in text
        assert "landing page: True | under embargo: True | how to cite: True" in text
    if path.name.startswith("06-"):
        assert "relative RMS error inside the object" in text and "simulated" in text
        # the Volume3D view of the volume stream was created, its cut planes and mode set from Python
        assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
        assert "mip 64 70" in text
        assert "[] mip" not in text  # nothing the browser measures is printed before it could arrive


def bluesky_kernel(monkeypatch, tmp_path) -> str:
    """Notebook 11 runs in .venv-bluesky's Python (bluesky, ophyd-async, tiled): a kernel spec of its own."""
    import json

    venv = Path(os.environ.get("DAQLAB_BLUESKY_VENV") or Path(__file__).resolve().parents[1] / ".venv-bluesky")
    python = venv / "bin" / "python"
    assert python.exists(), f"{python} is missing: run DAQLAB_SETUP_FOR=test scripts/setup.sh"
    spec = tmp_path / "jupyter" / "kernels" / "daqlab-bluesky"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({"argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                                                  "display_name": "daqlab (bluesky)", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return "daqlab-bluesky"


def slurm_server(request, monkeypatch):
    """Notebook 07 needs a server with the session's local Slurm (as test_jobs does), acting for alice,
    and a scans folder her jobs can read."""
    from conftest import ServerProcess

    cluster, users = request.getfixturevalue("slurm_cluster"), request.getfixturevalue("slurm_users")
    server = ServerProcess(*cluster.server_args("cli", users))
    request.addfinalizer(server.stop)
    scans = cluster.root / "notebook-scans"
    scans.mkdir(mode=0o755, exist_ok=True)
    monkeypatch.setenv("DAQLAB_TOKEN", users.tokens["alice"])
    monkeypatch.setenv("DAQLAB_SCAN_DIR", str(scans))
    return server


def test_there_are_notebooks():
    assert {p.name for p in NOTEBOOKS} >= {"00-quickstart.ipynb", "01-acquire-and-read.ipynb"}


def test_notebook_02_joins_on_the_acquisition_frame_when_frames_were_dropped(server, monkeypatch, tmp_path):
    """Notebook 02 as a loaded machine runs it: one receiver that holds one frame drops frames, so item k of
    `peak_counter` is not frame k. The notebook joins `sim_truth` and `peaks` on `frame_idx`: the hit finder
    still agrees with the truth and the first hit's peaks lie on its true spots (a join on position would
    compare other frames, or read past the end of the shorter streams)."""
    monkeypatch.setenv("DAQLAB_URL", server.url)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(NOTEBOOKS[0].parent / "02-serial-crystallography.ipynb", as_version=4)
    run = next(c for c in nb.cells if c.cell_type == "code" and '"keep_frames": False}' in c.source)
    run.source = run.source.replace('"keep_frames": False}', '"keep_frames": False, "nb_receivers": 1, "max_pending": 1}')
    run.source = run.source.replace('"expo_time": 0.05}', '"expo_time": 0.01}')  # 100 Hz: smx on 4 Mpx falls behind
    assert '"max_pending": 1' in run.source and '"expo_time": 0.01' in run.source
    NotebookClient(nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    errors = [o for o in outputs if o.get("output_type") == "error"]
    assert not errors, errors[0].get("evalue")
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    analysed = re.search(r"frames analysed: (\d+) of 120", text)
    assert analysed and int(analysed[1]) < 120, f"no frame was dropped: {text}"
    agreement = re.search(r"agreement: ([\d.]+)%", text)
    assert agreement and float(agreement[1]) >= 95, text
    near = re.search(r"within 3 px of a true spot: (\d+)%", text)
    assert near and int(near[1]) >= 80, text
