"""The client survives any message it cannot parse (issue 13, item 3) and notices a server that stops
answering (item 2), against the fake server (tests/fakeserver.py) and a raw socket server."""

from __future__ import annotations

import json
import logging
import struct
import threading
import time

import numpy as np
import pytest

import daqlab
from fakeserver import FakeDaqlab, FakeStream, envelope
from wsserver import WSServer

DEEP = "[" * 1100 + "]" * 1100  # json.loads: RecursionError in CPython's decoder


@pytest.fixture
def fake():
    srv = FakeDaqlab()
    yield srv
    srv.stop()


def wait_until(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.01)
    return False


def test_unparseable_messages_are_reported_and_reading_goes_on(fake, caplog):
    with pytest.raises(RecursionError):
        json.loads(DEEP)  # the attack works on this Python: the client must not rely on json for it
    scan = fake.add_scan({"name": "s"})
    s = FakeStream("frame", "array", "uint16", (4, 6))
    scan.streams["frame"] = s
    n = 40
    c = daqlab.connect(fake.url, timeout=5)
    try:
        stream = c.scans.get(scan.key).streams["frame"]
        got: list[int] = []
        cur = stream.cursor(window=4, timeout=10)

        def follow():
            for b in cur:
                got.extend(b.index.tolist())

        reader = threading.Thread(target=follow, daemon=True)
        reader.start()
        fake.append(s, [np.full((4, 6), i, dtype="uint16") for i in range(n // 2)])
        assert wait_until(lambda: len(got) >= 4)
        peer = fake.peers[-1]
        caplog.set_level(logging.WARNING, logger="daqlab")
        for text in (
            '{"event": "scan.new", "scan": {"info": ' + DEEP + "}}",  # the 2.2 kB message
            DEEP,
            "{not json",
            '{"event": "no.such.event", "x": 1}',
            '{"id": [1, 2], "ok": true, "result": null}',  # an id that cannot be a key
            '{"event": "sub.gap", "sub": {"a": 1}}',
            "[1, 2, 3]",
        ):
            peer.send_text(text)
        peer.send_binary(struct.pack("<I", len(DEEP)) + DEEP.encode())  # a data header too deep to parse
        peer.send_binary(envelope({"sub": "x", "parts": "many", "part": 0}, b"abc"))
        peer.send_binary(b"\x01")
        fake.append(s, [np.full((4, 6), i, dtype="uint16") for i in range(n // 2, n)])
        fake.seal(s)
        reader.join(10)
        assert not reader.is_alive()
        assert got == list(range(n))  # the live lossless reader lost nothing
        assert c.detectors() == ["fake-det"]  # and the connection still serves calls
        assert c.state == "connected"
        logged = caplog.text
        assert "cannot parse" in logged and "nested too deeply" in logged
        assert "malformed data message dropped" in logged
    finally:
        c.close()


def test_a_silent_server_is_taken_for_unresponsive():
    """A server that accepts the connection, answers hello, then sends nothing more (not even pongs)."""
    hold = threading.Event()

    def serve(peer):
        op, data = peer.recv()
        msg = json.loads(data)
        peer.send_text(json.dumps({"id": msg["id"], "ok": True, "result": {
            "server": "daqlab", "version": "x", "protocol": 1, "detectors": []}}))
        hold.wait(20)  # reads nothing: pings go unanswered

    srv = WSServer(serve)
    try:
        c = daqlab.connect(srv.url, timeout=5, heartbeat=0.3)
        t0 = time.monotonic()
        with pytest.raises(ConnectionError, match="unresponsive"):
            c.call("detectors.list", timeout=None)
        assert 0.5 < time.monotonic() - t0 < 5
        assert c.state == "unresponsive"
        c.close()
    finally:
        hold.set()
        srv.stop()


def test_hello_carries_a_client_id_kept_across_reconnects(fake):
    c = daqlab.connect(fake.url, timeout=5)
    try:
        first = [m for m in fake.requests if m["op"] == "hello"][-1]
        assert first["client"] == c.client_id and "python" in c.client_id
        c.reconnect()
        hellos = [m for m in fake.requests if m["op"] == "hello"]
        assert len(hellos) == 2 and hellos[-1]["client"] == c.client_id
    finally:
        c.close()


def test_limit_errors_have_their_class():
    from daqlab.errors import error_from_body

    err = error_from_body({"type": "LimitError", "message": "too many", "limit": "subscriptions", "max": 64}, "subscribe")
    assert isinstance(err, daqlab.LimitError) and err.limit == "subscriptions" and err.max == 64
