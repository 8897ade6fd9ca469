"""Read daqlab scans through ESRF's real blissdata client (run with .venv-blissdata/bin/python).

    follow URL NAME TIMEOUT   print READY, wait for the next scan named NAME, follow it live with a
                              CursorGroup until every stream ends, then print one JSON summary line
    read URL KEY              print the JSON summary of a finished scan (reading it after the end)
    trimmed URL KEY STREAM    what blissdata's own stream says of each index of STREAM trimmed from Redis: the
                              error of the Redis-only read (its event stream), and whether the stream as loaded
                              (its plugin: hdf5_fallback) read the same index from the file
    write URL NAME N          write a scan with blissdata's own writer (N frames 16×24 uint16 = index, a
                              json stream, a float64 counter), print its key

Summaries hold, per stream, its encoding/info/plugin, its length and, per point, a sha1 of the bytes
(numeric streams) or the JSON document (json streams): the test compares them with daqlab's own client.
"""
from __future__ import annotations

import hashlib
import json
import sys
import time

import hdf5plugin  # noqa: F401 - daqlab's data files are bitshuffle/LZ4: their HDF5 filter, for the hdf5_fallback reads
import numpy as np
from blissdata.redis_engine.scan import ScanState
from blissdata.redis_engine.store import DataStore
from blissdata.streams import CursorGroup, EndOfStream


def digest(point) -> str:
    return hashlib.sha1(np.ascontiguousarray(point).tobytes()).hexdigest()


def points(stream, data) -> list:
    if stream.dtype == object:
        return list(data)
    return [digest(p) for p in data]


def describe(scan) -> dict:
    return {
        "key": scan.key,
        "state": scan.state.name,
        "id": {k: getattr(scan, k) for k in ("name", "number", "data_policy", "session", "proposal", "collection", "dataset", "path")},
        "info": scan.info,
        "streams": {
            name: {
                "len": len(s),
                "encoding": s.event_stream.encoding,
                "info": s.info,
                "plugin": s.plugin,
                "dtype": str(s.dtype),
                "shape": list(s.shape),
                "sealed": s.is_sealed(),
            }
            for name, s in scan.streams.items()
        },
    }


def read(url: str, key: str) -> dict:
    scan = DataStore(url).load_scan(key)
    out = describe(scan)
    out["points"] = {name: points(s, s[:]) for name, s in scan.streams.items()}
    out["last"] = {name: points(s, [s[-1]])[0] for name, s in scan.streams.items() if len(s)}
    return out


def trimmed(url: str, key: str, name: str) -> dict:
    from blissdata.exceptions import IndexNoMoreThereError

    stream = DataStore(url).load_scan(key).streams[name]
    errors: dict[str, int] = {}
    gone = []
    for i in range(len(stream)):
        try:
            stream.event_stream[i]
        except IndexNoMoreThereError as e:
            errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
            gone.append(i)
    return {"len": len(stream), "plugin": stream.plugin, "errors": errors, "gone": gone,
            "fallback": {i: digest(stream[i]) for i in gone}}


def follow(url: str, name: str, timeout: float) -> dict:
    store = DataStore(url)
    raw = store._redis.xrevrange("_SCAN_HISTORY_", count=1)
    since = raw[0][0].decode() if raw else "0-0"
    print("READY", flush=True)
    deadline = time.monotonic() + timeout
    while True:
        since, key = store.get_next_scan(since=since, timeout=max(1, deadline - time.monotonic()))
        scan = store.load_scan(key)
        if scan.name == name:
            break
    states = [scan.state.name]
    while scan.state < ScanState.PREPARED:
        scan.update(timeout=max(1, deadline - time.monotonic()))
        states.append(scan.state.name)
    group = CursorGroup(scan.streams)
    live: dict[str, list] = {n: [] for n in scan.streams}
    # points read while the scan was still acquiring (state below STOPPED when they were read)
    while_running = {n: 0 for n in scan.streams}
    while time.monotonic() < deadline:
        try:
            views = group.read(timeout=1)
        except EndOfStream:
            break
        if scan.update(block=False):
            states.append(scan.state.name)
        for stream, view in views.items():
            got = points(stream, view.get_data())
            live[stream.name].extend(got)
            if scan.state < ScanState.STOPPED:
                while_running[stream.name] += len(got)
    while scan.state < ScanState.CLOSED and time.monotonic() < deadline:
        if scan.update(timeout=max(1, deadline - time.monotonic())):
            states.append(scan.state.name)
    out = describe(scan)
    out.update(states=states, live=live, while_running=while_running)
    return out


def write(url: str, name: str, n: int) -> dict:
    """A scan by blissdata's own writer. Sealing calls a server-side function that blissdata's database
    setup loads (it also needs RediSearch, absent here): load it from the installed blissdata itself."""
    import inspect
    import re

    from blissdata.streams.default import Stream

    store = DataStore(url)
    setup = inspect.getsource(DataStore._setup_redis_db)
    store._redis.function_load(code=re.search(r'"""(#!lua.*?)"""', setup, re.S).group(1), replace=True)
    scan = store.create_scan({"name": name, "number": 7, "data_policy": "no_policy", "collection": "s1"}, info={"title": "written by blissdata"})
    frames = scan.create_stream(Stream.make_definition("image", np.uint16, (16, 24)))
    events = scan.create_stream(Stream.make_definition("note", "json"))
    counter = scan.create_stream(Stream.make_definition("diode", np.float64))
    scan.prepare()
    scan.start()
    for i in range(n):
        frames.send(np.full((16, 24), i, np.uint16))
        events.send({"i": i})
    counter.send(np.arange(n, dtype=np.float64) / 2)
    scan.stop()
    scan.close()
    return {"key": scan.key}


def main(argv: list[str]) -> None:
    if argv[0] == "follow":
        result = follow(argv[1], argv[2], float(argv[3]))
    elif argv[0] == "read":
        result = read(argv[1], argv[2])
    elif argv[0] == "trimmed":
        result = trimmed(argv[1], argv[2], argv[3])
    elif argv[0] == "write":
        result = write(argv[1], argv[2], int(argv[3]))
    else:
        raise SystemExit(__doc__)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
