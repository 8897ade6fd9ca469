"""Tools of the standing abuse suite (test_abuse_fuzz.py): a raw control connection that sends whatever
it is told, a /health prober in a process of its own, a victim client reading a lossless stream, the
check that a reply is well formed, and a seeded mutator of valid requests."""
from __future__ import annotations

import base64
import json
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from rawws import RawWS

ROOT = Path(__file__).resolve().parents[1]
PROTOCOL_DIR = ROOT / "daq-server" / "src" / "protocol"


def _ts_string_list(name: str, source: str) -> list[str]:
    m = re.search(rf"export const {name} = \[(.*?)\] as const;", source, re.S)
    assert m, f"{name} not found in daq-server/src/protocol"
    body = re.sub(r"/\*.*?\*/|//[^\n]*", "", m.group(1), flags=re.S)
    return re.findall(r"'([^']+)'", body)


def protocol_list(name: str) -> list[str]:
    """A list constant (OPS, ERROR_TYPES, ...) exactly as the server defines it."""
    for f in sorted(PROTOCOL_DIR.glob("*.ts")):
        text = f.read_text()
        if f"export const {name} = [" in text:
            return _ts_string_list(name, text)
    raise AssertionError(f"{name} is not defined in {PROTOCOL_DIR}")


OPS = protocol_list("OPS")
ERROR_TYPES = protocol_list("ERROR_TYPES")


