"""A deliberately minimal WebSocket peer for abusing the server: it sends whatever bytes it is told to."""
from __future__ import annotations

import base64
import json
import os
import socket
import struct
from urllib.parse import urlparse


class RawWS:
    def __init__(self, url: str, timeout: float = 10):
        u = urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        path = u.path or "/ws"
        if u.query:
            path += "?" + u.query
        self.sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            head += chunk
        self.status = int(head.split(b" ")[1]) if head else 0
        self.buffer = head.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in head else b""

    def frame(self, opcode: int, payload: bytes, fin: bool = True, truncate: int | None = None) -> None:
        mask = os.urandom(4)
        n = len(payload)
        header = bytes([(0x80 if fin else 0) | opcode])
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if n < 1 << 16 else _mask_fast(payload, mask)
        data = header + mask + masked
        self.sock.sendall(data if truncate is None else data[:truncate])

    def send_text(self, text: str) -> None:
        self.frame(0x1, text.encode())

    def send_json(self, obj) -> None:
        self.send_text(json.dumps(obj))

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("closed by server")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def recv(self) -> tuple[int, bytes]:
        """Next complete message: (opcode, payload)."""
        opcode = None
        payload = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            data = self._read(n)
            op = b0 & 0x0F
            if op in (0x8, 0x9, 0xA):
                if op == 0x8:
                    return op, data
                continue
            if op != 0:
                opcode = op
            payload += data
            if b0 & 0x80:
                return opcode, payload

    def recv_json(self, skip_events: bool = True):
        while True:
            op, data = self.recv()
            if op == 0x8:
                raise ConnectionError(f"closed: {struct.unpack('>H', data[:2])[0] if len(data) >= 2 else None}")
            if op != 0x1:
                continue
            msg = json.loads(data)
            if skip_events and "event" in msg:
                continue
            return msg

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def _mask_fast(payload: bytes, mask: bytes) -> bytes:
    import numpy as np

    a = np.frombuffer(payload, dtype=np.uint8).copy()
    m = np.frombuffer(mask * (len(a) // 4 + 1), dtype=np.uint8)[: len(a)]
    return (a ^ m).tobytes()
