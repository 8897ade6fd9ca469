"""The WebSocket client (daqlab._ws) against a real WebSocket server (tests/wsserver.py)."""

from __future__ import annotations

import base64
import os
import socket
import struct
import threading
import time

import numpy as np
import pytest

from daqlab import _ws
from wsserver import Peer, WSServer


def echo(peer: Peer) -> None:
    while True:
        op, data = peer.recv()
        if op == 0x8:
            return
        peer.send_frame(op, data)


@pytest.fixture
def server():
    srv = WSServer(echo)
    yield srv
    srv.stop()


def scripted(script):
    """A server whose handler is ``script(peer)``; returns (server, peers list)."""
    srv = WSServer(script)
    return srv


def test_handshake_sends_key_version_and_headers_and_checks_accept(server):
    ws = _ws.connect(server.url + "?token=abc", headers={"Authorization": "token abc"})
    line, headers = server.requests[0]
    assert line == "GET /ws?token=abc HTTP/1.1"
    assert headers["upgrade"].lower() == "websocket" and "upgrade" in headers["connection"].lower()
    assert headers["sec-websocket-version"] == "13"
    assert len(base64.b64decode(headers["sec-websocket-key"])) == 16
    assert headers["authorization"] == "token abc"
    assert headers["host"] == f"127.0.0.1:{server.port}"
    ws.close()


def test_a_wrong_accept_is_refused():
    srv = WSServer(echo, bad_accept=True)
    try:
        with pytest.raises(_ws.WebSocketError, match="Sec-WebSocket-Accept"):
            _ws.connect(srv.url)
    finally:
        srv.stop()


def test_http_401_is_a_handshake_error_with_the_status_and_body():
    srv = WSServer(echo, token="s3cret")
    try:
        with pytest.raises(_ws.HandshakeError) as e:
            _ws.connect(srv.url)
        assert e.value.status == 401 and b"bad token" in e.value.body
        _ws.connect(srv.url + "?token=s3cret").close()
        _ws.connect(srv.url, headers={"Authorization": "token s3cret"}).close()
    finally:
        srv.stop()


def test_unreachable_server_is_an_oserror():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(ConnectionRefusedError):
        _ws.connect(f"ws://127.0.0.1:{port}/ws", timeout=2)


