"""Whatever a client sends, it gets a clear error, and the server keeps serving everybody else without losing data."""
from __future__ import annotations

import json
import socket
import time

import numpy as np
import pytest

import daqlab
from rawws import RawWS


@pytest.fixture
def reference_scan(client):
    """A scan acquired before the abuse starts; it must survive all of it."""
    acq = client.detector("sim-camera").prepare(acquisition={"nb_frames": 5, "expo_time": 0.01}, scan={"name": "survivor"})
    acq.start()
    acq.wait(timeout=10, progress=False)
    return acq.scan.key, acq.scan.streams["frame"][4].copy()


def still_serving(server, reference_scan):
    c = daqlab.connect(server.url)
    try:
        key, frame = reference_scan
        np.testing.assert_array_equal(c.scans.get(key).streams["frame"][4], frame)
        assert "sim-camera" in c.detectors()
    finally:
        c.close()


def test_malformed_json_and_unknown_ops(server, reference_scan):
    ws = RawWS(server.url)
    ws.send_text("{not json")
    r = ws.recv_json()
    assert r["ok"] is False and r["id"] is None and r["error"]["type"] == "ProtocolError" and "JSON" in r["error"]["message"]
    ws.send_text("[1, 2, 3]")
    assert ws.recv_json()["error"]["type"] == "ProtocolError"
    ws.send_json({"id": 1, "op": "launch.missiles"})
    r = ws.recv_json()
    assert r["id"] == 1 and r["error"]["type"] == "ProtocolError" and "launch.missiles" in r["error"]["message"]
    ws.send_json({"op": "hello"})
    assert "id" in ws.recv_json()["error"]["message"]
    ws.send_json({"id": 2, "op": "detector.info", "detector": 42})
    r = ws.recv_json()
    assert r["error"]["type"] == "ParameterError" and r["error"]["fields"][0]["field"] == "detector"
    ws.send_json({"id": 3, "op": "detector.info", "detector": "sim-nothing"})
    r = ws.recv_json()
    assert r["error"]["type"] == "NotFoundError" and "sim-eiger-500k" in r["error"]["message"]
    ws.send_json({"id": 4, "op": "stream.read", "scan": reference_scan[0], "stream": "frame", "start": "zero"})
    assert ws.recv_json()["error"]["fields"][0]["field"] == "start"
    ws.send_json({"id": 5, "op": "subscribe", "scan": reference_scan[0], "stream": "frame", "roi": [0, 0, 5000, 10]})
    assert ws.recv_json()["error"]["fields"][0]["field"] == "roi"
    ws.send_json({"id": 6, "op": "hello"})
    assert ws.recv_json()["result"]["server"] == "daqlab"
    ws.close()
    still_serving(server, reference_scan)


def test_garbage_binary_frames_are_refused_and_the_connection_survives(server, reference_scan):
    ws = RawWS(server.url)
    ws.frame(0x2, bytes(range(256)) * 10)
    r = ws.recv_json()
    assert r["error"]["type"] == "ProtocolError" and "binary" in r["error"]["message"]
    ws.send_json({"id": 1, "op": "detectors.list"})
    assert "sim-camera" in ws.recv_json()["result"]["detectors"]
    ws.close()
    still_serving(server, reference_scan)


def test_an_oversized_message_closes_only_that_connection(server, reference_scan):
    ws = RawWS(server.url)
    ws.send_text(json.dumps({"id": 1, "op": "hello", "pad": "x" * (2 * 1024 * 1024)}))
    with pytest.raises(ConnectionError, match="1009"):
        ws.recv_json()
    ws.close()
    still_serving(server, reference_scan)


def test_truncated_frames_and_abrupt_disconnects(server, reference_scan):
    ws = RawWS(server.url)
    ws.frame(0x1, json.dumps({"id": 1, "op": "hello"}).encode(), truncate=9)
    ws.close()
    # a handshake that never finishes
    s = socket.create_connection((server.url.split("//")[1].split(":")[0], int(server.url.rsplit(":", 1)[1].split("/")[0])))
    s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
    s.close()
    still_serving(server, reference_scan)


def test_a_client_that_disconnects_mid_stream(server, reference_scan):
    c = daqlab.connect(server.url)
    acq = c.detector("sim-eiger-500k").prepare(acquisition={"nb_frames": 2000, "expo_time": 0.0005}, detector={"scene": "flat"})
    ws = RawWS(server.url)
    ws.send_json({"id": 1, "op": "subscribe", "scan": acq.scan.key, "stream": "frame", "window": 64})
    acq.start()
    op, data = ws.recv()  # reply or first data; then vanish without closing properly
    ws.sock.shutdown(socket.SHUT_RDWR)
    ws.close()
    acq.wait(timeout=30, progress=False)
    assert acq.counters["nb_frames_acquired"] == 2000
    assert len(acq.scan.streams["frame"]) == 2000
    c.close()
    still_serving(server, reference_scan)
    assert server.alive()
