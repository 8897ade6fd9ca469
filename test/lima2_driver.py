"""Drives a daqlab server's LIMA2 API with the real lima2-client, unchanged (runs in .venv-lima2).

usage: lima2_driver.py COMMAND PORT ARGS_JSON OUT_DIR
Writes OUT_DIR/result.json (and arrays to OUT_DIR/arrays.npz); test_lima2.py compares them with what
daqlab's own client reads from the same scan.
"""
from __future__ import annotations

import json
import sys
import time
import uuid as uuidlib
from pathlib import Path

import hdf5plugin  # noqa: F401 - registers the bitshuffle-LZ4 filter h5py needs to read the frames
import numpy as np
from lima2.client import services
from lima2.common import exceptions as lima2_exceptions


def deep_update(d: dict, patch: dict) -> dict:
    for k, v in patch.items():
        if isinstance(v, dict) and isinstance(d.get(k), dict):
            deep_update(d[k], v)
        else:
            d[k] = v
    return d


def handshake(c, args, out, arrays):
    c.handshake()  # raises unless the 4.3 client accepts the server's version
    out["conductor_version"] = c.session.get("/version/conductor").json()
    out["plugin_version"] = c.detector.version()
    out["state"] = c.acquisition.state()
    out["running"] = c.acquisition.running()
    out["result"] = type(c.acquisition.result()).__name__
    out["system_state"] = c.system_state()
    out["operational"] = c.operational()
    out["classes"] = c.pipeline.classes()
    ctl, rcv = c.acquisition.default_params()
    out["default_control"], out["default_receiver"] = ctl, rcv
    out["params_schema_keys"] = sorted(c.acquisition.params_schema())
    out["class_defaults"] = {k: c.pipeline.default_params(k) for k in out["classes"]}
    out["class_schemas"] = {k: c.pipeline.params_schema(k) for k in out["classes"]}
    out["class_versions"] = {k: c.pipeline.version(k) for k in out["classes"]}
    out["det_info"] = c.detector.info()
    out["det_status"] = c.detector.status()
    out["det_capabilities"] = c.detector.capabilities()
    out["attr_state"] = c.detector.read_attribute("state")


def run(c, args, out, arrays):
    """prepare / start / (progress and live frames while running) / wait / state / result / data."""
    ctl, rcv = c.acquisition.default_params()
    deep_update(ctl, args.get("control", {}))
    deep_update(rcv, args.get("control", {}))
    proc = deep_update(c.pipeline.default_params(args["class_name"]), args.get("processing", {}))
    uuid = c.acquisition.prepare(ctl, rcv, proc, masterfile_metadata={"sample": "lysozyme", "dose": np.arange(3.0)})
    out["uuid"] = str(uuid)
    out["state_prepared"] = c.acquisition.state()
    out["current"] = str(c.pipeline.current_pipeline())
    c.acquisition.start()
    progress, live = [], []
    while c.acquisition.running():
        progress.append(c.pipeline.progress())
        if args.get("live_frames") and len(live) < 3 and progress[-1] > 0:
            # a frame read through the lookup while the scan runs: one about 1.5 s old (its file flushed by then)
            k = max(0, progress[-1] - 30)
            if live and live[-1]["idx"] == k:
                time.sleep(0.05)
                continue
            try:
                newest = c.pipeline.get_frame(-1, "frame")  # the newest frame already in a file
                out["live_newest"] = out.get("live_newest", 0) + int(np.asarray(newest.data).size > 0)
            except (RuntimeError, OSError, KeyError) as e:
                out.setdefault("live_errors", []).append(str(e)[:200])
            try:
                frm = c.pipeline.get_frame(k, "frame")
                live.append({"idx": k, "sum": float(np.asarray(frm.data, np.float64).sum()), "progress": progress[-1]})
            except (RuntimeError, OSError, KeyError) as e:
                out.setdefault("live_errors", []).append(str(e)[:200])
        time.sleep(0.05)
    out["progress_while_running"] = progress
    out["live"] = live
    out["state_after"] = c.acquisition.state()
    res = c.acquisition.result()
    out["result"] = type(res).__name__
    out["nb_frames_acquired"] = c.acquisition.nb_frames_acquired()
    out["nb_frames_xferred"] = c.acquisition.nb_frames_xferred()
    out["errors"] = c.acquisition.errors()
    out["progress"] = c.pipeline.progress()
    out["progress_by_channel"] = {ch: c.pipeline.progress(channel=ch) for ch in c.pipeline.frame_channels()}
    out["pipeline"] = c.pipeline.pipeline(uuid)
    out["running"] = c.pipeline.running(uuid)
    out["uuids"] = [str(u) for u in c.pipeline.uuids()]
    out["frame_channels"] = {k: [v.num_channels, v.width, v.height, str(v.pixel_type)] for k, v in c.pipeline.frame_channels().items()}
    out["master_files"] = c.pipeline.master_files()
    channels = c.pipeline.reduced_data_channels()
    out["reduced_channels"] = {k: [[str(dt), list(shape)] for dt, shape in v] for k, v in channels.items()}
    for name, descrs in channels.items():
        for k in range(len(descrs)):
            chunks = list(c.pipeline.reduced_data(name, k, uuid=uuid))
            arrays[f"reduced/{name}/{k}"] = np.concatenate(chunks) if chunks else np.zeros(0, descrs[k][0])
    for idx in args.get("frames", []):
        frm = c.pipeline.get_frame(idx, "frame", uuid=uuid)
        arrays[f"frame/{idx}"] = np.asarray(frm.data)
    for idx in args.get("curves", []):
        vec = c.pipeline.get_frame(idx, "fai_averint", uuid=uuid)
        arrays[f"curve/{idx}"] = np.asarray(vec.data)
    out["lookup"] = c.session.get(f"/pipeline/{uuid}/lookup/frame/0").json()


