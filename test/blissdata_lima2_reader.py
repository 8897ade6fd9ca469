"""What BLISS does with a LIMA2 detector, against daqlab (run with .venv-blissdata/bin/python, which has the real
blissdata 2.4.5, blissdata-lima2 2.0.2 and lima2-client 4.3.2):

    run REDIS_URL CONDUCTOR_PORT DATA_DIR

drives an endless acquisition through daqlab's LIMA2 API with lima2-client (saving on), finds its scan in Redis
with blissdata, reads frames of its `lima2` stream while it runs (a cursor's view and indexing: through the
conductor's lookup), probes reads past the end, stops the acquisition, waits for the scan to close, then reads
every frame again (from the master file, the stream being sealed). Prints one JSON summary line: per frame a sha1,
which test_blissdata_lima2.py compares with daqlab's own client.
"""
from __future__ import annotations

import hashlib
import json
import sys
import time

import hdf5plugin  # noqa: F401 - daqlab's data files are bitshuffle/LZ4: h5py needs their filter
import numpy as np
from blissdata.exceptions import IndexNotYetThereError, IndexWontBeThereError  # noqa: F401 - named in the summary
from blissdata.redis_engine.scan import ScanState
from blissdata.redis_engine.store import DataStore
from lima2.client import services


def sha1(frame) -> str:
    return hashlib.sha1(np.ascontiguousarray(frame).tobytes()).hexdigest()


def error_of(fn) -> dict:
    try:
        fn()
    except Exception as e:  # blissdata's own exception types are what BLISS and Flint handle
        return {"type": type(e).__name__, "message": str(e)[:500]}
    return {"type": None}


def until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.05)


def run(url: str, port: int, data_dir: str) -> dict:
    out: dict = {}
    store = DataStore(url)
    raw = store._redis.xrevrange("_SCAN_HISTORY_", count=1)
    since = raw[0][0].decode() if raw else "0-0"

    c = services.init("127.0.0.1", port)
    c.handshake()
    ctl, rcv = c.acquisition.default_params()
    for p in (ctl, rcv):
        p["acq"].update(nb_frames=0, expo_time=20000)  # endless, 50 frames/s: ended by stop() below
    proc = c.pipeline.default_params("LimaProcessingLegacy")
    proc["saving"].update(enabled=True, base_path=data_dir, filename_prefix="bl2", nb_frames_per_file=10)
    uuid = str(c.acquisition.prepare(ctl, rcv, proc))
    c.acquisition.start()
    out["uuid"] = uuid

    _, key = store.get_next_scan(since=since, timeout=30)
    scan = store.load_scan(key)
    out["daqlab_key"] = scan.info.get("daqlab_key")

    def lima2_stream():
        if scan.state < ScanState.STARTED:
            scan.update(timeout=1)
        return next((s for s in scan.streams.values() if s.plugin == "lima2"), None)

    stream = until(lima2_stream, 30, "no lima2 stream in the scan")
    out["stream"] = {"name": stream.name, "info": stream.info, "encoding": stream.event_stream.encoding, "dtype": str(stream.dtype), "shape": list(stream.shape), "kind": stream.kind}

    # live, as Flint follows a scan: a cursor's view of the frames readable so far, read through the conductor
    cursor = stream.cursor()
    view = until(lambda: cursor.read(timeout=1), 30, "the lima2 cursor saw no frames")
    live_frames = view.get_data()
    out["live_view"] = {"index": view.index, "len": len(view), "sha1": [sha1(f) for f in live_frames], "shape": list(live_frames.shape)}
    n = len(stream)
    out["live_len"] = n
    out["live_item"] = {"idx": n - 1, "sha1": sha1(stream[n - 1])}
    out["live_slice"] = [sha1(f) for f in stream[0:3]]
    out["live_past_end"] = error_of(lambda: stream[n + 1000])
    out["live_from_end"] = error_of(lambda: stream[-1])
    # the lookup itself, for a frame that does not exist yet: blissdata-lima2 reports the conductor's refusal
    out["live_lookup_past_end"] = error_of(lambda: stream._fetch_online(start=n + 1000, stop=n + 1001, step=1))
    out["sealed_while_live"] = stream.is_sealed()

    c.acquisition.stop()
    until(lambda: not c.acquisition.running(), 30, "the acquisition did not stop")
    out["nb_frames_acquired"] = c.acquisition.nb_frames_acquired()
    def closed() -> bool:
        if scan.state < ScanState.CLOSED:
            scan.update(timeout=1)
        return scan.state == ScanState.CLOSED

    until(closed, 60, "the scan did not close")
    until(stream.is_sealed, 30, "the lima2 stream was not sealed")

    # after the end: from the master file
    total = len(stream)
    out["final_len"] = total
    frames = stream[:]
    out["final"] = [sha1(f) for f in frames]
    out["final_shape"] = list(frames.shape)
    out["final_last"] = sha1(stream[-1])
    out["final_past_end"] = error_of(lambda: stream[total])
    out["scan_state"] = scan.state.name
    return out


def main() -> None:
    command, url, port, data_dir = sys.argv[1:5]
    assert command == "run", command
    print(json.dumps(run(url, int(port), data_dir), default=str), flush=True)


if __name__ == "__main__":
    main()