@pytest.mark.parametrize("n", [0, 1, 3, 4, 5, 125, 126, 127, 65535, 65536, 65537, 16383, 16384, 16387, 1 << 20])
def test_text_and_binary_round_trip_every_length_class(server, n):
    ws = _ws.connect(server.url)
    payload = os.urandom(n)
    ws.send(payload)
    op, data = ws.recv()
    assert op == _ws.OP_BINARY and bytes(data) == payload
    text = ("é" * n)[: max(0, n // 2)]
    ws.send(text)
    op, data = ws.recv()
    assert op == _ws.OP_TEXT and data == text
    ws.close()


def test_client_frames_are_masked_with_a_fresh_mask():
    got = []

    def handler(peer):
        op, fin, data = peer.read_frame()
        got.append(peer.frames[-1])
        op, fin, data = peer.read_frame()
        got.append(peer.frames[-1])

    srv = WSServer(handler)
    try:
        ws = _ws.connect(srv.url)
        ws.send(b"x" * 1000)
        ws.send(b"y" * 100000)
        time.sleep(0.2)
        assert [(op, fin, masked, n) for op, fin, masked, n in got] == [(2, True, True, 1000), (2, True, True, 100000)]
        ws.sock.close()
    finally:
        srv.stop()


def test_mask_payload_matches_the_rfc_definition():
    mask = b"\x01\x02\x03\xfe"
    for n in (0, 1, 7, 100, 16384, 16385, 100003):
        data = os.urandom(n)
        expect = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        assert bytes(_ws.mask_payload(data, mask)) == expect


def test_8_mib_binary_messages_both_ways(server):
    ws = _ws.connect(server.url)
    payload = np.random.default_rng(1).integers(0, 255, 8 * 1024 * 1024, dtype=np.uint8)
    for _ in range(3):
        ws.send(payload)
        op, data = ws.recv()
        assert op == _ws.OP_BINARY and len(data) == payload.size
        assert np.array_equal(np.frombuffer(data, dtype=np.uint8), payload)
    ws.close()


def test_received_binary_buffers_are_writable_and_exactly_sized(server):
    ws = _ws.connect(server.url)
    ws.send(b"abcdef" * 1000)
    op, data = ws.recv()
    assert isinstance(data, memoryview) and not data.readonly and len(data) == 6000
    data[0] = ord("z")
    ws.close()


def test_fragmented_server_messages_with_pings_in_between_are_reassembled_and_pings_answered():
    big = os.urandom(3 * 1024 * 1024 + 17)
    done = threading.Event()
    peers = []

    def handler(peer):
        peers.append(peer)
        peer.send_fragmented(0x1, "fragmented text ✓".encode(), 4, ping_between=b"hi")
        peer.send_fragmented(0x2, big, 1024 * 1024 + 3, ping_between=b"p2")
        peer.send_frame(0x9, b"solo")
        peer.send_text("after")
        op, data = peer.recv()  # waits for the client's message (pongs recorded meanwhile)
        done.set()

    srv = WSServer(handler)
    try:
        ws = _ws.connect(srv.url)
        assert ws.recv() == (_ws.OP_TEXT, "fragmented text ✓")
        op, data = ws.recv()
        assert op == _ws.OP_BINARY and bytes(data) == big
        assert ws.recv() == (_ws.OP_TEXT, "after")
        ws.send("bye")
        assert done.wait(5)
        assert peers[0].pongs.count(b"hi") == len("fragmented text ✓".encode()) // 4 + (1 if len("fragmented text ✓".encode()) % 4 else 0) - 1
        assert b"p2" in peers[0].pongs and b"solo" in peers[0].pongs
        ws.close()
    finally:
        srv.stop()


def test_client_fragmentation(server):
    ws = _ws.connect(server.url)
    payload = os.urandom(200_000)
    ws.send(payload, fragment_size=65536)
    assert bytes(ws.recv()[1]) == payload
    ws.send("a fragmented text message", fragment_size=5)
    assert ws.recv()[1] == "a fragmented text message"
    ops = [f[0] for f in server.peers[0].frames[:4]]
    assert ops == [2, 0, 0, 0]
    ws.close()


def test_client_ping_gets_a_pong(server):
    ws = _ws.connect(server.url)
    ws.ping(b"are you there")
    ws.send("x")
    assert ws.recv() == (_ws.OP_TEXT, "x")
    assert ws.last_pong == b"are you there"
    ws.close()


def test_client_close_handshake(server):
    ws = _ws.connect(server.url)
    ws.close(1000, "bye")
    assert ws.closed
    for _ in range(50):
        if server.peers[0].close_frame:
            break
        time.sleep(0.01)
    assert server.peers[0].close_frame == (1000, "bye")
    with pytest.raises(_ws.ConnectionClosed):
        ws.send("late")


def test_server_initiated_close_is_echoed_and_reported():
    peers = []

    def handler(peer):
        peers.append(peer)
        peer.close(4001, "going away")
        peer.recv()

    srv = WSServer(handler)
    try:
        ws = _ws.connect(srv.url)
        with pytest.raises(_ws.ConnectionClosed) as e:
            ws.recv()
        assert e.value.code == 4001 and e.value.reason == "going away"
        for _ in range(50):
            if peers[0].close_frame:
                break
            time.sleep(0.01)
        assert peers[0].close_frame[0] == 4001
        assert ws.closed
    finally:
        srv.stop()


def test_an_abrupt_disconnect_is_connection_closed_1006():
    def handler(peer):
        peer.send_text("one")
        peer.drop()

    srv = WSServer(handler)
    try:
        ws = _ws.connect(srv.url)
        assert ws.recv() == (_ws.OP_TEXT, "one")
        with pytest.raises(_ws.ConnectionClosed) as e:
            ws.recv()
        assert e.value.code == 1006
    finally:
        srv.stop()


def test_a_masked_server_frame_is_a_protocol_error():
    def handler(peer):
        peer.send_raw(Peer.frame_bytes(0x1, b"masked!", mask=b"abcd"))
        time.sleep(0.5)

    srv = WSServer(handler)
    try:
        ws = _ws.connect(srv.url)
        with pytest.raises(_ws.WebSocketError, match="masked"):
            ws.recv()
    finally:
        srv.stop()


def test_a_continuation_without_a_message_is_a_protocol_error():
    def handler(peer):
        peer.send_raw(Peer.frame_bytes(0x0, b"orphan"))
        time.sleep(0.5)

    srv = WSServer(handler)
    try:
        ws = _ws.connect(srv.url)
        with pytest.raises(_ws.WebSocketError, match="continuation"):
            ws.recv()
    finally:
        srv.stop()


def test_sink_reads_an_envelope_then_the_payload_in_place():
    body = os.urandom(5_000_000)

    def handler(peer):
        header = b'{"a":1}'
        peer.send_binary(struct.pack("<I", len(header)) + header + body)
        peer.send_fragmented(0x2, struct.pack("<I", len(header)) + header + body, 1_000_000)
        time.sleep(0.5)

    srv = WSServer(handler)
    try:
        ws = _ws.connect(srv.url)

        def sink(payload):
            (h,) = struct.unpack("<I", payload.read(4))
            head = payload.read(h)
            out = bytearray(len(body))
            off = 0
            while payload.available():
                k = payload.available()
                payload.readinto(memoryview(out)[off:off + k])
                off += k
            assert off == len(body) and payload.available() == 0
            return head, out

        for _ in range(2):  # whole, then fragmented (reassembled, then the same sink)
            op, (head, out) = ws.recv(sink)
            assert op == _ws.OP_BINARY and head == b'{"a":1}' and bytes(out) == body
    finally:
        srv.stop()


def test_a_sink_that_leaves_bytes_unread_does_not_desynchronise():
    def handler(peer):
        peer.send_binary(b"x" * 300_000)
        peer.send_text("next")
        time.sleep(0.5)

    srv = WSServer(handler)
    try:
        ws = _ws.connect(srv.url)
        op, res = ws.recv(lambda p: p.read(10))
        assert res == b"x" * 10
        assert ws.recv() == (_ws.OP_TEXT, "next")
    finally:
        srv.stop()


def test_concurrent_senders_never_interleave_frames(server):
    ws = _ws.connect(server.url)
    results = []

    def reader():
        for _ in range(4 * 50):
            results.append(ws.recv()[1])

    t = threading.Thread(target=reader)
    t.start()

    def sender(tag):
        for i in range(50):
            ws.send(bytes([tag]) * (70_000 + i), fragment_size=30_000 if tag % 2 else None)

    senders = [threading.Thread(target=sender, args=(k,)) for k in range(4)]
    for s in senders:
        s.start()
    for s in senders:
        s.join()
    t.join(10)
    assert len(results) == 200
    for r in results:
        b = bytes(r)
        assert b == b[:1] * len(b)
    ws.close()


def test_url_parsing():
    assert _ws.parse_ws_url("ws://h:1/ws?token=x") == ("ws", "h", 1, "/ws?token=x")
    assert _ws.parse_ws_url("ws://h") == ("ws", "h", 80, "/")
    assert _ws.parse_ws_url("http://h:5/a") == ("ws", "h", 5, "/a")
    with pytest.raises(ValueError):
        _ws.parse_ws_url("ftp://h")
