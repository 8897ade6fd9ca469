"""Receive throughput of daqlab's WebSocket client over loopback, compared with a raw socket.

    python kernel-bridge/tests/bench_ws.py [--messages 300] [--size 8388608]

A server process blasts 8 MiB messages; the client measures, in the same run:

  raw socket       recv_into one reused buffer (the ceiling)
  raw + alloc      recv_into a fresh exactly-sized buffer per message
  _ws.recv         daqlab._ws: WebSocket frames, one buffer per message
  daqlab cursor    the whole client: Connection reader thread, envelope, Arrow
                   decode to numpy, sub.ack flow control (window 8), via
                   Stream.cursor(); 1 part and multi-part payloads
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402

GB = 1e9


# ----------------------------------------------------------------- servers
def _listen():
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    return srv


def _ws_accept(conn):
    import base64
    import hashlib

    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(4096)
    key = [l.split(b":", 1)[1].strip() for l in data.split(b"\r\n") if l.lower().startswith(b"sec-websocket-key")][0]
    acc = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
    conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Accept: " + acc + b"\r\n\r\n")


def _head(opcode, n):
    if n < 126:
        return bytes((0x80 | opcode, n))
    if n < 65536:
        return bytes((0x80 | opcode, 126)) + struct.pack("!H", n)
    return bytes((0x80 | opcode, 127)) + struct.pack("!Q", n)


def serve_raw(port_q, n, size):
    srv = _listen()
    port_q.put(srv.getsockname()[1])
    conn, _ = srv.accept()
    buf = np.random.default_rng(0).integers(0, 255, size, dtype=np.uint8).tobytes()
    for _ in range(n):
        conn.sendall(buf)
    conn.close()


def serve_ws(port_q, n, size):
    srv = _listen()
    port_q.put(srv.getsockname()[1])
    conn, _ = srv.accept()
    _ws_accept(conn)
    buf = np.random.default_rng(0).integers(0, 255, size, dtype=np.uint8).tobytes()
    head = _head(2, size)
    for _ in range(n):
        conn.sendall(head)
        conn.sendall(buf)
    conn.sendall(bytes((0x88, 2)) + struct.pack("!H", 1000))
    time.sleep(0.5)
    conn.close()


def _frame_head(opcode, n, fin):
    h = bytearray(_head(opcode, n))
    if not fin:
        h[0] &= 0x7F
    return bytes(h)


def serve_daqlab(port_q, n, frames_per_msg, frame_shape, max_bytes, fragment=0):
    """hello, scan.get, subscribe; then n data messages of one precomputed Arrow payload,
    cut into parts of at most max_bytes, paced by sub.ack with window 8."""
    from fakeserver import array_payload

    srv = _listen()
    port_q.put(srv.getsockname()[1])
    conn, _ = srv.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as Node's ws does
    _ws_accept(conn)
    data = np.random.default_rng(0).integers(0, 1000, (frames_per_msg, *frame_shape), dtype=np.uint32)
    payload = array_payload(np.arange(frames_per_msg), data, scan="bench", stream="frame")
    lock = threading.Lock()
    acked = [-1]
    cond = threading.Condition()
    sub_started = threading.Event()

    def send_text(obj):
        b = json.dumps(obj).encode()
        with lock:
            conn.sendall(_head(1, len(b)) + b)

    def read_exact(k):
        out = b""
        while len(out) < k:
            c = conn.recv(k - len(out))
            if not c:
                raise ConnectionError
            out += c
        return out

    def reader():
        info = {"name": "frame", "kind": "array", "dtype": "uint32", "shape": list(frame_shape), "length": n * frames_per_msg,
                "first": 0, "sealed": True, "info": {}}
        summary = {"key": "bench", "seq": 1, "identity": {}, "state": "CLOSED", "info": {}, "streams": [info], "created": ""}
        try:
            while True:
                b0, b1 = read_exact(2)
                k = b1 & 0x7F
                if k == 126:
                    k = struct.unpack("!H", read_exact(2))[0]
                elif k == 127:
                    k = struct.unpack("!Q", read_exact(8))[0]
                mask = read_exact(4)
                raw = read_exact(k)
                msg = bytes(b ^ mask[i % 4] for i, b in enumerate(raw))
                if b0 & 0x0F == 8:
                    return
                req = json.loads(msg)
                op = req["op"]
                if op == "hello":
                    send_text({"id": req["id"], "ok": True, "result": {"server": "daqlab", "protocol": 1, "version": "bench", "detectors": []}})
                elif op == "scan.get":
                    send_text({"id": req["id"], "ok": True, "result": summary})
                elif op == "subscribe":
                    send_text({"id": req["id"], "ok": True, "result": {"sub": "s1", "dtype": "uint32", "shape": list(frame_shape), "first": 0}})
                    sub_started.set()
                elif op == "sub.ack":
                    with cond:
                        acked[0] = max(acked[0], req["msg"])
                        cond.notify_all()
                    send_text({"id": req["id"], "ok": True, "result": {"sub": "s1", "msg": req["msg"]}})
                else:
                    send_text({"id": req["id"], "ok": True, "result": {"sub": "s1"}})
        except (ConnectionError, OSError):
            return

    threading.Thread(target=reader, daemon=True).start()
    sub_started.wait()
    # no copies on this side: small prefix + header, then memoryview slices of one payload
    view = memoryview(payload)
    for m in range(n):
        with cond:
            while m - (acked[0] + 1) >= 8:
                cond.wait()
        header = {"sub": "s1", "scan": "bench", "stream": "frame", "kind": "array",
                  "first": m * frames_per_msg, "count": frames_per_msg, "msg": m}
        room = max_bytes - 200
        parts = max(1, -(-len(payload) // room))
        for k in range(parts):
            h = json.dumps({**header, "part": k, "parts": parts}).encode()
            chunk = view[k * room:(k + 1) * room]
            prefix = struct.pack("<I", len(h)) + h
            with lock:
                if not fragment:
                    conn.sendall(_head(2, len(prefix) + len(chunk)) + prefix)
                    conn.sendall(chunk)
                    continue
                # as the Node server: prefix frame, then the payload in continuation frames
                conn.sendall(_frame_head(2, len(prefix), fin=False) + prefix)
                for off in range(0, len(chunk), fragment):
                    piece = chunk[off:off + fragment]
                    conn.sendall(_frame_head(0, len(piece), fin=off + fragment >= len(chunk)))
                    conn.sendall(piece)
    send_text({"event": "sub.end", "sub": "s1", "length": n * frames_per_msg})
    time.sleep(2)
    conn.close()


def _start(target, *args):
    q = mp.Queue()
    p = mp.Process(target=target, args=(q, *args), daemon=True)
    p.start()
    return p, q.get(timeout=20)


# ----------------------------------------------------------------- clients
def bench_raw(n, size, alloc=False):
    p, port = _start(serve_raw, n, size)
    s = socket.create_connection(("127.0.0.1", port))
    total = n * size
    buf = memoryview(bytearray(size))
    got = 0
    t0 = time.perf_counter()
    while got < total:
        if alloc:
            buf = memoryview(np.empty(size, dtype=np.uint8))
        off = 0
        while off < size:
            k = s.recv_into(buf[off:], size - off)
            if not k:
                raise ConnectionError
            off += k
        got += off
    dt = time.perf_counter() - t0
    s.close()
    p.join()
    return total / dt / GB


def bench_ws(n, size, rcvbuf=None):
    from daqlab import _ws

    p, port = _start(serve_ws, n, size)
    kw = {} if rcvbuf == "default" else {"rcvbuf": rcvbuf}
    ws = _ws.connect(f"ws://127.0.0.1:{port}/ws", **kw)
    got = 0
    t0 = time.perf_counter()
    for _ in range(n):
        op, data = ws.recv()
        got += len(data)
    dt = time.perf_counter() - t0
    ws.close()
    p.join()
    return got / dt / GB


def bench_daqlab(n, frames_per_msg, frame_shape, max_bytes, fragment=0):
    import daqlab

    p, port = _start(serve_daqlab, n, frames_per_msg, frame_shape, max_bytes, fragment)
    c = daqlab.connect(f"ws://127.0.0.1:{port}")
    stream = c.scans.get("bench").streams["frame"]
    got = 0
    frames = 0
    t0 = time.perf_counter()
    for batch in stream.cursor():
        got += batch.data.nbytes
        frames += len(batch)
        assert batch.data.shape[1:] == frame_shape
    dt = time.perf_counter() - t0
    c.close()
    p.join()
    assert frames == n * frames_per_msg
    return got / dt / GB


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=300)
    ap.add_argument("--size", type=int, default=8 * 1024 * 1024)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    n, size = a.messages, a.size
    mib = size / 2**20
    rows = [
        (f"raw socket recv_into, reused buffer ({mib:g} MiB)", lambda: bench_raw(n, size)),
        ("raw socket recv_into, new buffer per message", lambda: bench_raw(n, size, alloc=True)),
        (f"daqlab._ws.recv ({mib:g} MiB binary messages, SO_RCVBUF 8 MiB)", lambda: bench_ws(n, size, rcvbuf="default")),
        ("daqlab._ws.recv, no SO_RCVBUF (kernel autotuning)", lambda: bench_ws(n, size, rcvbuf=None)),
        ("daqlab cursor → numpy, 8 × 256×1024 u32 = 8 MiB/msg (2 parts)",
         lambda: bench_daqlab(n, 8, (256, 1024), 8 * 2**20)),
        ("daqlab cursor → numpy, 3 × 514×1030 u32 = 6.4 MB/msg (1 part)",
         lambda: bench_daqlab(n, 3, (514, 1030), 8 * 2**20)),
        ("daqlab cursor → numpy, 1 × 2167×2070 u32 = 17.9 MB/msg (3 parts)",
         lambda: bench_daqlab(n // 2, 1, (2167, 2070), 8 * 2**20)),
        ("  same, fragmented as the Node server sends (prefix + 1 MiB frames)",
         lambda: bench_daqlab(n // 2, 1, (2167, 2070), 8 * 2**20, fragment=2**20)),
        ("daqlab cursor → numpy, 3 × 514×1030 u32, fragmented (prefix + 1 frame/item)",
         lambda: bench_daqlab(n, 3, (514, 1030), 8 * 2**20, fragment=514 * 1030 * 4)),
    ]
    print(f"loopback, {n} messages per run, {a.repeat} interleaved rounds, {os.cpu_count()} CPUs; GB/s best / median")
    results = {name: [] for name, _ in rows}
    for _ in range(a.repeat):
        for name, fn in rows:
            results[name].append(fn())
    for name, _ in rows:
        r = sorted(results[name])
        print(f"  {name:72s} {r[-1]:5.2f} / {r[len(r) // 2]:5.2f}", flush=True)


if __name__ == "__main__":
    main()
