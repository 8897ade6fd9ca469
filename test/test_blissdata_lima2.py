"""blissdata with its `lima2` plugin (the real blissdata 2.4.5 + blissdata-lima2 2.0.2, in .venv-blissdata) reads the
frames of a scan driven through daqlab's LIMA2 API (--lima2) and published in Redis (--store redis://…): live through
the conductor's frame lookup, after the end from the master file — equal to what daqlab's own client reads."""
from __future__ import annotations

import hashlib
import json
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

import daqlab
from conftest import ServerProcess
from redis_server import BLISSDATA_PYTHON, redis_server  # noqa: F401 - session fixture

READER = Path(__file__).with_name("blissdata_lima2_reader.py")
DET = "sim-eiger-500k"


def sha1(frame) -> str:
    return hashlib.sha1(np.ascontiguousarray(frame).tobytes()).hexdigest()


@pytest.fixture(scope="module")
def data_root():
    return Path(tempfile.mkdtemp(prefix="daqlab-bl2-data-"))


@pytest.fixture(scope="module")
def lima2_redis_server(redis_server, data_root):  # noqa: F811
    s = ServerProcess("--detector", DET, "--lima2", f"{DET}:0", "--store", redis_server.url(1), env={"DAQLAB_DATA_ROOTS": str(data_root)})
    m = re.search(r"LIMA2 conductor for \S+ listening on http://127\.0\.0\.1:(\d+)", s.log)
    assert m, s.log
    s.lima2_port = int(m.group(1))
    yield s
    s.stop()


@pytest.fixture(scope="module")
def read(redis_server, lima2_redis_server, data_root):  # noqa: F811
    """One endless LIMA2 acquisition (saving on), read by blissdata-lima2 live, stopped, read again after the end."""
    p = subprocess.run(
        [str(BLISSDATA_PYTHON), str(READER), "run", redis_server.url(1), str(lima2_redis_server.lima2_port), str(data_root)],
        capture_output=True, text=True, timeout=180,
    )
    assert p.returncode == 0, f"{p.stdout}\n{p.stderr}\nserver log:\n{lima2_redis_server.log[-3000:]}"
    r = json.loads(p.stdout.strip().splitlines()[-1])
    c = daqlab.connect(lima2_redis_server.url)
    scan = c.scans[r["daqlab_key"]]
    frames = scan.streams["frame"]
    r["daqlab"] = {"uuid": scan.info["acquisition_uuid"], "master": scan.info["saving"]["master"], "sha1": [sha1(frames[k]) for k in range(len(frames))]}
    c.close()
    return r


def test_the_lima2_stream_is_blissdata_lima2s_model(read, lima2_redis_server):
    s = read["stream"]
    assert s["name"] == f"{DET}:frame" and s["kind"] == "array"
    info = s["info"]
    assert info["plugin"] == "lima2" and info["protocol_version"] == 2
    assert info["acq_uuid"] == read["uuid"] == read["daqlab"]["uuid"]
    assert info["source_name"] == "frame"
    assert info["conductor_hostname"] == "127.0.0.1" and info["conductor_port"] == lima2_redis_server.lima2_port
    assert info["master_file"] == [read["daqlab"]["master"], "entry_0000/instrument/detector/data"]
    assert info["dtype"] == s["dtype"] == "uint32" and info["shape"] == s["shape"] == [514, 1030]
    # frames never transit Redis: the stream counts readable frames in uint32 (Lima2Stream.make_definition)
    assert s["encoding"] == {"type": "numeric", "dtype_str": "<u4", "shape": []}


def test_blissdata_reads_frames_live_through_the_lookup_equal_to_daqlabs_own_client(read):
    want = read["daqlab"]["sha1"]
    assert read["sealed_while_live"] is False
    v = read["live_view"]
    assert v["len"] >= 1 and v["shape"] == [v["len"], 514, 1030]
    assert v["sha1"] == want[v["index"]: v["index"] + v["len"]]
    assert read["live_len"] >= 1
    assert read["live_item"]["sha1"] == want[read["live_item"]["idx"]]
    assert read["live_slice"] == want[0:min(3, read["live_len"])]


def test_blissdata_reads_every_frame_after_the_end_from_the_master_file(read):
    want = read["daqlab"]["sha1"]
    assert read["scan_state"] == "CLOSED"
    assert read["final_len"] == len(want) == read["nb_frames_acquired"] >= read["live_len"]
    assert read["final_shape"] == [len(want), 514, 1030]
    assert read["final"] == want
    assert read["final_last"] == want[-1]


def test_reads_past_the_end_give_blissdatas_errors(read):
    # while the scan runs: not yet there (blissdata-lima2's own bounds), and the conductor's lookup refusing a
    # frame that does not exist yet comes back as blissdata's IndexNoMoreThereError
    assert read["live_past_end"]["type"] == "IndexNotYetThereError"
    assert read["live_from_end"]["type"] == "IndexNotYetThereError"
    assert read["live_lookup_past_end"]["type"] == "IndexNoMoreThereError"
    assert "is not there yet" in read["live_lookup_past_end"]["message"]
    # after the end: will not be there
    assert read["final_past_end"]["type"] == "IndexWontBeThereError"
