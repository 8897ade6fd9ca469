"""A minimal, fast, synchronous RFC 6455 WebSocket client on a plain socket.

Only what daqlab needs, done carefully: the opening handshake (with the
``Sec-WebSocket-Accept`` check), masked client frames, fragmented messages,
ping → pong, the closing handshake, text and binary messages.

Speed: a binary payload is received with ``recv_into`` straight into one
buffer of exactly its size (no chunk concatenation); small reads (frame
headers, JSON) come from a reusable read-ahead buffer. A caller can also take
over the payload of a binary message (``recv(sink=...)``) to receive it
directly where it belongs (the connection layer uses this to reassemble
multi-part data messages without copying).
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct
import threading
import time
from typing import Callable, Mapping
from urllib.parse import urlsplit

import numpy as np

__all__ = [
    "WebSocket", "WebSocketError", "ConnectionClosed", "HandshakeError", "connect", "parse_ws_url",
    "OP_CONT", "OP_TEXT", "OP_BINARY", "OP_CLOSE", "OP_PING", "OP_PONG",
]

OP_CONT, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA
_DATA_OPS = (OP_TEXT, OP_BINARY)
_CONTROL_OPS = (OP_CLOSE, OP_PING, OP_PONG)

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#: receive buffer asked of the kernel (capped by net.core.rmem_max)
DEFAULT_RCVBUF = 8 * 1024 * 1024
_READ_AHEAD = 256 * 1024
#: payloads at least this large are masked with numpy, smaller ones with one big-int XOR
_NUMPY_MASK_MIN = 16 * 1024
_MAX_HANDSHAKE = 64 * 1024

_U16 = struct.Struct("!H")
_U64 = struct.Struct("!Q")


class WebSocketError(ConnectionError):
    """The peer broke the WebSocket protocol, or the connection failed."""


class HandshakeError(WebSocketError):
    """The server refused the WebSocket upgrade (``status``, ``headers``, ``body``)."""

    def __init__(self, message: str, status: int = 0, headers: Mapping[str, str] | None = None, body: bytes = b""):
        super().__init__(message)
        self.status = status
        self.headers = dict(headers or {})
        self.body = body


class ConnectionClosed(WebSocketError):
    """The connection is closed (``code``, ``reason``; code 1006: closed without a close frame)."""

    def __init__(self, code: int = 1006, reason: str = ""):
        super().__init__(f"WebSocket closed (code {code}{': ' + reason if reason else ''})")
        self.code = code
        self.reason = reason


def parse_ws_url(url: str) -> tuple[str, str, int, str]:
    """``ws://host:port/path?query`` → (scheme, host, port, resource). http(s) is taken as ws(s)."""
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss"):
        raise ValueError(f"not a WebSocket URL (ws://host:port/path): {url!r}")
    if not parts.hostname:
        raise ValueError(f"no host in WebSocket URL {url!r}")
    port = parts.port or (443 if scheme == "wss" else 80)
    resource = parts.path or "/"
    if parts.query:
        resource += "?" + parts.query
    return scheme, parts.hostname, port, resource


def _alloc(n: int) -> memoryview:
    """An uninitialised writable byte buffer of exactly n bytes (np.empty: no zero-filling)."""
    return memoryview(np.empty(n, dtype=np.uint8)).cast("B") if n else memoryview(bytearray(0))