# ------------------------------------------------------------------------------------- raw connection
class Wire(RawWS):
    """A raw WebSocket control connection that authenticates with a header and matches replies by id."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 10):
        u = urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        auth = f"Authorization: token {token}\r\n" if token else ""
        self.sock.sendall(
            (
                f"GET {u.path or '/ws'} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\n{auth}Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            head += chunk
        self.status = int(head.split(b" ")[1]) if head else 0
        assert self.status == 101, f"WebSocket handshake refused: {head[:200]!r}"
        self.buffer = head.split(b"\r\n\r\n", 1)[1]
        self.late: list[dict] = []  # replies to earlier requests that arrived after their wait gave up

    def recv(self) -> tuple[int, bytes]:
        """Next complete message; pings are answered (a server's heartbeat must find this peer alive)."""
        opcode, payload = None, b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = int.from_bytes(self._read(2), "big")
            elif n == 127:
                n = int.from_bytes(self._read(8), "big")
            data = self._read(n)
            op = b0 & 0x0F
            if op == 0x9:
                self.frame(0xA, data)
                continue
            if op == 0xA:
                continue
            if op == 0x8:
                return op, data
            if op != 0:
                opcode = op
            payload += data
            if b0 & 0x80:
                return opcode, payload

    def reply(self, want, timeout: float) -> dict | None:
        """The next reply whose id is in `want` (events, data and other replies are set aside);
        None when none came within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                op, data = self.recv()
            except socket.timeout:
                return None
            if op == 0x8:
                code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
                raise ConnectionError(f"closed by the server: {code}")
            if op != 0x1:
                continue  # data messages of stream.read / subscriptions
            msg = json.loads(data)
            if "event" in msg:
                continue
            if msg.get("id") in want:
                return msg
            self.late.append(msg)

    def ask(self, message, expect_ids=None, timeout: float = 5.0) -> dict | None:
        """Send a request (an object, or raw text) and wait for its reply."""
        if isinstance(message, (str, bytes)):
            self.frame(0x1, message.encode() if isinstance(message, str) else message)
        else:
            self.send_text(json.dumps(message, allow_nan=False))
        if expect_ids is None:
            expect_ids = [message.get("id")] if isinstance(message, dict) else [None]
        return self.reply(expect_ids, timeout)


def check_reply(reply: dict | None, what: str, allow_ok: bool = True) -> str:
    """A well-formed reply: ok with a result, or a typed error (never InternalError) that says why;
    a ParameterError names each field. Returns 'ok' or the error type."""
    assert reply is not None, f"{what}: no reply within the timeout"
    assert isinstance(reply.get("ok"), bool), f"{what}: reply without ok: {str(reply)[:300]}"
    if reply["ok"]:
        assert allow_ok, f"{what}: accepted, an error was expected: {str(reply)[:300]}"
        assert "result" in reply, f"{what}: ok reply without result"
        return "ok"
    err = reply.get("error")
    assert isinstance(err, dict), f"{what}: error reply without an error body: {str(reply)[:300]}"
    assert err.get("type") in ERROR_TYPES, f"{what}: untyped error {str(err)[:300]}"
    assert err["type"] != "InternalError", f"{what}: InternalError {err.get('message', '')[:500]}"
    assert isinstance(err.get("message"), str) and err["message"], f"{what}: error without a message"
    assert len(err["message"]) <= 64 * 1024, f"{what}: a {len(err['message'])}-character error message"
    if err["type"] == "ParameterError":
        fields = err.get("fields")
        assert isinstance(fields, list) and fields, f"{what}: ParameterError names no field: {err['message'][:300]}"
        for f in fields:
            assert isinstance(f.get("field"), str), f"{what}: unnamed field {f}"  # "" when the client's key is ""
            assert isinstance(f.get("message"), str) and f["message"], f"{what}: field error without message {f}"
    return err["type"]


# ---------------------------------------------------------------------------------------- /health
_PROBER = r"""
import http.client, json, os, sys, threading, time
host, port, every, server_pid = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
SERVER = f"/proc/{server_pid}/task/{server_pid}/schedstat"  # the server's main thread: its event loop
SELF = "/proc/thread-self/schedstat"


def waited() -> int:
    # ns the event loop's thread and this one have spent runnable but not running (scheduler starvation)
    total = 0
    for path in (SERVER, SELF):
        try:
            with open(path) as f:
                total += int(f.read().split()[1])
        except (OSError, IndexError, ValueError):
            pass
    return total


stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
worst, worst_raw, samples, slow, errors = 0.0, 0.0, 0, [], []
conn = None
while not stop.is_set():
    w0 = waited()
    t0 = time.perf_counter()
    try:
        if conn is None:
            conn = http.client.HTTPConnection(host, port, timeout=5)
        conn.request("GET", "/health")
        r = conn.getresponse()
        body = r.read()
        if r.status != 200:
            errors.append(f"status {r.status}: {body[:100]!r}")
    except Exception as e:
        errors.append(repr(e))
        conn = None
    raw = (time.perf_counter() - t0) * 1000
    starved = (waited() - w0) / 1e6
    dt = max(0.0, raw - starved)
    samples += 1
    worst, worst_raw = max(worst, dt), max(worst_raw, raw)
    if raw > 50:
        slow.append([round(time.time(), 3), round(dt, 1), round(raw, 1)])
    stop.wait(max(0.0, every - raw / 1000))
print(json.dumps({"samples": samples, "worst_ms": worst, "worst_raw_ms": worst_raw, "slow": sorted(slow, key=lambda x: -x[1])[:20], "errors": errors[-20:]}),
      flush=True)
"""


class HealthProber:
    """GET /health every `every` s from a process of its own (so this process's threads cannot delay
    it), on one kept-alive connection; `stop()` returns samples, worst latency (ms), slow samples.

    The bound is about the server: its event loop blocked by work or by a synchronous call. On a
    shared machine the scheduler alone delays a sample by 100-800 ms (measured at load 20 on 2 cores:
    the loop's thread got 85 ms of CPU in 334 ms). So each sample's latency is counted less the time
    the server's main thread and the prober spent runnable but not running (/proc/.../schedstat);
    a loop busy with work, or asleep in a blocking call, is not runnable-waiting and still counts
    in full. `worst_raw_ms` is the uncorrected worst."""

    def __init__(self, host: str, port: int, server_pid: int, every: float = 0.02):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _PROBER, host, str(port), str(every), str(server_pid)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        self.result: dict | None = None

    def stop(self) -> dict:
        if self.result is None:
            out, _ = self.proc.communicate("", timeout=30)
            self.result = json.loads(out)
        return self.result


# ------------------------------------------------------------------------------------------ victim
class Victim(threading.Thread):
    """A client following one stream losslessly from index 0 until the stream is sealed."""

    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream = stream
        self.indexes: list[np.ndarray] = []
        self.data: list[np.ndarray] = []
        self.gaps: list = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with self.stream.cursor(start=0, on_gap=lambda *g: self.gaps.append(g), timeout=20) as cur:
                for batch in cur:
                    self.indexes.append(np.array(batch.index))
                    self.data.append(np.array(batch.data))
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.error = e

    def received(self) -> tuple[np.ndarray, np.ndarray | None]:
        if not self.indexes:
            return np.zeros(0, np.int64), None
        return np.concatenate(self.indexes), np.concatenate(self.data)


# ------------------------------------------------------------------------------------------ fuzzer
def nested(depth: int, leaf=0, kind: str = "list"):
    v = leaf
    for _ in range(depth):
        v = [v] if kind == "list" else {"a": v}
    return v


def nested_text(depth: int, kind: str = "list") -> str:
    """Nesting too deep for Python's json.dumps, written out by hand."""
    return ("[" * depth + "]" * depth) if kind == "list" else ('{"a":' * depth + "0" + "}" * depth)


STRINGS = [
    "", " ", "x" * 20_000, "../../../../../../etc/passwd", "/proc/self/environ", "/dev/zero",
    "..\\..\\windows\\win.ini", "%2e%2e%2f%2e%2e%2fetc", "\x00", "a\x00b", "\u202e\u0000\ud7ff\ufffd",
    "😀" * 64, "${7*7}{{7*7}}%s%n", "<script>alert(1)</script>", "__proto__", "constructor", "null",
    "-1", "1e309", "scan:1:00000000", "s1.1", "sim-camera/../sim-camera", "\n\r\t",
]
NUMBERS = [0, -1, 1, -0.0, 0.5, -0.5, 2**31, -(2**31), 2**32, 2**53, 2**53 + 1, -(2**63), 2**64, 1e15,
           1e308, -1e308, 5e-324, 123456789012345678901234567890]
OTHERS = [None, True, False, [], {}, [1, 2, 3, 4], [-1, -1, -1, -1], [0] * 5000, {"__proto__": {"x": 1}},
          {"constructor": {"prototype": {}}}, nested(48), nested(48, kind="dict"), [None], [""], {"": None}]
JUNK_FIELDS = ["__proto__", "constructor", "prototype", "", "x" * 300, "../../etc", "ok", "error", "result"]


class Mutator:
    """Seeded mutations of a valid request, one field (at any depth) at a time."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def value_like(self, old):
        """A replacement for `old`: a wrong type, an extreme of the right type, or nonsense."""
        r = self.rng
        roll = r.random()
        if roll < 0.25 and isinstance(old, (int, float)) and not isinstance(old, bool):
            return r.choice([old - 1, old + 1, -old, old * 10**6, -(10**12) - old, old + 0.5])
        if roll < 0.35 and isinstance(old, str):
            return r.choice([old * 1000, old + "\x00", old.upper(), old[::-1], old + "/..", " " + old])
        pool = r.choice([STRINGS, NUMBERS, OTHERS])
        return r.choice(pool)

    def paths(self, value, prefix=()) -> list[tuple]:
        out = []
        if isinstance(value, dict):
            for k, v in value.items():
                out.append(prefix + (k,))
                out += self.paths(v, prefix + (k,))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                out.append(prefix + (i,))
                out += self.paths(v, prefix + (i,))
        return out

    def mutate(self, base: dict) -> tuple[dict, str]:
        """A mutated copy of `base` (whose `id` and `op` are set by the caller) and what changed."""
        req = json.loads(json.dumps(base))
        paths = [p for p in self.paths(req) if p[0] not in ("id", "op")]
        r = self.rng
        roll = r.random()
        if not paths or roll < 0.08:
            target = req
            where: tuple = ()
            if paths and r.random() < 0.5:
                inner = [p for p in paths if isinstance(_get(req, p), dict)]
                if inner:
                    where = r.choice(inner)
                    target = _get(req, where)
            key = r.choice(JUNK_FIELDS)
            target[key] = self.value_like(None)
            return req, f"add {'.'.join(map(str, where + (key,)))!s:.40}"
        path = r.choice(paths)
        parent = _get(req, path[:-1])
        if roll < 0.18:
            if isinstance(parent, dict):
                del parent[path[-1]]
            else:
                parent.pop(path[-1])
            return req, f"drop {_dotted(path)}"
        parent[path[-1]] = self.value_like(parent[path[-1]])
        return req, f"set {_dotted(path)}"


def _get(value, path):
    for p in path:
        value = value[p]
    return value


def _dotted(path) -> str:
    return ".".join(map(str, path))[:60]
