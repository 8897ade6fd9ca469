"""Runs in .venv-bluesky (bluesky, ophyd-async, event-model, tiled): drives daqlab.bluesky devices with a real
RunEngine against the daqlab server at argv[1], validates every document with event-model, writes the runs to
a SimpleTiledServer through bluesky_tiled_plugins.TiledWriter and reads them back. Writes a JSON summary (and
the frames Tiled returns as .npy) into the folder argv[2] for test_bluesky.py to check."""
from __future__ import annotations

import json
import os
import sys
from collections import defaultdict
from pathlib import Path

import hdf5plugin  # noqa: F401  (the server's bitshuffle/LZ4 frames, read by Tiled in this process)
import numpy as np
from bluesky import RunEngine
from bluesky import plan_stubs as bps
from bluesky import plans as bp
from bluesky import preprocessors as bpp
from bluesky_tiled_plugins import TiledWriter
from event_model import DocumentNames, schema_validators
from ophyd_async.core import TriggerInfo
from ophyd_async.plan_stubs import ensure_connected
from tiled.client import from_uri
from tiled.server import SimpleTiledServer

import daqlab
from daqlab import bluesky as dbs

url, out = sys.argv[1], Path(sys.argv[2])
data = out / "data"
client = daqlab.connect(url)
dbs.use(client)

RE = RunEngine({})
docs: dict[str, list] = defaultdict(list)  # run uid -> [(name, doc)]
current: list[str] = []


def collect(name, doc):
    schema_validators[DocumentNames(name)].validate(doc)  # raises on an invalid document
    if name == "start":
        current[:] = [doc["uid"]]
    docs[current[0]].append((name, doc))


RE.subscribe(collect)
tiled_server = SimpleTiledServer(directory=out / "tiled", readable_storage=[str(data)])
tiled = from_uri(tiled_server.uri)
RE.subscribe(TiledWriter(tiled))

eiger = dbs.detector("sim-eiger-500k", name="eiger", save_dir=str(data), expo_time=0.01)
samx, samy = dbs.axis("samx"), dbs.axis("samy", name="samy")
diode, i0 = dbs.counter("diode", name="diode", count_time=0.01), dbs.counter("i0", count_time=0.01)
RE(ensure_connected(eiger, samx, samy, diode, i0))
RE(bps.mv(samx, 0, samy, 0))

result: dict = {"runs": {}}


def summarise(key: str, uids, det=None):
    uid = uids[0]
    names = [n for n, _ in docs[uid]]
    events = [d for n, d in docs[uid] if n == "event"]
    pages = [d for n, d in docs[uid] if n == "event_page"]
    resources = [d for n, d in docs[uid] if n == "stream_resource"]
    datums = [d for n, d in docs[uid] if n == "stream_datum"]
    descriptor = next(d for n, d in docs[uid] if n == "descriptor")
    rows = {k: [e["data"][k] for e in events] for k in (events[0]["data"] if events else {})}
    for p in pages:
        for k, v in p["data"].items():
            rows.setdefault(k, []).extend(v)
    stop = next(d for n, d in docs[uid] if n == "stop")
    r = {"uid": uid, "names": sorted(set(names)), "n_events": len(events) + sum(len(p["seq_num"]) for p in pages),
         "rows": rows, "data_keys": {k: {f: v.get(f) for f in ("shape", "dtype", "external")}
                                     for k, v in descriptor["data_keys"].items()},
         "resources": [{"uri": d["uri"], "data_key": d["data_key"], "mimetype": d["mimetype"],
                        "parameters": d["parameters"]} for d in resources],
         "datums": [d["indices"] for d in datums], "exit_status": stop["exit_status"],
         "num_events": stop.get("num_events", {})}
    if det is not None:
        r["scan_key"], r["master"] = det.scan_key, det.master
        frames = tiled[uid]["primary"][det.name].read()
        np.save(out / f"{key}_tiled.npy", np.asarray(frames))
        r["tiled_shape"] = list(np.shape(frames))
    result["runs"][key] = r


summarise("count", RE(bp.count([eiger, diode], num=3)), eiger)
summarise("scan", RE(bp.scan([diode, i0], samy, -1, 1, 5)))
summarise("grid", RE(bp.grid_scan([diode], samx, -0.5, 0.5, 3, samy, -0.5, 0.5, 2)))
RE(bps.mv(samy, 0.3))
summarise("rel", RE(bp.rel_scan([diode, eiger], samy, -0.2, 0.2, 3)), eiger)
result["samy_after_rel"] = client.axis("samy").position
try:  # a target outside the limits: refused, naming the axis, through the RunEngine
    RE(bps.mv(samy, 50))
    result["limit_error"] = None
except Exception as exc:  # noqa: BLE001 - the message is what the test checks
    result["limit_error"] = f"{type(exc).__name__}: {exc} {exc.__cause__!r}"
result["samy_after_limit"] = client.axis("samy").position
client.mca("mca").rois.add("Fe", 6300, 6500)
mca = dbs.mca("mca", count_time=0.01)
RE(ensure_connected(mca))
summarise("mca", RE(bp.count([mca], num=2)))


def fly(n: int, livetime: float):
    """A fly plan: the detector prepared for n frames, kicked off and completed, its frames collected."""
    @bpp.stage_decorator([eiger])
    @bpp.run_decorator(md={"plan_name": "daqlab_fly"})
    def inner():
        yield from bps.prepare(eiger, TriggerInfo(number_of_events=n, livetime=livetime), wait=True)
        yield from bps.declare_stream(eiger, name="primary", collect=True)
        yield from bps.kickoff(eiger, wait=True)
        yield from bps.collect_while_completing(flyers=[eiger], dets=[eiger], flush_period=0.2)
    return (yield from inner())


summarise("fly", RE(fly(20, 0.005)), eiger)
(out / "result.json").write_text(json.dumps(result, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))
client.close()
print("OK", flush=True)
os._exit(0)  # the in-process Tiled server's threads would keep the interpreter alive
