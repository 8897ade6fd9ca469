"""The batch runner: a saved scan replayed through the online pipelines gives the online results.

A real server acquires and saves a scan with a pipeline; the batch command line
(`daq-server/dist/src/batch/cli.js`, what the Slurm job templates run) processes the saved
master with the same parameters; h5py and daqlab.open_derived read the derived scan.
Also: the notebook runner (`python -m daqlab.batch.notebook`)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import hdf5plugin  # noqa: F401  (bitshuffle/LZ4 for h5py)
import h5py
import nbformat
import numpy as np
import pytest

import daqlab
from conftest import ROOT

BATCH = ROOT / "daq-server" / "dist" / "src" / "batch" / "cli.js"
DET = "sim-eiger-500k"
AZINT = {"pipeline": "azint", "npt": 300, "unit": "q_nm^-1", "method": "bbox"}
SMX = {"pipeline": "smx", "npt": 300, "min_nb_peaks": 8}


def acquire_saved(client, folder, processing, det_cfg, frames, compression="bslz4"):
    acq = client.detector(DET).prepare(
        acquisition={"nb_frames": frames, "expo_time": 0.002}, detector=det_cfg,
        processing={**processing, "nb_receivers": 2},
        saving={"enabled": True, "base_path": str(folder), "prefix": "online", "compression": compression,
                "nb_frames_per_file": 5},
        scan={"name": "online", "sample": "CeO2", "proposal": "ih-batch"},
    )
    acq.start()
    acq.wait(timeout=120, progress=False)
    assert acq.counters["nb_frames_saved"] == frames
    return acq.scan


def run_batch(template, source, params, out, prefix, *extra, params_file=None):
    pf = params_file or out / f"{prefix}.params.json"
    if params_file is None:
        out.mkdir(parents=True, exist_ok=True)
        pf.write_text(json.dumps(params))
    return subprocess.run(
        ["node", str(BATCH), "--template", template, "--source", str(source), "--params", str(pf),
         "--output-dir", str(out), "--prefix", prefix, *extra],
        capture_output=True, text=True, timeout=120,
    )


@pytest.fixture(scope="module")
def powder(server, tmp_path_factory):
    """An azint scan acquired and saved online (16 frames, bitshuffle-LZ4, 2 receivers)."""
    c = daqlab.connect(server.url)
    try:
        folder = tmp_path_factory.mktemp("powder")
        scan = acquire_saved(c, folder, AZINT, {"scene": "powder", "seed": 5, "pool_size": 16}, 16)
        online = {name: scan.streams[name][:] for name in ("intensity", "radial", "sigma", "frame")}
        return scan.files[0], online
    finally:
        c.close()


def test_azint_batch_equals_online(powder, tmp_path):
    master, online = powder
    params = {k: v for k, v in AZINT.items() if k != "pipeline"}
    r = run_batch("azint", master, params, tmp_path, "az")
    assert r.returncode == 0, r.stderr
    progress = [tuple(map(int, line.split()[1:])) for line in r.stdout.splitlines() if line.startswith("progress ")]
    assert progress and progress[-1] == (16, 16) and all(t == 16 for _, t in progress)
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)

    manifest = json.loads((tmp_path / "az.derived.json").read_text())
    assert manifest["source"] == os.path.abspath(master) and manifest["template"] == "azint"
    assert manifest["params"] == params and manifest["frames"] == [0, 16]
    assert manifest["master"] == str(tmp_path / "az_master.h5") and os.path.exists(manifest["master"])
    assert {"intensity", "radial", "sigma", "frame"} <= set(manifest["streams"])
    assert manifest["counters"]["nb_frames_dropped"] == 0 and manifest["counters"]["nb_frames_saved"] == 16
    assert manifest["created"].endswith("Z")

    # the batch results are the online results, bit for bit
    with daqlab.open_derived(tmp_path / "az.derived.json") as derived:
        for name in ("intensity", "radial", "sigma"):
            np.testing.assert_array_equal(derived.streams[name][:], online[name], err_msg=name)
        np.testing.assert_array_equal(derived.streams["frame"][:], online["frame"])
        assert derived.source["master"] == os.path.abspath(master) and derived.source["template"] == "azint"
        assert derived.manifest["frames"] == [0, 16]
        assert derived.identity["sample"] == "CeO2" and derived.identity["proposal"] == "ih-batch"
        with derived.open_source() as source:
            np.testing.assert_array_equal(source.streams["intensity"][:], online["intensity"])
    # the master records its source for any HDF5 reader: a note and an external link to the source's entry
    with h5py.File(tmp_path / "az_master.h5", "r") as f:
        note = f["entry/source_scan"]
        assert note.attrs["NX_class"] in ("NXnote", b"NXnote")
        assert note["master"][()].decode() == os.path.abspath(master)
        link = f.get("entry/source_scan/entry", getlink=True)
        assert isinstance(link, h5py.ExternalLink) and link.filename == os.path.abspath(master)
        np.testing.assert_array_equal(f["entry/source_scan/entry/process/results/intensity"][()], online["intensity"])
        np.testing.assert_array_equal(f["entry/integrate1d/intensity"][()], online["intensity"])
    # opened from its master, a derived scan finds its manifest beside it
    with daqlab.open_derived(tmp_path / "az_master.h5") as again:
        assert again.manifest == manifest
    with daqlab.open_master(master) as acquired:  # an acquired scan has no source
        assert acquired.source is None
    with pytest.raises(daqlab.NotFoundError, match="not a derived scan"):
        daqlab.open_derived(master)


def test_frame_range_and_other_compressions(server, client, powder, tmp_path):
    master, online = powder
    # max_pending 1: the replay waits for the receiver instead of queueing (nothing dropped)
    r = run_batch("azint", master, {"npt": 300, "max_pending": 1}, tmp_path, "sub", "--frames", "5:12", "--readers", "0")
    assert r.returncode == 0, r.stderr
    with daqlab.open_derived(tmp_path / "sub.derived.json") as d:
        assert d.manifest["frames"] == [5, 12] and d.source["frames"] == [5, 12]
        assert d.manifest["counters"]["nb_frames_dropped"] == 0 and d.manifest["counters"]["nb_frames_processed"] == 7
        np.testing.assert_array_equal(d.streams["intensity"][:], online["intensity"][5:12])
        np.testing.assert_array_equal(d.streams["frame"][:], online["frame"][5:12])
    # gzip and uncompressed sources, and an open-ended range
    for compression in ("gzip", "none"):
        folder = tmp_path / compression
        scan = acquire_saved(client, folder, AZINT, {"scene": "powder", "seed": 6, "pool_size": 8}, 8, compression)
        r = run_batch("azint", scan.files[0], {"npt": 300}, folder / "out", "b", "--frames", "3:")
        assert r.returncode == 0, r.stderr
        with daqlab.open_derived(folder / "out" / "b.derived.json") as d:
            np.testing.assert_array_equal(d.streams["intensity"][:], scan.streams["intensity"][3:8])


def test_smx_hit_finding_batch_equals_online(client, tmp_path):
    det_cfg = {"scene": "serial_crystallography", "seed": 3, "pool_size": 12, "hit_rate": 0.5}
    scan = acquire_saved(client, tmp_path / "online", SMX, det_cfg, 12)
    online_counter = scan.streams["peak_counter"][:]
    online_peaks = scan.streams["peaks"][:]
    hits = [c["is_hit"] for c in online_counter]
    assert any(hits) and not all(hits), "the scene should mix hits and misses"
    r = run_batch("smx", scan.files[0], {"npt": 300, "min_nb_peaks": 8}, tmp_path / "job", "hits")
    assert r.returncode == 0, r.stderr
    with daqlab.open_derived(tmp_path / "job" / "hits_master.h5") as d:
        assert d.manifest["counters"]["nb_frames_dropped"] == 0
        counter = d.streams["peak_counter"][:]
        assert [c["nb_peaks"] for c in counter] == [c["nb_peaks"] for c in online_counter]
        assert [bool(c["is_hit"]) for c in counter] == hits
        peaks = d.streams["peaks"][:]
        assert len(peaks) == len(online_peaks) > 0
        for mine, theirs in zip(peaks, online_peaks):
            assert mine.keys() == theirs.keys()
            for key in theirs:
                np.testing.assert_array_equal(mine[key], theirs[key], err_msg=key)
        # sums over frames: the same within float rounding (receivers add in another order)
        np.testing.assert_allclose(d.streams["acc_corrected"][-1], scan.streams["acc_corrected"][-1], rtol=1e-5, atol=1e-3)
    with h5py.File(tmp_path / "job" / "hits_sparse.h5", "r") as f:  # the CXI peak file, as online
        assert list(f["entry_0000/peaks/nPeaks"][()]) == [c["nb_peaks"] for c in online_counter]


@pytest.mark.parametrize("case,expected", [
    ("missing_source", "no such file"),
    ("not_hdf5", "not an HDF5 file (no HDF5 signature)"),
    ("data_file", "is not a daqlab/NeXus master"),
    ("unknown_template", "unknown template \"nope\""),
    ("bad_field", "npt: must be >= 1"),
    ("bad_json", "is not valid JSON"),
    ("wrong_range", "--frames: 10:99 is outside the 16 frames"),
    ("missing_option", "--prefix is required"),
    ("existing_output", "saving.file_exists_policy"),
    ("missing_data_file", "online_1_00001.h5 (no such file)"),
    ("truncated_data_file", "online_0_00000.h5 (truncated: 1000 bytes"),
])
def test_bad_input_gives_one_clear_line(powder, tmp_path, case, expected):
    master, _ = powder
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"npt": 100}))
    args = {"template": "azint", "source": master, "params": good, "prefix": "x"}
    extra = []
    if case == "missing_source":
        args["source"] = tmp_path / "nothere_master.h5"
    elif case == "not_hdf5":
        args["source"] = good
    elif case == "data_file":
        args["source"] = os.path.join(os.path.dirname(master), "online_0_00000.h5")
    elif case == "unknown_template":
        args["template"] = "nope"
    elif case == "bad_field":
        (tmp_path / "bad.json").write_text(json.dumps({"npt": 0, "unit": "q_nm^-1"}))
        args["params"] = tmp_path / "bad.json"
    elif case == "bad_json":
        (tmp_path / "bad.json").write_text("{npt: 3")
        args["params"] = tmp_path / "bad.json"
    elif case == "wrong_range":
        extra = ["--frames", "10:99"]
    elif case in ("missing_data_file", "truncated_data_file"):
        # HDF5 would read an unreadable source of the virtual dataset as zeros: the runner refuses
        copy = tmp_path / "copy"
        shutil.copytree(os.path.dirname(master), copy)
        args["source"] = copy / os.path.basename(master)
        if case == "missing_data_file":
            os.remove(copy / "online_1_00001.h5")
        else:
            os.truncate(copy / "online_0_00000.h5", 1000)
    elif case == "existing_output":
        args["prefix"] = "online"
        (tmp_path / "out").mkdir()
        (tmp_path / "out" / "online_master.h5").write_bytes(b"")
    cmd = ["node", str(BATCH), "--template", args["template"], "--source", str(args["source"]),
           "--params", str(args["params"]), "--output-dir", str(tmp_path / "out"), *extra]
    if case != "missing_option":
        cmd += ["--prefix", args["prefix"]]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("daqlab-batch: error: "), r.stderr
    assert expected in lines[0]
    assert not (tmp_path / "out" / "x.derived.json").exists()


def test_tomo_template_on_a_scan_without_nxtomo_names_the_layout(powder, tmp_path):
    """The `tomo` template on a powder scan: no NXtomo says what each frame is, so the runner refuses at
    prepare, naming the layout parameters (test_batch_tomo.py runs it on a tomography scan)."""
    master, _ = powder
    r = run_batch("tomo", master, {}, tmp_path, "t")
    assert r.returncode == 2, r.stderr
    assert "is not available" not in r.stderr
    for field in ("nb_darks", "nb_flats", "nb_projections", "angle_range"):
        assert f"{field}: is needed" in r.stderr, r.stderr
    assert "replay a master with NXtomo" in r.stderr
    assert not (tmp_path / "t.derived.json").exists()


def notebook(path, *cells, tag_first=True):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    if tag_first:
        nb.cells[0].metadata["tags"] = ["parameters"]
    nbformat.write(nb, path)
    return path


def run_notebook(nb, params, out, tmp_path):
    pf = tmp_path / "nbparams.json"
    pf.write_text(json.dumps(params))
    return subprocess.run([sys.executable, "-m", "daqlab.batch.notebook", "--notebook", str(nb), "--parameters", str(pf),
                           "--output", str(out)], capture_output=True, text=True, timeout=120, cwd=tmp_path)


def test_notebook_runner_injects_parameters_and_names_a_failing_cell(tmp_path):
    nb = notebook(tmp_path / "in.ipynb", "x = 1\nlabel = 'default'", "y = x * 2", "print(label, y)")
    r = run_notebook(nb, {"x": 21, "label": "job"}, tmp_path / "out.ipynb", tmp_path)
    assert r.returncode == 0, r.stderr
    done = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert "parameters" in done.cells[0].metadata["tags"]
    assert done.cells[1].metadata["tags"] == ["injected-parameters"]
    assert "x = 21" in done.cells[1].source and "label = 'job'" in done.cells[1].source
    assert done.cells[3].outputs[0]["text"] == "job 42\n"
    # running the executed notebook again replaces the injected cell instead of adding one
    r = run_notebook(tmp_path / "out.ipynb", {"x": 1}, tmp_path / "again.ipynb", tmp_path)
    again = nbformat.read(tmp_path / "again.ipynb", as_version=4)
    assert r.returncode == 0 and sum("injected-parameters" in c.metadata.get("tags", []) for c in again.cells) == 1
    assert again.cells[3].outputs[0]["text"] == "default 2\n"

    bad = notebook(tmp_path / "bad.ipynb", "n = 3", "import math", "raise ValueError(f'boom {n}')", "print('never')")
    r = run_notebook(bad, {"n": 7}, tmp_path / "bad-out.ipynb", tmp_path)
    assert r.returncode == 1
    line = r.stderr.strip().splitlines()[-1]
    assert "cell 3" in line and "raise ValueError" in line and "ValueError: boom 7" in line
    failed = nbformat.read(tmp_path / "bad-out.ipynb", as_version=4)  # written for inspection
    assert failed.cells[3].outputs[0]["output_type"] == "error"

    r = run_notebook(nb, {"not a name": 1}, tmp_path / "x.ipynb", tmp_path)
    assert r.returncode == 2 and "'not a name' is not a valid Python name" in r.stderr


def test_raw_jungfrau_scan_replays_through_the_same_correction(client, tmp_path):
    """A scan saved raw (gain bits + ADC) is corrected in the job exactly as online (the simulator's pedestals and gains)."""
    det = client.detector("sim-jungfrau-4m")
    cfg = {"scene": "powder", "seed": 4, "pool_size": 3}

    def acquire(processing, folder):
        acq = det.prepare(acquisition={"nb_frames": 3, "expo_time": 0.01}, detector=cfg, processing=processing,
                          saving={"enabled": True, "base_path": str(tmp_path / folder), "prefix": folder, "compression": "none"})
        acq.start()
        acq.wait(timeout=120, progress=False)
        return acq.scan

    raw = acquire({"pipeline": "none"}, "raw")
    online = acquire({"pipeline": "azint", "npt": 500, "keep_frames": False}, "online")
    with h5py.File(raw.files[0], "r") as f:
        assert f["entry/instrument/detector/data"].shape == (3, 8, 512, 1024)
    r = run_batch("azint", raw.files[0], {"npt": 500, "keep_frames": False}, tmp_path / "job", "az")
    assert r.returncode == 0, r.stderr
    with daqlab.open_derived(tmp_path / "job" / "az.derived.json") as d:
        assert d.source["frames"] == [0, 3]
        np.testing.assert_array_equal(d.streams["intensity"][:], online.streams["intensity"][:])


def test_server_offers_a_saved_scan_as_a_replay_detector(make_server, powder):
    """`daqlab-server --replay MASTER`: old frames through live pipelines, paced and looping."""
    master, online = powder
    s = make_server("--detector", "sim-camera", "--replay", master)
    c = daqlab.connect(s.url)
    try:
        assert "replay-online" in c.detectors()
        det = c.detector("replay-online")
        assert det.info["shape"] == [514, 1030] and "replayed from online_master.h5" in det.info["model"]
        acq = det.prepare(acquisition={"nb_frames": 20, "expo_time": 0.01}, processing=AZINT)
        acq.start()
        acq.wait(timeout=60, progress=False)
        assert acq.status()["elapsed"] >= 0.19  # paced: 20 frames at 100 Hz
        intensity = acq.scan.streams["intensity"][:]
        np.testing.assert_array_equal(intensity[:16], online["intensity"])
        np.testing.assert_array_equal(intensity[16:], online["intensity"][:4])  # it loops
        with pytest.raises(daqlab.ParameterError, match="detector.speed"):
            det.prepare(acquisition={"nb_frames": 2}, detector={"speed": 2})
    finally:
        c.close()