def mask_payload(payload, mask: bytes):
    """XOR ``payload`` with the 4-byte ``mask`` repeated (RFC 6455 §5.3)."""
    n = len(payload)
    if n == 0:
        return b""
    if n < _NUMPY_MASK_MIN:
        key = (mask * (n // 4 + 1))[:n]
        return (int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")
    src = np.frombuffer(payload, dtype=np.uint8)
    out = np.empty(n, dtype=np.uint8)
    n4 = n - n % 4
    np.bitwise_xor(src[:n4].view("<u4"), np.frombuffer(mask, dtype="<u4")[0], out=out[:n4].view("<u4"))
    for i in range(n4, n):
        out[i] = src[i] ^ mask[i % 4]
    return out


class _SocketReader:
    """Buffered exact reads from a socket: small reads from a read-ahead buffer,
    large ones with ``recv_into`` straight into the caller's buffer."""

    __slots__ = ("_sock", "_buf", "_mv", "_pos", "_end", "last_rx")

    def __init__(self, sock: socket.socket, size: int = _READ_AHEAD):
        self._sock = sock
        #: time.monotonic() of the last bytes received (a heartbeat watches it)
        self.last_rx = time.monotonic()
        self._buf = bytearray(size)
        self._mv = memoryview(self._buf)
        self._pos = 0
        self._end = 0

    def _fill(self, need: int) -> None:
        """Make at least ``need`` (≤ buffer size) bytes available."""
        avail = self._end - self._pos
        if self._pos and len(self._buf) - self._pos < need:
            self._mv[:avail] = self._mv[self._pos:self._end]  # compact
            self._pos, self._end = 0, avail
        while self._end - self._pos < need:
            k = self._sock.recv_into(self._mv[self._end:])
            if not k:
                raise ConnectionClosed(1006, "connection closed by peer")
            self.last_rx = time.monotonic()
            self._end += k

    def read(self, n: int) -> bytes:
        """Exactly n bytes, as bytes."""
        if n > len(self._buf) // 2:
            out = _alloc(n)
            self.readinto(out)
            return out.tobytes()
        if self._end - self._pos < n:
            self._fill(n)
        pos = self._pos
        self._pos = pos + n
        return bytes(self._mv[pos:pos + n])

    def readinto(self, dest: memoryview) -> None:
        """Fill ``dest`` (a byte memoryview) exactly."""
        n = len(dest)
        avail = self._end - self._pos
        if avail >= n:
            dest[:] = self._mv[self._pos:self._pos + n]
            self._pos += n
            return
        off = 0
        if avail:
            dest[:avail] = self._mv[self._pos:self._end]
            off = avail
        self._pos = self._end = 0
        recv_into = self._sock.recv_into
        while off < n:
            k = recv_into(dest[off:], n - off)
            if not k:
                raise ConnectionClosed(1006, "connection closed by peer")
            self.last_rx = time.monotonic()
            off += k

    def skip(self, n: int) -> None:
        while n > 0:
            k = min(n, len(self._buf))
            if self._end - self._pos < k:
                self._fill(k)
            self._pos += k
            n -= k

    def read_until(self, marker: bytes, limit: int) -> bytes:
        """Bytes up to and including ``marker`` (HTTP header block)."""
        start = 0
        while True:
            data = self._buf[self._pos:self._end]
            i = data.find(marker, max(0, start - len(marker)))
            if i >= 0:
                self._pos += i + len(marker)
                return bytes(data[:i + len(marker)])
            if len(data) >= limit:
                raise WebSocketError(f"HTTP response header longer than {limit} bytes")
            start = len(data)
            self._fill(len(data) + 1)


class Payload:
    """The payload of one binary message, streamed from the socket to a ``sink``.

    A message may come in several frames (fragmentation) whose sizes are only known
    as they arrive; reads cross frame boundaries transparently and control frames
    in between are handled. Read it once, in order: ``read(n)`` (small pieces, as
    bytes), ``readinto(buffer)`` (exact fill, straight from the socket), and
    ``available()`` (bytes left in the current frame; 0 at the end of the message).
    """

    __slots__ = ("_ws", "_reader", "_left", "_fin")

    def __init__(self, ws: "WebSocket", fin: bool, length: int):
        self._ws = ws
        self._reader = ws._reader
        self._left = length  # bytes left in the current frame
        self._fin = fin  # the current frame is the message's last

    def available(self) -> int:
        """Bytes left in the current frame, reading the next frame header when it is
        used up; 0 when the whole message has been read."""
        while not self._left:
            if self._fin:
                return 0
            fin, opcode, n = self._ws._frame_header()
            if opcode in _CONTROL_OPS:
                self._ws._control(opcode, fin, n)
                continue
            if opcode != OP_CONT:
                self._ws._fail(1002, "new message inside a fragmented message")
            self._fin, self._left = fin, n
        return self._left

    @property
    def remaining(self) -> int | None:
        """Bytes left in the message when known (last frame reached), else None."""
        return self._left if self._fin else None

    def read(self, n: int) -> bytes:
        """Exactly n bytes (may span frames)."""
        if n <= self._left:
            self._left -= n
            return self._reader.read(n)
        pieces = []
        while n:
            k = min(n, self.available())
            if not k:
                raise WebSocketError(f"message ended {n} bytes short of a read")
            pieces.append(self._reader.read(k))
            self._left -= k
            n -= k
        return b"".join(pieces)

    def readinto(self, dest) -> None:
        """Fill ``dest`` (any writable buffer) exactly (may span frames)."""
        dest = memoryview(dest)
        if dest.format != "B" or dest.ndim != 1:
            dest = dest.cast("B")
        n, off = len(dest), 0
        while off < n:
            k = min(n - off, self.available())
            if not k:
                raise WebSocketError(f"message ended {n - off} bytes short of a read")
            self._reader.readinto(dest[off:off + k])
            self._left -= k
            off += k

    def read_all(self) -> memoryview:
        """The rest of the message in one exactly-sized buffer (when the message is
        fragmented, its frames are joined: one copy)."""
        if self._fin:
            out = _alloc(self._left)
            self.readinto(out)
            return out
        frames = []
        while True:
            k = self.available()
            if not k:
                break
            buf = _alloc(k)
            self._reader.readinto(buf)
            self._left = 0
            frames.append(buf)
        if len(frames) == 1:
            return frames[0]
        whole = _alloc(sum(len(f) for f in frames))
        off = 0
        for f in frames:
            whole[off:off + len(f)] = f
            off += len(f)
        return whole

    def skip_rest(self) -> None:
        while True:
            k = self.available()
            if not k:
                return
            self._reader.skip(k)
            self._left = 0


Sink = Callable[[Payload], object]


class WebSocket:
    """A connected client WebSocket. Create it with :func:`connect`.

    ``recv`` is meant for one reading thread; the ``send_*`` methods may be called
    from any thread (a lock keeps frames whole). A ping received by ``recv`` is
    answered at once with a pong.
    """

    def __init__(self, sock: socket.socket, reader: _SocketReader, url: str = "", response_headers=None):
        self.sock = sock
        self.url = url
        self.response_headers: dict[str, str] = dict(response_headers or {})
        self._reader = reader
        self._send_lock = threading.Lock()
        self.close_sent = False
        self.close_received: tuple[int, str] | None = None
        self.closed = False
        self.last_pong: bytes | None = None

    # ------------------------------------------------------------------ send
    @staticmethod
    def _frame(opcode: int, payload, fin: bool = True) -> list:
        """The buffers of one masked client frame."""
        n = len(payload)
        b0 = (0x80 if fin else 0) | opcode
        if n < 126:
            header = bytes((b0, 0x80 | n))
        elif n < 65536:
            header = bytes((b0, 0x80 | 126)) + _U16.pack(n)
        else:
            header = bytes((b0, 0x80 | 127)) + _U64.pack(n)
        mask = os.urandom(4)
        masked = mask_payload(payload, mask)
        if n < 65536:
            return [header + mask + bytes(masked)]
        return [header + mask, masked]

    def _send_frames(self, frames: list, blocking: bool = True) -> bool:
        """Send whole frames under the send lock, so that no other frame comes between."""
        if not self._send_lock.acquire(blocking):
            return False
        try:
            if self.closed:
                raise ConnectionClosed(*(self.close_received or (1006, "connection closed")))
            for frame in frames:
                for buf in frame:
                    self.sock.sendall(buf)
        finally:
            self._send_lock.release()
        return True

    def _send_frame(self, opcode: int, payload=b"", fin: bool = True, blocking: bool = True) -> bool:
        return self._send_frames([self._frame(opcode, payload, fin)], blocking)

    def send(self, data, binary: bool | None = None, fragment_size: int | None = None,
             blocking: bool = True) -> bool:
        """Send one message: ``str`` as text, bytes-like as binary (unless ``binary`` says
        otherwise). ``fragment_size`` cuts it into continuation frames. With
        ``blocking=False`` nothing is sent, and False returned, when another thread
        is sending (for finalizers)."""
        if isinstance(data, str):
            payload = data.encode("utf-8")
            opcode = OP_BINARY if binary else OP_TEXT
        else:
            payload = data if isinstance(data, (bytes, bytearray)) else memoryview(data).cast("B")
            opcode = OP_TEXT if binary is False else OP_BINARY
        if self.close_sent:
            raise ConnectionClosed(*(self.close_received or (1000, "close already sent")))
        if not fragment_size or len(payload) <= fragment_size:
            return self._send_frame(opcode, payload, blocking=blocking)
        view = memoryview(payload)
        n = len(view)
        frames = [self._frame(opcode if off == 0 else OP_CONT, view[off:off + fragment_size],
                              fin=off + fragment_size >= n)
                  for off in range(0, n, fragment_size)]
        return self._send_frames(frames, blocking)

    def send_text(self, text: str) -> None:
        self.send(text)

    def send_binary(self, data) -> None:
        self.send(data, binary=True)

    def ping(self, payload: bytes = b"", blocking: bool = True) -> bool:
        """Send a ping (False when ``blocking=False`` and another thread is sending)."""
        if len(payload) > 125:
            raise ValueError("ping payload longer than 125 bytes")
        return self._send_frame(OP_PING, payload, blocking=blocking)

    @property
    def last_rx(self) -> float:
        """time.monotonic() of the last bytes received from the server."""
        return self._reader.last_rx

    def send_close(self, code: int = 1000, reason: str = "") -> None:
        """Start (or answer) the closing handshake; idempotent."""
        if self.close_sent or self.closed:
            return
        self.close_sent = True
        payload = _U16.pack(code) + reason.encode("utf-8")[:123] if code else b""
        try:
            self._send_frame(OP_CLOSE, payload)
        except OSError:
            pass

    # --------------------------------------------------------------- receive
    def _frame_header(self) -> tuple[bool, int, int]:
        read = self._reader.read
        b0, b1 = read(2)
        if b0 & 0x70:
            self._fail(1002, "reserved bits set without an extension")
        if b1 & 0x80:
            self._fail(1002, "masked frame from the server")
        n = b1 & 0x7F
        if n == 126:
            (n,) = _U16.unpack(read(2))
        elif n == 127:
            (n,) = _U64.unpack(read(8))
        return bool(b0 & 0x80), b0 & 0x0F, n

    def _fail(self, code: int, message: str):
        self.send_close(code, message)
        self.abort()
        raise WebSocketError(f"WebSocket protocol error: {message}")

    def _control(self, opcode: int, fin: bool, n: int) -> None:
        if not fin or n > 125:
            self._fail(1002, "fragmented or oversized control frame")
        payload = self._reader.read(n)
        if opcode == OP_PING:
            if not self.close_sent:
                try:
                    self._send_frame(OP_PONG, payload)
                except OSError:
                    pass
        elif opcode == OP_PONG:
            self.last_pong = payload
        else:  # close
            code = _U16.unpack(payload[:2])[0] if len(payload) >= 2 else 1005
            reason = payload[2:].decode("utf-8", "replace")
            self.close_received = (code, reason)
            self.send_close(code if code not in (1005, 1006, 1015) else 1000)
            self.abort()
            raise ConnectionClosed(code, reason)

    def recv(self, sink: Sink | None = None):
        """Next message as ``(opcode, data)``: text → ``str``; binary → a writable
        ``memoryview`` of exactly the payload, or, with ``sink``, whatever
        ``sink(payload)`` returns after reading from the :class:`Payload` (bytes it
        leaves unread are skipped). Raises :class:`ConnectionClosed` at the end."""
        if self.closed:
            raise ConnectionClosed(*(self.close_received or (1006, "connection closed")))
        while True:
            fin, opcode, n = self._frame_header()
            if opcode in _CONTROL_OPS:
                self._control(opcode, fin, n)
                continue
            if opcode == OP_CONT:
                self._fail(1002, "continuation frame without a message")
            if opcode not in _DATA_OPS:
                self._fail(1002, f"unknown opcode {opcode}")
            if opcode == OP_TEXT:
                if fin and n <= _READ_AHEAD // 2:
                    return OP_TEXT, self._text(self._reader.read(n))
                return OP_TEXT, self._text(Payload(self, fin, n).read_all())
            payload = Payload(self, fin, n)
            if sink is None:
                return OP_BINARY, payload.read_all()
            result = sink(payload)
            payload.skip_rest()
            return OP_BINARY, result

    def _text(self, data) -> str:
        try:
            return bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            self._fail(1007, "invalid UTF-8 in a text message")
            raise  # pragma: no cover

    # ----------------------------------------------------------------- close
    def abort(self) -> None:
        """Close the socket now (no handshake)."""
        if self.closed:
            return
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def close(self, code: int = 1000, reason: str = "", timeout: float = 2.0) -> None:
        """The full closing handshake, for a WebSocket used without a reader thread:
        send close, read (and drop) messages until the server's close, close the socket."""
        if self.closed:
            return
        self.send_close(code, reason)
        try:
            self.sock.settimeout(timeout)
            while True:
                self.recv()
        except (ConnectionClosed, OSError):
            pass
        finally:
            self.abort()

    def settimeout(self, timeout: float | None) -> None:
        self.sock.settimeout(timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def connect(url: str, headers: Mapping[str, str] | None = None, timeout: float | None = 10.0,
            rcvbuf: int | None = DEFAULT_RCVBUF) -> WebSocket:
    """Open a WebSocket to ``url`` (ws:// or wss://). ``headers`` are added to the
    upgrade request. ``timeout`` bounds the TCP connect and the handshake; afterwards
    the socket blocks. Raises :class:`HandshakeError` when the server refuses the
    upgrade (``.status`` holds the HTTP status) and ``OSError`` when it can not be reached."""
    scheme, host, port, resource = parse_ws_url(url)
    sock = _open_socket(host, port, timeout, rcvbuf)
    try:
        if scheme == "wss":
            import ssl

            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        host_header = host if ":" not in host else f"[{host}]"
        if port not in (80, 443):
            host_header += f":{port}"
        lines = [
            f"GET {resource} HTTP/1.1",
            f"Host: {host_header}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            "User-Agent: daqlab-python",
        ]
        for name, value in (headers or {}).items():
            if "\r" in name + str(value) or "\n" in name + str(value):
                raise ValueError(f"header {name!r} contains a line break")
            lines.append(f"{name}: {value}")
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        reader = _SocketReader(sock)
        head = reader.read_until(b"\r\n\r\n", _MAX_HANDSHAKE).decode("latin-1")
        status_line, *header_lines = head.split("\r\n")
        parts = status_line.split(" ", 2)
        try:
            status = int(parts[1])
        except (IndexError, ValueError):
            raise WebSocketError(f"not an HTTP response from {url}: {status_line[:80]!r}") from None
        resp: dict[str, str] = {}
        for line in header_lines:
            if ":" in line:
                name, value = line.split(":", 1)
                resp[name.strip().lower()] = value.strip()
        if status != 101:
            body = b""
            try:
                length = int(resp.get("content-length", "0"))
                if 0 < length <= _MAX_HANDSHAKE:
                    body = reader.read(length)
            except (OSError, ValueError, ConnectionClosed):
                pass
            reason = parts[2] if len(parts) > 2 else ""
            detail = body.decode("utf-8", "replace").strip()
            raise HandshakeError(
                f"WebSocket upgrade refused by {url}: HTTP {status} {reason}" + (f" — {detail[:300]}" if detail else ""),
                status, resp, body)
        expected = base64.b64encode(hashlib.sha1(key.encode("ascii") + _GUID).digest()).decode("ascii")
        if resp.get("sec-websocket-accept") != expected:
            raise WebSocketError("bad Sec-WebSocket-Accept in the server's handshake answer")
        if resp.get("upgrade", "").lower() != "websocket" or "upgrade" not in resp.get("connection", "").lower():
            raise WebSocketError("the server's handshake answer lacks Upgrade: websocket / Connection: Upgrade")
        sock.settimeout(None)
        return WebSocket(sock, reader, url, resp)
    except BaseException:
        sock.close()
        raise


def _open_socket(host: str, port: int, timeout: float | None, rcvbuf: int | None) -> socket.socket:
    error: OSError | None = None
    for family, socktype, proto, _, addr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        sock = socket.socket(family, socktype, proto)
        try:
            if rcvbuf:  # before connect, so that the TCP window scale can use it
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(timeout)
            sock.connect(addr)
            return sock
        except OSError as exc:
            error = exc
            sock.close()
    raise error or OSError(f"cannot resolve {host}")
