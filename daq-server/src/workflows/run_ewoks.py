"""Run one ewoks graph on a daqlab scan and save its outputs as a derived scan.

Run by the server (workflows/local.ts, a bounded subprocess) or by a Slurm job (the `ewoks` job
template), with the Python of the ewoks venv: ``python run_ewoks.py SPEC.json``. SPEC says the
graph file, the scan's master and number, the user's inputs and where to write. The outputs of the
graph's end nodes go to ``<output_dir>/<prefix>.h5`` (NeXus: an NXentry whose NXdata plots
intensity against radial when the graph integrates) and ``<prefix>.derived.json``, the manifest the
server registers a derived scan from (the same one the batch templates write).

Inputs: daqlab's ``filename`` (the master) and ``scan`` (its number, unless the user gives one) go
to the start nodes whose task requires them; each of the user's inputs to the start nodes whose task
takes it. A graph started while its scan runs (``on: "prepared"``) also gets ``retry_timeout``
(PREPARED_RETRY_TIMEOUT, unless the user gives one) where a start node takes it: ewoksdata/blissdata
retry reading a growing file, and without a bound forever — a detector name the file lacks, asked
before the scan's end, is taken for a LIMA detector whose files may yet appear (blissdata caches that
guess and never looks at ``end_time`` again), so the graph would wait until the workflow's timeout.
silx restarts that timeout at each point read: it bounds the wait for the next point, not the scan. Only task
classes run (a graph of methods or scripts is refused, as the server does at prepare).
Standard library, numpy, h5py and ewoks only: this file does not import daqlab.
"""
from __future__ import annotations

import json
import sys
import traceback
from datetime import datetime, timezone
from pathlib import Path

import h5py
import numpy as np
from ewoks import execute_graph, load_graph
from ewokscore.graph.analysis import start_nodes
from ewokscore.task import Task


# seconds without a new point after which a graph started on "prepared" gives up reading (see above)
PREPARED_RETRY_TIMEOUT = 60.0


def graph_inputs(taskgraph, given: dict, user: dict, defaults: dict | None = None) -> list[dict]:
    """ewoks inputs addressed to start nodes by id: `given` where required, `user` where taken,
    `defaults` where taken and the user gives no such input."""
    inputs: list[dict] = []
    taken: set[str] = set()
    for node_id in sorted(start_nodes(taskgraph.graph), key=str):
        attrs = taskgraph.graph.nodes[node_id]
        cls = Task.get_subclass(attrs["task_identifier"])
        required, names = set(cls.required_input_names()), set(cls.input_names())
        for name, value in given.items():
            if name in required:
                inputs.append({"id": node_id, "name": name, "value": value})
        for name, value in user.items():
            if name in names:
                inputs.append({"id": node_id, "name": name, "value": value})
                taken.add(name)
        for name, value in (defaults or {}).items():
            if name in names and name not in user:
                inputs.append({"id": node_id, "name": name, "value": value})
    missing = sorted(set(user) - taken)
    if missing:
        raise ValueError(f"inputs {', '.join(missing)}: no start node of the graph takes them")
    return inputs


def write_value(group: h5py.Group, name: str, value) -> None:
    """An output as a dataset: arrays and numbers as they are, text as text, anything else as JSON."""
    if isinstance(value, (str, bytes)):
        group[name] = value
        return
    try:
        arr = np.asarray(value)
    except Exception:  # noqa: BLE001 - not array-like: kept as JSON text
        arr = None
    if arr is not None and arr.dtype.kind in "biuf":
        group[name] = arr
    else:
        group[name] = json.dumps(value, default=str)


def save(path: Path, outputs: dict, spec: dict) -> None:
    with h5py.File(path, "w") as f:
        f.attrs.update(NX_class="NXroot", default="entry", creator="daqlab workflow (ewoks)")
        entry = f.create_group("entry")
        entry.attrs.update(NX_class="NXentry", default="results")
        entry["title"] = f"{Path(spec['graph']).stem} of scan {spec['scan']}"
        entry["end_time"] = datetime.now(timezone.utc).isoformat()
        wf = entry.create_group("workflow")
        wf.attrs["NX_class"] = "NXnote"
        wf["graph"] = Path(spec["graph"]).read_text()
        wf["graph_file"] = spec["graph"]
        wf["inputs"] = json.dumps(spec["inputs"])
        wf["source"] = spec["filename"]
        results = entry.create_group("results")
        results.attrs["NX_class"] = "NXdata"
        for name, value in outputs.items():
            write_value(results, name, value)
        if "intensity" in results and "radial" in results:
            results.attrs.update(signal="intensity", axes=[".", "radial"] if results["intensity"].ndim == 2 else ["radial"])
            units = outputs.get("radial_units")
            if units is not None:
                results["radial"].attrs["units"] = str(units)


def main(spec_file: str) -> int:
    spec = json.loads(Path(spec_file).read_text())
    doc = json.loads(Path(spec["graph"]).read_text())
    for node in doc.get("nodes", []):
        if node.get("task_type") != "class":
            raise ValueError(f"node {node.get('id')!r}: only task classes run here, not {node.get('task_type')!r}")
    taskgraph = load_graph(doc)
    given = {k: v for k, v in (("filename", spec["filename"]), ("scan", spec["scan"])) if k not in spec["inputs"]}
    defaults = {"retry_timeout": PREPARED_RETRY_TIMEOUT} if spec.get("on") == "prepared" else {}
    inputs = graph_inputs(taskgraph, given, spec["inputs"], defaults)
    print(f"running {spec['graph']} on {spec['filename']} (scan {spec['scan']})", flush=True)
    outputs = execute_graph(doc, inputs=inputs, outputs=[{"all": False}], merge_outputs=True)
    if defaults and "intensity" in outputs and np.size(outputs["intensity"]) == 0:
        # the bounded wait gave up on a detector or counter that never came: ewoksxrpd ends with no point
        raise RuntimeError(f"the graph read no point of scan {spec['scan']} of {spec['filename']} "
                           f"(nothing new for {PREPARED_RETRY_TIMEOUT:g} s: does the file have the detector or counters it names?)")
    out_dir = Path(spec["output_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    master = out_dir / f"{spec['prefix']}.h5"
    save(master, outputs, spec)
    manifest = {
        "template": "ewoks", "master": str(master), "source": spec["filename"], "source_key": spec.get("source_key"),
        "frames": None, "params": {"graph": spec["graph"], "inputs": spec["inputs"]},
        "created": datetime.now(timezone.utc).isoformat(), "outputs": sorted(outputs),
    }
    (out_dir / f"{spec['prefix']}.derived.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"outputs {', '.join(sorted(outputs))} written to {master}", flush=True)
    return 0


def explain(err: BaseException) -> str:
    """The error and its causes, innermost last: ewoks wraps a task's failure in its own."""
    parts = []
    while err is not None and len(parts) < 8:
        parts.append(f"{type(err).__name__}: {err}")
        err = err.__cause__ or err.__context__
    return " <- ".join(parts)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: run_ewoks.py SPEC.json")
    try:
        sys.exit(main(sys.argv[1]))
    except Exception as e:  # noqa: BLE001 - reported to the server on the last line
        traceback.print_exc()
        print(f"WORKFLOW ERROR: {explain(e)}", file=sys.stderr, flush=True)
        sys.exit(1)
