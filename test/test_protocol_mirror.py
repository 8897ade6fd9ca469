"""The Python client mirrors the one definition of the protocol (daq-server/src/protocol): same ops, events, errors, limits."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

from daqlab import _protocol as P

ROOT = Path(__file__).resolve().parents[1]


def test_python_constants_match_the_typescript_protocol():
    limits = ("MAX_MESSAGE_DEPTH", "MAX_JSON_DEPTH", "MAX_INFO_BYTES", "MAX_SUBSCRIPTIONS", "MAX_INFLIGHT_REQUESTS",
              "MAX_WINDOW", "MAX_QUEUED_BYTES", "MAX_STALL_MS", "HEARTBEAT_INTERVAL_MS", "HEARTBEAT_MISSES",
              "CLOSE_OVERLOADED", "CLOSE_UNRESPONSIVE", "MAX_REQUEST_BYTES")
    script = (f"const LIMITS = {json.dumps(list(limits))}; "
        "import('./daq-server/dist/src/protocol/index.js').then(p => console.log(JSON.stringify("
        "{ops: p.OPS, events: p.EVENTS, errors: p.ERROR_TYPES, states: p.ACQ_STATES, scan_states: p.SCAN_STATES,"
        " max: p.MAX_MESSAGE_BYTES, version: p.PROTOCOL_VERSION, header: p.DATA_HEADER_FIELDS,"
        " compressions: p.COMPRESSIONS, meta_compression: p.META_COMPRESSION, sub_modes: p.SUB_MODES,"
        " run_warnings: p.RUN_WARNING_KINDS, limits: Object.fromEntries(LIMITS.map(k => [k, p[k]]))})))"
    )
    out = json.loads(subprocess.run(["node", "-e", script], cwd=ROOT, capture_output=True, text=True, check=True).stdout)
    assert sorted(P.OPS) == sorted(out["ops"])
    assert sorted(P.EVENTS) == sorted(out["events"])
    assert sorted(P.ERROR_TYPES) == sorted(out["errors"])
    assert P.MAX_MESSAGE_BYTES == out["max"]
    assert P.PROTOCOL_VERSION == out["version"]
    assert list(P.DATA_HEADER_FIELDS) == out["header"]
    assert list(P.COMPRESSIONS) == out["compressions"]
    assert P.META_COMPRESSION == out["meta_compression"]
    assert list(P.SUB_MODES) == out["sub_modes"]
    assert list(P.RUN_WARNING_KINDS) == out["run_warnings"]
    assert {k: getattr(P, k) for k in limits} == out["limits"]