def expect_error(c, fn):
    try:
        fn()
    except Exception as e:  # the client's own exception types, rebuilt from LIMA2's error payload
        return {"type": type(e).__name__, "message": str(e)[:2000], "where": getattr(e, "where", None), "path": getattr(e, "path", None)}
    return {"type": None}


def errors(c, args, out, arrays):
    ctl, rcv = c.acquisition.default_params()
    ctl["acq"].update(nb_frames=5, expo_time=2000)
    legacy = c.pipeline.default_params("LimaProcessingLegacy")
    fai = c.pipeline.default_params("LimaProcessingFai")
    cases = {}
    cases["unknown_class"] = expect_error(c, lambda: c.acquisition.prepare(ctl, ctl, dict(legacy, class_name="LimaProcessingNope")))
    cases["class_version_unknown"] = expect_error(c, lambda: c.pipeline.version("LimaProcessingNope"))
    cases["wrong_type_control"] = expect_error(c, lambda: c.acquisition.prepare(deep_update(json.loads(json.dumps(ctl)), {"acq": {"nb_frames": "ten"}}), ctl, legacy))
    cases["wrong_type_processing"] = expect_error(c, lambda: c.acquisition.prepare(ctl, ctl, deep_update(json.loads(json.dumps(fai)), {"fai": {"npt": "many"}})))
    cases["unknown_field"] = expect_error(c, lambda: c.acquisition.prepare(ctl, ctl, dict(legacy, colour="blue")))
    cases["profile_without_direction"] = expect_error(c, lambda: c.acquisition.prepare(ctl, ctl, deep_update(json.loads(json.dumps(legacy)), {"profiles": {"enabled": True, "rois": [{"topleft": {"x": 0, "y": 0}, "dimensions": {"x": 5, "y": 5}}], "directions": []}})))
    cases["roi_outside"] = expect_error(c, lambda: c.acquisition.prepare(ctl, ctl, deep_update(json.loads(json.dumps(legacy)), {"statistics": {"enabled": True, "rect_rois": [{"topleft": {"x": 0, "y": 0}, "dimensions": {"x": 10, "y": 10}}, {"topleft": {"x": 1000, "y": 500}, "dimensions": {"x": 100, "y": 100}}]}})))
    cases["saving_outside_roots"] = expect_error(c, lambda: c.acquisition.prepare(ctl, ctl, deep_update(json.loads(json.dumps(legacy)), {"saving": {"enabled": True, "base_path": "/proc/nope"}})))
    cases["receiver_disagrees"] = expect_error(c, lambda: c.acquisition.prepare(ctl, deep_update(json.loads(json.dumps(ctl)), {"acq": {"nb_frames": 6}}), legacy))
    cases["start_unprepared"] = expect_error(c, lambda: c.acquisition.start())
    cases["unknown_uuid"] = expect_error(c, lambda: c.pipeline.progress(uuid=uuidlib.uuid4()))
    cases["unknown_uuid_running"] = {"value": c.pipeline.running(uuid=uuidlib.uuid4())}
    cases["unknown_endpoint"] = expect_error(c, lambda: c.session.get("/acquisition/nope"))
    # an endless acquisition: prepare while it runs is refused, stop ends it
    endless = deep_update(json.loads(json.dumps(ctl)), {"acq": {"nb_frames": 0, "expo_time": 10000}})
    c.acquisition.prepare(endless, endless, legacy)
    c.acquisition.start()
    time.sleep(0.3)
    cases["prepare_while_running"] = expect_error(c, lambda: c.acquisition.prepare(ctl, ctl, legacy))
    cases["start_while_running"] = expect_error(c, lambda: c.acquisition.start())
    out["state_running"] = c.acquisition.state()
    out["result_running"] = type(c.acquisition.result()).__name__
    c.acquisition.stop()
    deadline = time.monotonic() + 20
    while c.acquisition.running() and time.monotonic() < deadline:
        time.sleep(0.05)
    out["state_stopped"] = c.acquisition.state()
    out["result_stopped"] = type(c.acquisition.result()).__name__
    out["stopped_frames"] = c.acquisition.nb_frames_acquired()
    n = c.pipeline.progress(channel="frame")
    out["stopped_progress"] = n
    cases["lookup_past_end"] = expect_error(c, lambda: c.pipeline.get_frame(n + 5, "frame"))
    cases["lookup_bad_source"] = expect_error(c, lambda: c.pipeline.get_frame(0, "nope"))
    cases["lookup_negative"] = expect_error(c, lambda: c.pipeline.get_frame(-7, "frame"))
    cases["reduced_unknown"] = expect_error(c, lambda: list(c.pipeline.reduced_data("nope", 0)))
    cases["progress_unknown_channel"] = expect_error(c, lambda: c.pipeline.progress(channel="nope"))
    # software trigger: one trigger() per frame
    sw = deep_update(json.loads(json.dumps(ctl)), {"acq": {"nb_frames": 3, "trigger_mode": "software", "nb_frames_per_trigger": 1}})
    c.acquisition.prepare(sw, sw, legacy)
    c.acquisition.start()
    for _ in range(3):
        c.acquisition.trigger()
        time.sleep(0.1)
    deadline = time.monotonic() + 20
    while c.acquisition.running() and time.monotonic() < deadline:
        time.sleep(0.05)
    out["software"] = {"frames": c.acquisition.nb_frames_acquired(), "result": type(c.acquisition.result()).__name__}
    # a detector fault: FAULT, the failure's reason, then reset (what BLISS does before its next prepare)
    bad = deep_update(json.loads(json.dumps(ctl)), {"acq": {"nb_frames": 20}, "det": {"fault_at_frame": 3}})
    c.acquisition.prepare(bad, bad, legacy)
    c.acquisition.start()
    deadline = time.monotonic() + 20
    while not c.acquisition.failed() and time.monotonic() < deadline:
        time.sleep(0.05)
    res = c.acquisition.result()
    out["fault"] = {"state": c.acquisition.state(), "failed": c.acquisition.failed(), "result": type(res).__name__, "errors": getattr(res, "acquisition_errors", None)}
    cases["prepare_in_fault"] = expect_error(c, lambda: c.acquisition.prepare(ctl, ctl, legacy))
    c.acquisition.reset()
    out["after_reset"] = c.acquisition.state()
    out["cases"] = cases
    out["lima2_error_types"] = sorted(n for n in dir(lima2_exceptions) if n.startswith("Lima2"))


def main() -> None:
    command, port, args_json, out_dir = sys.argv[1:5]
    out_path = Path(out_dir)
    out_path.mkdir(parents=True, exist_ok=True)
    c = services.init("127.0.0.1", int(port))
    out: dict = {}
    arrays: dict = {}
    {"handshake": handshake, "run": run, "errors": errors}[command](c, json.loads(args_json), out, arrays)
    np.savez(out_path / "arrays.npz", **arrays)
    (out_path / "result.json").write_text(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
