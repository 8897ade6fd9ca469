"""Workflows at scan end: an ewoks graph the server runs on a scan's saved master.

Give ``workflow=`` to a scan function or to ``Detector.prepare``::

    s = loopscan(10, 0.1, eiger, save_dir=d, workflow={"graph": "integrate.json", "inputs": {...}})
    wf = wait_workflow(s)            # {"state": "DONE", "derived": <key>, "output": <file>, ...}
    open_derived(wf["output"])       # or c.scans.get(wf["derived"])

``graph`` is a file of the server's ``workflows/`` folder or a path inside its data roots;
``inputs`` go to the graph's start nodes beside ``filename`` (the master) and ``scan`` (its number);
``on`` is ``"end"`` (default) or ``"prepared"``; ``where`` is ``"local"`` (default) or ``"slurm"``.
A failing graph ends in state FAILED with its error; the scan itself is left as it was.
"""
from __future__ import annotations

import time

from . import _protocol as P
from .errors import TimeoutError

__all__ = ["workflow_status", "wait_workflow"]

FINAL = ("DONE", "FAILED")


def _key_and_client(scan, client=None):
    key = getattr(scan, "key", scan)
    client = client or getattr(scan, "_client", None)
    if client is None:
        raise TypeError("give the client, or a scan object that knows it")
    return key, client


def workflow_status(scan, client=None) -> dict:
    """The state of the workflow attached to ``scan`` (a StepScan, an Acquisition's scan, or a key)."""
    key, client = _key_and_client(scan, client)
    return client.call(P.OP_WORKFLOW_STATUS, scan=key)


def wait_workflow(scan, timeout: float = 300, client=None) -> dict:
    """Wait until the workflow of ``scan`` is DONE or FAILED; TimeoutError past ``timeout``."""
    key, client = _key_and_client(scan, client)
    deadline = time.monotonic() + timeout
    while True:
        left = max(0.0, min(30.0, deadline - time.monotonic()))
        status = client.call(P.OP_WORKFLOW_WAIT, {"scan": key, "timeout": left}, timeout=left + 10)
        if status["state"] in FINAL:
            return status
        if time.monotonic() >= deadline:
            raise TimeoutError(f"the workflow of scan {key} is still {status['state']} after {timeout} s")
