"""A small, real RFC 6455 WebSocket server on plain sockets, for testing the client.

Each accepted connection runs ``handler(peer)`` in its own thread. ``peer`` reads
client frames (checking that they are masked) and writes server frames exactly
as told (whole, fragmented, with pings in between, ...).
"""

from __future__ import annotations

import base64
import hashlib
import socket
import struct
import threading
from urllib.parse import parse_qs, urlsplit

import numpy as np

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def unmask(payload: bytes, mask: bytes) -> bytes:
    n = len(payload)
    if not n:
        return b""
    key = np.frombuffer((mask * (n // 4 + 1))[:n], dtype=np.uint8)
    return (np.frombuffer(payload, dtype=np.uint8) ^ key).tobytes()


class Peer:
    """The server side of one WebSocket connection."""

    def __init__(self, sock: socket.socket, request_line: str, headers: dict, rest: bytes):
        self.sock = sock
        self.request_line = request_line
        self.headers = headers
        self.path = request_line.split(" ")[1]
        self.query = parse_qs(urlsplit(self.path).query)
        self._buf = bytearray(rest)
        self.lock = threading.Lock()
        self.frames: list[tuple[int, bool, bool, int]] = []  # (opcode, fin, masked, length) received
        self.pongs: list[bytes] = []
        self.close_frame: tuple[int, str] | None = None
        self.closed = False

    # ---------------------------------------------------------------- reading
    def _read(self, n: int) -> bytes:
        while len(self._buf) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("client went away")
            self._buf += chunk
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def read_frame(self) -> tuple[int, bool, bytes]:
        b0, b1 = self._read(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read(8))[0]
        masked = bool(b1 & 0x80)
        mask = self._read(4) if masked else b""
        data = self._read(n)
        if masked:
            data = unmask(data, mask)
        self.frames.append((b0 & 0x0F, bool(b0 & 0x80), masked, n))
        return b0 & 0x0F, bool(b0 & 0x80), data

    def recv(self):
        """Next message (opcode, bytes); pongs are recorded, a close is answered and
        returned as (8, payload)."""
        opcode, parts = None, []
        while True:
            op, fin, data = self.read_frame()
            if op == 0xA:
                self.pongs.append(data)
                continue
            if op == 0x9:
                self.send_frame(0xA, data)
                continue
            if op == 0x8:
                self.close_frame = (struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005,
                                    data[2:].decode("utf-8", "replace"))
                if not self.closed:
                    try:
                        self.send_frame(0x8, data[:2])
                    except OSError:
                        pass
                self.closed = True
                return 0x8, data
            if op != 0:
                opcode = op
            parts.append(data)
            if fin:
                return opcode, b"".join(parts)

    # ---------------------------------------------------------------- writing
    @staticmethod
    def head(opcode: int, n: int, fin: bool = True, masked: bool = False) -> bytes:
        b0 = (0x80 if fin else 0) | opcode
        mbit = 0x80 if masked else 0
        if n < 126:
            return bytes((b0, mbit | n))
        if n < 65536:
            return bytes((b0, mbit | 126)) + struct.pack("!H", n)
        return bytes((b0, mbit | 127)) + struct.pack("!Q", n)

    @classmethod
    def frame_bytes(cls, opcode: int, payload=b"", fin: bool = True, mask: bytes | None = None) -> bytes:
        head = cls.head(opcode, len(payload), fin, bool(mask))
        if mask:
            return head + mask + unmask(bytes(payload), mask)
        return head + bytes(payload)

    def send_frame(self, opcode: int, payload=b"", fin: bool = True) -> None:
        with self.lock:
            self.sock.sendall(self.head(opcode, len(payload), fin))
            if len(payload):
                self.sock.sendall(payload)

    def send_raw(self, data: bytes) -> None:
        with self.lock:
            self.sock.sendall(data)

    def send_text(self, text: str) -> None:
        self.send_frame(0x1, text.encode("utf-8"))

    def send_binary(self, data) -> None:
        self.send_frame(0x2, data)

    def send_fragmented(self, opcode: int, payload: bytes, size: int, ping_between: bytes | None = None) -> None:
        with self.lock:
            for off in range(0, len(payload), size):
                first, last = off == 0, off + size >= len(payload)
                chunk = payload[off:off + size]
                self.sock.sendall(self.frame_bytes(opcode if first else 0x0, chunk, fin=last))
                if ping_between is not None and not last:
                    self.sock.sendall(self.frame_bytes(0x9, ping_between))

    def close(self, code: int = 1000, reason: str = "") -> None:
        try:
            self.send_frame(0x8, struct.pack("!H", code) + reason.encode())
        except OSError:
            pass
        self.closed = True

    def drop(self) -> None:
        """Kill the TCP connection without a close frame."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class WSServer:
    """``WSServer(handler)``: listens on 127.0.0.1:<free port>; ``url`` is ws://…/ws.

    ``token``: refuse upgrades without it (401). ``bad_accept``: answer with a wrong
    Sec-WebSocket-Accept. ``status``: answer every upgrade with this HTTP status.
    """

    def __init__(self, handler, token: str | None = None, bad_accept: bool = False, status: int = 101):
        self.handler = handler
        self.token = token
        self.bad_accept = bad_accept
        self.status = status
        self.peers: list[Peer] = []
        self.requests: list[tuple[str, dict]] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.url = f"ws://127.0.0.1:{self.port}/ws"
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                conn.close()
                return
            data += chunk
        head, rest = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        self.requests.append((lines[0], headers))
        peer = Peer(conn, lines[0], headers, rest)
        if self.token is not None:
            given = peer.query.get("token", [None])[0]
            auth = headers.get("authorization", "")
            if given != self.token and auth not in (f"token {self.token}", f"Bearer {self.token}"):
                body = b'{"error":"bad token"}'
                conn.sendall(b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
                conn.close()
                return
        if self.status != 101:
            conn.sendall(b"HTTP/1.1 %d Nope\r\nContent-Length: 0\r\n\r\n" % self.status)
            conn.close()
            return
        key = headers["sec-websocket-key"].encode()
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
        if self.bad_accept:
            accept = base64.b64encode(b"x" * 20).decode()
        conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Accept: {accept}\r\n\r\n").encode())
        self.peers.append(peer)
        try:
            self.handler(peer)
        except (ConnectionError, OSError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def stop(self) -> None:
        self._stop = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread (close alone does not)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass
        for p in self.peers:
            p.drop()
