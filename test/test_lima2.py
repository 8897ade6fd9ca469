"""daqlab as a LIMA2 system: the real lima2-client 4.3 (its own venv, .venv-lima2, made by scripts/setup.sh)
drives a daqlab server's --lima2 API through lima2_driver.py; what it reads is compared with what daqlab's own
client reads from the same scan (the acquisition is an ordinary daqlab scan)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import daqlab
from conftest import ServerProcess

ROOT = Path(__file__).resolve().parents[1]
DRIVER = Path(__file__).with_name("lima2_driver.py")
DET = "sim-eiger-500k"


def lima2_python() -> Path:
    venv = Path(os.environ.get("DAQLAB_LIMA2_VENV") or ROOT / ".venv-lima2")
    py = venv / "bin" / "python"
    if not py.exists():
        raise RuntimeError(f"{venv} is missing: scripts/setup.sh creates it (lima2-client==4.3.2, hdf5plugin), or set $DAQLAB_LIMA2_VENV")
    return py


@pytest.fixture(scope="session")
def lima2_server():
    """One daqlab server with DET also served as a LIMA2 system on a free port."""
    s = ServerProcess("--detector", DET, "--lima2", f"{DET}:0", "--memory-budget", "2G")
    m = re.search(r"LIMA2 conductor for \S+ listening on http://127\.0\.0\.1:(\d+)", s.log)
    assert m, s.log
    s.lima2_port = int(m.group(1))
    yield s
    s.stop()


@pytest.fixture(scope="session")
def daq(lima2_server):
    c = daqlab.connect(lima2_server.url)
    yield c
    c.close()


def drive(server, command: str, args: dict | None = None, timeout: float = 120):
    out = Path(tempfile.mkdtemp(prefix="lima2-driver-"))
    p = subprocess.run(
        [str(lima2_python()), str(DRIVER), command, str(server.lima2_port), json.dumps(args or {}), str(out)],
        capture_output=True, text=True, timeout=timeout,
    )
    assert p.returncode == 0, f"driver failed:\n{p.stdout}\n{p.stderr}\nserver log:\n{server.log[-3000:]}"
    arrays = dict(np.load(out / "arrays.npz"))
    return json.loads((out / "result.json").read_text()), arrays


def scan_of(daq, uuid: str):
    scan = daq.scans.last()
    assert scan.info["acquisition_uuid"] == uuid
    return scan


def test_handshake_states_and_published_schemas(lima2_server):
    r, _ = drive(lima2_server, "handshake")
    assert r["conductor_version"].startswith("4.3.")
    assert r["state"] == "IDLE" and r["running"] is False and r["result"] == "Unknown"
    assert r["operational"] is True and r["system_state"]["state"] == "IDLE"
    assert r["classes"] == ["LimaProcessingLegacy", "LimaProcessingSmx", "LimaProcessingFai", "LimaProcessingXpcs"]
    # control and receiver share one layout; times in microseconds (lima2 client/shell.py)
    assert r["default_control"]["acq"] == {"nb_frames": 1, "expo_time": 1000, "latency_time": 0, "trigger_mode": "internal", "nb_frames_per_trigger": 1}
    assert r["default_receiver"] == r["default_control"]
    assert r["params_schema_keys"] == ["control", "receiver"]
    legacy = r["class_defaults"]["LimaProcessingLegacy"]
    assert legacy["class_name"] == "LimaProcessingLegacy"
    # the saving keys the conductor reads (processing/pipeline.py parse_saving_params)
    for key in ("base_path", "filename_prefix", "file_exists_policy", "nb_frames_per_file", "nx_entry_name", "nx_instrument_name", "nx_detector_name", "nb_dimensions", "enabled"):
        assert key in legacy["saving"], key
    assert legacy["statistics"] == {"enabled": False, "rect_rois": [], "arc_rois": []}
    assert "saving_dense" in r["class_defaults"]["LimaProcessingSmx"] and "npt" in r["class_defaults"]["LimaProcessingFai"]["fai"]
    assert r["class_schemas"]["LimaProcessingSmx"]["properties"]["class_name"]["const"] == "LimaProcessingSmx"
    # versions in LIMA2's prefix-x.y.z form; the legacy layout is the one BLISS's legacy plugin accepts (core-1.0.0)
    assert r["class_versions"]["LimaProcessingLegacy"] == "core-1.0.0"
    assert all(re.fullmatch(r"[a-z]+-\d+\.\d+\.\d+", v) for v in r["class_versions"].values())
    assert re.fullmatch(r"daqlab-\d+\.\d+\.\d+", r["plugin_version"])
    assert r["det_capabilities"]["expo_time_range"][0] == 1000
    assert r["det_info"]["plugin"] == "daqlab" and r["det_info"]["dimensions"] == {"x": 1030, "y": 514}
    assert r["det_status"]["state"] == "IDLE" and r["attr_state"] == "IDLE"
    assert "internal" in r["det_capabilities"]["trigger_modes"]


# LIMA2's arc ROI as BLISS's lima2 plugin writes it: centre (x column, y row), radii (px), angles (degrees)
ARC = {"center": {"x": 515, "y": 257}, "r1": 50, "r2": 120, "a1": 0, "a2": 90}


def test_legacy_roi_statistics_and_frames_through_the_lookup(lima2_server, daq, tmp_path):
    rois = [{"topleft": {"x": 10, "y": 20}, "dimensions": {"x": 30, "y": 40}}, {"topleft": {"x": 500, "y": 0}, "dimensions": {"x": 100, "y": 514}}]
    r, a = drive(lima2_server, "run", {
        "class_name": "LimaProcessingLegacy",
        "control": {"acq": {"nb_frames": 80, "expo_time": 50000}, "det": {"scene": "powder", "seed": 4}},
        "processing": {
            "statistics": {"enabled": True, "rect_rois": rois, "arc_rois": [ARC]},
            "profiles": {"enabled": True, "rois": rois, "directions": ["vertical", "horizontal"]},
            "saving": {"enabled": True, "base_path": str(tmp_path), "filename_prefix": "legacy", "nb_frames_per_file": 5, "compression": "bshuf_lz4"},
        },
        "frames": [0, 7, 79, -1],
        "live_frames": True,
    })
    assert r["state_prepared"] == "IDLE" and r["current"] == r["uuid"]
    assert r["result"] == "AcquisitionSuccess" and r["state_after"] == "IDLE" and r["errors"] == []
    assert r["nb_frames_acquired"] == 80 and r["nb_frames_xferred"] == 80
    assert r["progress"] == 80 and r["progress_by_channel"] == {"input_frame": 80, "frame": 80}
    assert r["progress_while_running"] and min(r["progress_while_running"]) < 80
    assert r["pipeline"]["type"] == "LimaProcessingLegacy" and r["running"] is False and r["uuid"] in r["uuids"]
    assert r["frame_channels"]["frame"] == [1, 1030, 514, "uint32"]
    master, dataset = r["master_files"]["frame"]
    assert Path(master) == tmp_path / "legacy_master.h5" and dataset == "entry_0000/instrument/detector/data"
    # lookup: the data file and the frame's place in it (5 frames per file)
    assert r["lookup"]["tango"] is None and r["lookup"]["hdf5"]["frame_type"] == "DENSE"
    assert r["lookup"]["hdf5"]["url"] == f"file://{tmp_path}/legacy_0_00000.h5:entry_0000/instrument/detector"

    # the same acquisition is an ordinary daqlab scan: frames and ROI statistics agree
    scan = scan_of(daq, r["uuid"])
    assert scan.state == "CLOSED" and scan.info["lima2"]["class_name"] == "LimaProcessingLegacy"
    assert scan.info["lima2"]["masterfile_metadata"]["sample"] == "lysozyme"
    frames = scan.streams["frame"]
    for idx in (0, 7, 79):
        np.testing.assert_array_equal(a[f"frame/{idx}"], frames[idx])
    np.testing.assert_array_equal(a["frame/-1"], frames[79])
    stats = np.asarray(scan.streams["roi_stats"][0:80])  # [frames, rois, (sum, mean, std, min, max)]
    assert r["reduced_channels"]["roi_stats"][0][1] == []
    for k in range(3):  # the rectangles, then the arc (LIMA2's order)
        got = a[f"reduced/roi_stats/{k}"]
        assert got.dtype.names == ("avg", "std", "min", "max", "sum") and len(got) == 80
        np.testing.assert_allclose(got["sum"], stats[:, k, 0])
        np.testing.assert_allclose(got["avg"], stats[:, k, 1], rtol=1e-6)
        np.testing.assert_allclose(got["std"], stats[:, k, 2], rtol=1e-6)
        np.testing.assert_allclose(got["min"], stats[:, k, 3])
        np.testing.assert_allclose(got["max"], stats[:, k, 4])
    # x is the column, y the row (processing/reduced_data.py): ROI 0 is rows 20..59, columns 10..39
    f0 = frames[0].astype(np.float64)
    assert a["reduced/roi_stats/0"]["sum"][0] == f0[20:60, 10:40].sum()
    # the arc: pixels at 50..120 px from (row 257, column 515), at 0..90° (atan2(row − row_c, col − col_c)), in numpy
    rr, cc = np.mgrid[0:f0.shape[0], 0:f0.shape[1]]
    d = np.hypot(rr - 257, cc - 515)
    theta = np.degrees(np.arctan2(rr - 257, cc - 515)) % 360
    arc = (d >= 50) & (d <= 120) & (theta <= 90)
    assert a["reduced/roi_stats/2"]["sum"][0] == f0[arc].sum() and arc.sum() > 1000
    # ROI profiles: one record per line (vertical: per ROI row, horizontal: per ROI column), per frame
    assert r["reduced_channels"]["roi_profile"][0][1] == [40] and r["reduced_channels"]["roi_profile"][1][1] == [100]
    vert, horiz = a["reduced/roi_profile/0"], a["reduced/roi_profile/1"]
    assert vert.shape == (80, 40) and horiz.shape == (80, 100) and vert.dtype.names == ("avg", "std", "min", "max", "sum")
    for k in (0, 41):
        fk = frames[k].astype(np.float64)
        np.testing.assert_array_equal(vert["sum"][k], fk[20:60, 10:40].sum(axis=1))
        np.testing.assert_allclose(vert["avg"][k], fk[20:60, 10:40].mean(axis=1), rtol=1e-6)
        np.testing.assert_allclose(vert["std"][k], fk[20:60, 10:40].std(axis=1), rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(horiz["max"][k], fk[0:514, 500:600].max(axis=0))
        np.testing.assert_array_equal(horiz["min"][k], fk[0:514, 500:600].min(axis=0))
    # frames read while the scan ran (4 s; the lookup names a file once its writer flushed the frame, every 1 s)
    assert r["live"], r.get("live_errors")
    assert r.get("live_newest", 0) >= 1, r.get("live_errors")  # get_frame(-1): the newest frame already flushed
    for live in r["live"]:
        assert live["sum"] == float(frames[live["idx"]].astype(np.float64).sum())


def test_smx_peak_counters_equal_daqlabs_stream(lima2_server, daq):
    r, a = drive(lima2_server, "run", {
        "class_name": "LimaProcessingSmx",
        "control": {"acq": {"nb_frames": 30, "expo_time": 5000}, "det": {"scene": "serial_crystallography", "seed": 3, "hit_rate": 0.5}},
        "processing": {"fai": {"npt": 300, "min_nb_peaks": 8}},
    })
    assert r["result"] == "AcquisitionSuccess" and r["progress"] == 30
    assert r["reduced_channels"] == {"nb_peaks": [["[('nb_peaks', '<i4')]", []]]}
    scan = scan_of(daq, r["uuid"])
    counter = scan.streams["peak_counter"][0:30]
    got = a["reduced/nb_peaks/0"]["nb_peaks"]
    assert list(got) == [e["nb_peaks"] for e in sorted(counter, key=lambda e: e["frame_idx"])]
    assert (got > 0).sum() >= 5  # hits were found
    assert scan.info["processing"]["pipeline"] == "smx" and scan.info["processing"]["npt"] == 300


def test_fai_integrated_curves_through_the_lookup_equal_daqlabs_stream(lima2_server, daq, tmp_path):
    saving = {"enabled": True, "base_path": str(tmp_path), "nb_frames_per_file": 4}
    r, a = drive(lima2_server, "run", {
        "class_name": "LimaProcessingFai",
        "control": {"acq": {"nb_frames": 10, "expo_time": 5000}, "det": {"scene": "powder"}},
        "processing": {"fai": {"npt": 200, "unit": "q_nm^-1"}, "saving_dense": {**saving, "filename_prefix": "dense"}, "saving_fai": {**saving, "filename_prefix": "curves"}},
        "frames": [9],
        "curves": [0, 5, 9],
    })
    assert r["result"] == "AcquisitionSuccess" and r["progress"] == 10
    assert r["progress_by_channel"] == {"frame": 10, "fai_averint": 10}
    assert r["frame_channels"]["fai_averint"] == [1, 200, 1, "float32"]
    scan = scan_of(daq, r["uuid"])
    assert scan.info["processing"]["pipeline"] == "azint" and scan.info["processing"]["unit"] == "q_nm^-1"
    curves = np.asarray(scan.streams["intensity"][0:10])
    assert curves.shape == (10, 200) and np.isfinite(curves).all() and curves.max() > 0
    for idx in (0, 5, 9):
        np.testing.assert_array_equal(a[f"curve/{idx}"], curves[idx])
    np.testing.assert_array_equal(a["frame/9"], scan.streams["frame"][9])
    assert sorted(p.name for p in tmp_path.glob("curves_*.h5")) == ["curves_0_00000.h5", "curves_0_00001.h5", "curves_0_00002.h5"]


def test_xpcs_fill_factor_counts_the_non_zero_ring_pixels(lima2_server, daq):
    r, a = drive(lima2_server, "run", {
        "class_name": "LimaProcessingXpcs",
        "control": {"acq": {"nb_frames": 12, "expo_time": 5000}, "det": {"scene": "xpcs", "seed": 2}},
        "processing": {"xpcs": {"nb_rings": 4, "m": 4, "levels": 2}},
    })
    assert r["result"] == "AcquisitionSuccess" and r["progress"] == 12
    assert r["reduced_channels"] == {"fill_factor": [["[('fill_factor', '<i4')]", []]]}
    scan = scan_of(daq, r["uuid"])
    assert scan.info["processing"]["pipeline"] == "xpcs" and scan.info["processing"]["nb_rings"] == 4
    pixels = sum(scan.streams["q"].info["info"]["pixels"])
    events = sorted(scan.streams["fill_factor"][0:12], key=lambda e: e["frame_idx"])
    got = a["reduced/fill_factor/0"]["fill_factor"]
    assert list(got) == [round(e["fill_factor"] * pixels) for e in events]
    assert got.max() > 0


def test_bad_parameters_and_commands_come_back_as_the_clients_exceptions(lima2_server, daq):
    r, _ = drive(lima2_server, "errors")
    c = r["cases"]
    assert c["unknown_class"]["type"] == "Lima2NotFound" and "LimaProcessingNope" in c["unknown_class"]["message"]
    assert c["class_version_unknown"]["type"] == "Lima2NotFound"
    assert c["wrong_type_control"] == {**c["wrong_type_control"], "type": "Lima2ParamError", "where": "control params", "path": "$.acq.nb_frames"}
    assert "integer" in c["wrong_type_control"]["message"]
    assert (c["wrong_type_processing"]["type"], c["wrong_type_processing"]["path"]) == ("Lima2ParamError", "$.fai.npt")
    assert c["wrong_type_processing"]["where"].startswith("processing params")
    assert (c["unknown_field"]["type"], c["unknown_field"]["path"]) == ("Lima2ParamError", "$.colour")
    assert (c["profile_without_direction"]["type"], c["profile_without_direction"]["path"]) == ("Lima2ParamError", "$.profiles.directions")
    # checks only daqlab's own prepare makes come back with the LIMA2 field they came from
    assert (c["roi_outside"]["type"], c["roi_outside"]["path"]) == ("Lima2ParamError", "$.statistics.rect_rois[1]")
    assert "outside" in c["roi_outside"]["message"]
    assert (c["saving_outside_roots"]["type"], c["saving_outside_roots"]["path"]) == ("Lima2ParamError", "$.saving.base_path")
    assert (c["receiver_disagrees"]["type"], c["receiver_disagrees"]["path"]) == ("Lima2ParamError", "$.acq.nb_frames")
    assert c["start_unprepared"]["type"] == "Lima2BadCommand"
    assert c["unknown_uuid"]["type"] == "Lima2NotFound" and c["unknown_uuid_running"]["value"] is False
    assert c["unknown_endpoint"]["type"] == "ConductorEndpointNotFound"
    assert c["prepare_while_running"]["type"] == "Lima2BadCommand" and "running" in c["prepare_while_running"]["message"]
    assert c["start_while_running"]["type"] == "Lima2BadCommand"
    assert r["state_running"] == "RUNNING" and r["result_running"] == "Unknown"
    assert r["state_stopped"] == "IDLE" and r["result_stopped"] == "AcquisitionSuccess"
    assert r["stopped_frames"] >= 1 and r["stopped_progress"] == r["stopped_frames"]
    # the client turns a lookup error into RuntimeError and a bad source into ValueError (services.py get_frame)
    assert c["lookup_past_end"]["type"] == "RuntimeError" and "does not exist" in c["lookup_past_end"]["message"]
    assert c["lookup_bad_source"]["type"] == "ValueError" and "nope" in c["lookup_bad_source"]["message"]
    assert c["lookup_negative"]["type"] == "ValueError"
    assert c["reduced_unknown"]["type"] == "Lima2NotFound"
    assert c["progress_unknown_channel"]["type"] == "Lima2NotFound"
    assert r["software"] == {"frames": 3, "result": "AcquisitionSuccess"}
    assert r["fault"]["state"] == "FAULT" and r["fault"]["failed"] is True and r["fault"]["result"] == "AcquisitionFailure"
    assert r["fault"]["errors"] and "fault" in r["fault"]["errors"][0].lower()
    assert c["prepare_in_fault"]["type"] == "Lima2BadCommand"
    assert r["after_reset"] == "IDLE"
    # nothing of this disturbed the server: daqlab's own client still works
    assert daq.detector(DET).state in ("IDLE", "STOPPED")


def test_lima2_option_checks_token_and_origins(make_server):
    with pytest.raises(RuntimeError, match="unknown detector"):
        make_server("--detector", DET, "--lima2", "sim-nope:0")
    with pytest.raises(RuntimeError, match="--lima2: expected NAME"):
        make_server("--lima2", f"{DET}:99999")
    s = make_server("--detector", DET, "--token", "s3cret", "--lima2", f"{DET}:0")
    port = int(re.search(r"LIMA2 conductor for \S+ listening on http://127\.0\.0\.1:(\d+)", s.log).group(1))

    def status(headers):
        req = urllib.request.Request(f"http://127.0.0.1:{port}/version/conductor", headers=headers)
        try:
            return urllib.request.urlopen(req, timeout=10).status
        except urllib.error.HTTPError as e:
            return e.code

    assert status({}) == 401
    assert status({"Authorization": "Bearer wrong"}) == 401
    assert status({"Authorization": "Bearer s3cret"}) == 200
    # a web page elsewhere may not drive the detector through the browser
    assert status({"Authorization": "Bearer s3cret", "Origin": "http://evil.example"}) == 403
