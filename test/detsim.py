"""A `daqlab-detector-sim` process for tests, and DECTRIS stream decoding with DECTRIS's tools only
(cbor2 + dectris-compression): what a user of a real detector would write. Used by test_detector_sim.py;
tests of the real-detector path can start the simulated detector the same way."""
from __future__ import annotations

import json
import struct
import urllib.error
import urllib.request
from pathlib import Path

import cbor2
import numpy as np
from dectris.compression import decompress
from procs import ReadyProcess

ROOT = Path(__file__).resolve().parents[1]
SIM_CLI = ROOT / "daq-server" / "dist" / "src" / "detector-sim" / "cli.js"
API = "api/1.8.0"
SIM_OF = {"eiger-500k": "sim-eiger-500k", "eiger2-4m": "sim-eiger-4m", "pilatus4-1m": "sim-eiger-500k"}


class DetectorSim(ReadyProcess):
    """One `daqlab-detector-sim` process on free loopback ports."""

    def __init__(self, *args: str):
        super().__init__(["node", str(SIM_CLI), "--port", "0", "--stream-port", "0", *args],
                         r"SIMPLON (http://\S+) stream (tcp://\S+)", timeout=60, what="daqlab-detector-sim")
        self.http, self.stream = self.ready.group(1), self.ready.group(2)

    def request(self, method: str, path: str, body=None, timeout: float = 30):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.http}/{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                text = r.read().decode()
                return r.status, json.loads(text) if text else None
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def get(self, sub: str, kind: str, name: str):
        status, body = self.request("GET", f"{sub}/{API}/{kind}/{name}")
        assert status == 200, body
        return body

    def value(self, sub: str, kind: str, name: str):
        return self.get(sub, kind, name)["value"]

    def put(self, sub: str, name: str, value):
        status, body = self.request("PUT", f"{sub}/{API}/config/{name}", {"value": value})
        assert status == 200, body
        return body

    def command(self, name: str, value=None, sub: str = "detector"):
        status, body = self.request("PUT", f"{sub}/{API}/command/{name}", None if value is None else {"value": value})
        assert status == 200, body
        return body

    def state(self) -> str:
        return self.value("detector", "status", "state")


# ---------------------------------------------------------------- independent decoding


def _tag_hook(*args):
    tag = next(a for a in args if isinstance(a, cbor2.CBORTag))
    if tag.tag == 56500:
        algorithm, elem_size, data = tag.value
        return decompress(data, algorithm, elem_size=elem_size)
    if tag.tag in (69, 70):
        return np.frombuffer(tag.value, dtype="<u2" if tag.tag == 69 else "<u4")
    if tag.tag == 85:
        return np.frombuffer(tag.value, dtype="<f4")
    if tag.tag == 40:
        dims, array = tag.value
        return np.asarray(array).reshape(dims)
    return tag


def decode2(msg: bytes) -> dict:
    assert msg[:3] == b"\xd9\xd9\xf7", "Stream2 messages start with the self-described CBOR tag"
    return dict(cbor2.loads(msg, tag_hook=_tag_hook))


def decode1_blob(header: dict, blob: bytes) -> np.ndarray:
    x, y = header["shape"]
    dtype = np.dtype("<u4" if header["type"] == "uint32" else "<u2")
    enc = header["encoding"]
    assert header["size"] == len(blob)
    if enc in ("bs32-lz4<", "bs16-lz4<"):
        raw = decompress(blob, "bslz4", elem_size=dtype.itemsize)
    elif enc == "lz4<":  # one LZ4 block: give it the HDF5 framing dectris-compression reads
        n = x * y * dtype.itemsize
        raw = decompress(struct.pack(">QI", n, n) + struct.pack(">I", len(blob)) + blob, "lz4")
    else:
        assert enc == "<"
        raw = blob
    return np.frombuffer(raw, dtype=dtype).reshape(y, x)
