"""One WebSocket connection to a daqlab server and the thread that reads it.

The reader thread receives every message and dispatches it:

- replies (text, with ``id``) complete the call waiting for them;
- events (text, with ``event``) go to the registered handlers, except
  ``sub.gap``/``sub.end`` which go, in order, to their subscription's queue;
- data messages (binary) go to the request (``req``) or subscription (``sub``)
  they belong to; a payload cut into ``parts`` is received piece by piece
  directly into one buffer and handed over once complete.

Sends are thread-safe. When the socket dies, every waiting call and
subscription gets a ConnectionError saying the server is unreachable.

A message the client cannot parse (bad JSON, nesting too deep for Python's
decoder, a malformed data header) is logged and skipped: the reader keeps
reading. A heartbeat thread pings a silent server and, when nothing at all has
come from it for 3 heartbeats, declares it unresponsive: the connection is
dropped and waiting calls and subscriptions get ServerUnreachable.
"""

from __future__ import annotations

import itertools
import json
import logging
import queue
import select
import struct
import threading
import time
from collections import defaultdict, deque
from typing import Any, Callable

import numpy as np

from . import _protocol as P
from . import _ws
from .errors import AuthError, ProtocolError, TimeoutError, error_from_body

log = logging.getLogger("daqlab")

_U32 = struct.Struct("<I")
_DEFAULT = object()
#: data messages kept for a subscription id not known yet (its reply not processed yet)
_MAX_ORPHANS = 64
#: unused capacity tolerated in a payload buffer before it is compacted
_COMPACT_SLACK = 256 * 1024
#: Arrow IPC stream overhead estimate: schema + batch metadata + end marker, and per item (index, valid bit)
_ARROW_FIXED = 16 * 1024
_ARROW_PER_ITEM = 16
#: first buffer size for a payload of unknown size (doubles as needed)
_UNKNOWN_START = 256 * 1024


class ServerUnreachable(ConnectionError):
    """The daqlab server can not be reached, or the connection to it was lost."""


#: seconds between heartbeats (the client pings a server silent for this long)
HEARTBEAT = P.HEARTBEAT_INTERVAL_MS / 1000
#: silent heartbeats after which the server is taken for unresponsive
UNRESPONSIVE_AFTER = P.HEARTBEAT_MISSES


def _loads(text):
    """json.loads that also turns a too-deep document (RecursionError) into ValueError."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply for this client's decoder") from None


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (tuple, set, frozenset)):
        return list(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def dumps(msg: dict) -> str:
    return json.dumps(msg, separators=(",", ":"), allow_nan=False, default=_json_default)


class _Call:
    __slots__ = ("id", "op", "done", "result", "error", "data", "on_reply", "discard", "item_bytes", "queue")

    def __init__(self, call_id, op: str, on_reply=None, discard: bool = False, item_bytes: int | None = None):
        self.id = call_id
        self.op = op
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None
        self.data: list = []
        self.on_reply = on_reply
        self.discard = discard
        self.item_bytes = item_bytes  # size of one array item of the data that comes with the reply
        self.queue: queue.SimpleQueue | None = None  # streamed data messages (request_iter), then None

    def finish(self) -> None:
        self.done.set()
        if self.queue is not None:
            self.queue.put(None)


class _Assembly:
    """One payload (possibly in ``parts`` messages, each possibly in several frames),
    received straight from the socket into one buffer."""

    __slots__ = ("buf", "size", "next_part", "parts")

    def __init__(self, capacity: int, parts: int):
        self.buf = _ws._alloc(capacity)
        self.size = 0
        self.next_part = 0
        self.parts = parts

    def reserve(self, n: int) -> None:
        if self.size + n > len(self.buf):  # the estimate was short: grow (one copy)
            bigger = _ws._alloc(max(self.size + n, 2 * len(self.buf)))
            bigger[:self.size] = self.buf[:self.size]
            self.buf = bigger

    def result(self) -> memoryview:
        """The payload; copied into an exact buffer when much of the estimate went
        unused (so that small batches kept by the user do not pin large buffers)."""
        waste = len(self.buf) - self.size
        if waste > max(_COMPACT_SLACK, self.size // 4):
            exact = _ws._alloc(self.size)
            exact[:] = self.buf[:self.size]
            return exact
        return self.buf[:self.size]


class Subscription:
    """The client end of one subscription: a queue of ('data', header, payload),
    ('event', msg) and ('error', exception) items, filled by the reader thread."""

    def __init__(self, sub_id: str, result: dict):
        self.id = sub_id
        self.result = result
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.closed = False
        dtype, shape = result.get("dtype"), result.get("shape")
        self.item_bytes: int | None = None
        if dtype and shape is not None:
            try:
                self.item_bytes = int(np.dtype(dtype).itemsize * int(np.prod(shape)))
            except TypeError:
                pass

    def get(self, timeout: float | None = None):
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None


class Connection:
    """A live connection. ``request`` sends an operation and waits for its reply."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 10.0,
                 display_url: str | None = None, heartbeat: float | None = HEARTBEAT):
        self.url = display_url or url
        #: seconds of silence before the server is pinged; 3 of them: unresponsive (None: no heartbeat)
        self.heartbeat = heartbeat
        self.unresponsive = False
        self._dispatching = False
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._pending: dict[Any, _Call] = {}
        self._subs: dict[str, Subscription] = {}
        self._orphans: deque = deque()
        self._handlers: dict[str, list[Callable[[dict], None]]] = defaultdict(list)
        self._assembly: dict[tuple, _Assembly] = {}
        self._closing = False
        self._dead: ConnectionError | None = None
        self.close_reason: str | None = None
        headers = {"Authorization": f"token {token}"} if token else {}
        try:
            self._ws = _ws.connect(url, headers=headers, timeout=timeout)
        except _ws.HandshakeError as exc:
            if exc.status == 401:
                raise AuthError(f"the daqlab server at {self.url} refused the token "
                                f"({'none given: pass token= or set $DAQLAB_TOKEN' if not token else 'wrong token'})",
                                {"type": P.ERR_AUTH, "message": str(exc)}) from None
            raise ServerUnreachable(f"{exc} — is {self.url} a daqlab server?") from None
        except OSError as exc:
            raise ServerUnreachable(f"daqlab server at {self.url} is unreachable: {exc}. "
                                    "Is it running? (node daq-server/dist/src/cli.js)") from None
        self._thread = threading.Thread(target=self._run, name="daqlab-reader", daemon=True)
        self._thread.start()
        if heartbeat:
            threading.Thread(target=self._watch, name="daqlab-heartbeat", daemon=True).start()

    # ------------------------------------------------------------------ state
    @property
    def alive(self) -> bool:
        return self._dead is None

    @property
    def state(self) -> str:
        """``connected``, ``unresponsive`` (the server stopped answering: dropped), ``closed``
        (by the client) or ``lost``."""
        if self._dead is None:
            return "connected"
        if self.unresponsive:
            return "unresponsive"
        return "closed" if self._closing else "lost"

    def _watch(self) -> None:
        """Heartbeat: ping a server that has been silent for a heartbeat; after
        UNRESPONSIVE_AFTER silent heartbeats drop the connection as unresponsive (a stopped
        server keeps its sockets open: without this, calls would wait forever)."""
        beat = self.heartbeat
        pinger: threading.Thread | None = None
        while self._dead is None:
            time.sleep(beat / 4)
            silent = time.monotonic() - self._ws.last_rx
            if self._dispatching:  # the reader runs a handler: the silence is ours, not the server's
                continue
            if silent >= beat * UNRESPONSIVE_AFTER and not self._unread():
                with self._lock:
                    if self._dead is not None:
                        return
                    self.unresponsive = True
                log.warning("daqlab: the server at %s has sent nothing for %.1f s (no reply, data or pong): "
                            "taking it for unresponsive", self.url, silent)
                self._die(f"the server did not answer for {silent:.1f} s: it is unresponsive (hung or stopped)")
                return
            if silent >= beat and (pinger is None or not pinger.is_alive()):
                # in a thread of its own: a send blocked by a stopped server must not stop the watch
                pinger = threading.Thread(target=self._ping, name="daqlab-ping", daemon=True)
                pinger.start()

    def _unread(self) -> bool:
        """Bytes from the server wait in the socket (the reader is behind, e.g. starved of the GIL)."""
        try:
            return bool(select.select([self._ws.sock], [], [], 0)[0])
        except (OSError, ValueError):
            return False

    def _ping(self) -> None:
        try:
            self._ws.ping(b"daqlab", blocking=False)
        except OSError:
            pass

    def _check_alive(self) -> None:
        if self._dead is not None:
            raise ServerUnreachable(str(self._dead))

    # --------------------------------------------------------------- requests
    def request(self, op: str, params: dict | None = None, timeout: Any = _DEFAULT,
                collect: bool = False, on_reply: Callable[[Any], Any] | None = None,
                item_bytes: int | None = None):
        """Send ``op`` with ``params`` and wait for the reply; return its result, or with
        ``collect`` ``(result, [(header, payload), …])`` for the data messages that came
        with it. ``timeout`` (seconds, None: forever) defaults to the connection's.
        ``on_reply(result)`` runs in the reader thread before any later message is read.
        ``item_bytes``: size of one array item of the data expected (to size buffers)."""
        if timeout is _DEFAULT:
            timeout = self.timeout
        self._not_in_reader(op)
        call = self._start(op, params, on_reply=on_reply, item_bytes=item_bytes)
        try:
            seen = 0
            while not call.done.wait(timeout):
                if len(call.data) > seen:  # data is still flowing in: not stuck
                    seen = len(call.data)
                    continue
                raise TimeoutError(f"no reply to {op} from {self.url} within {timeout:g} s",
                                   {"type": P.ERR_TIMEOUT, "message": f"client-side timeout of {op}"})
        finally:
            if not call.done.is_set():
                with self._lock:
                    self._pending.pop(call.id, None)
        if call.error is not None:
            raise call.error
        return (call.result, call.data) if collect else call.result

    def request_iter(self, op: str, params: dict | None = None, timeout: Any = _DEFAULT,
                     item_bytes: int | None = None):
        """Send ``op``; yield its data messages ``(header, payload)`` as they arrive, and
        return its result (``StopIteration.value``) when the reply comes. ``timeout``
        bounds the wait for each next message."""
        if timeout is _DEFAULT:
            timeout = self.timeout
        self._not_in_reader(op)
        call = _Call(None, op, item_bytes=item_bytes)
        call.queue = queue.SimpleQueue()
        call = self._start(op, params, call=call)
        try:
            while True:
                try:
                    item = call.queue.get(timeout=timeout)
                except queue.Empty:
                    raise TimeoutError(f"no data or reply for {op} from {self.url} within {timeout:g} s",
                                       {"type": P.ERR_TIMEOUT, "message": f"client-side timeout of {op}"}) from None
                if item is None:
                    break
                yield item
        finally:
            if not call.done.is_set():
                with self._lock:
                    self._pending.pop(call.id, None)
        if call.error is not None:
            raise call.error
        return call.result

    def _not_in_reader(self, op: str) -> None:
        if threading.current_thread() is getattr(self, "_thread", None):
            raise RuntimeError(f"{op}: an event handler runs in the connection's reader thread and must not "
                               "wait for a reply (it would wait forever); hand the work to another thread")

    def post(self, op: str, params: dict | None = None, blocking: bool = True) -> None:
        """Send ``op`` without waiting; its reply is dropped (errors are logged).
        ``blocking=False`` never waits for the send lock (safe in finalizers)."""
        self.post_many([(op, params)], blocking)

    def post_many(self, requests: list[tuple[str, dict | None]], blocking: bool = True) -> None:
        """Send several requests in this order without waiting for their replies."""
        if self._dead is not None:
            return
        texts = []
        with self._lock:
            for op, params in requests:
                call = _Call(next(self._ids), op, discard=True)
                msg = {"id": call.id, "op": op, **(params or {})}
                texts.append((call.id, dumps(msg)))
                self._pending[call.id] = call
        if blocking:
            self._send_texts(texts)
        elif not self._ws._send_lock.acquire(False):
            threading.Thread(target=self._send_texts, args=(texts,), daemon=True).start()
        else:
            self._ws._send_lock.release()  # free now: send from here (tiny race: send blocks briefly)
            self._send_texts(texts)

    def _send_texts(self, texts) -> None:
        for call_id, text in texts:
            try:
                self._ws.send(text)
            except OSError:
                with self._lock:
                    self._pending.pop(call_id, None)
                return

    def _start(self, op, params, on_reply=None, discard=False, item_bytes=None, call=None) -> _Call:
        call_id = next(self._ids)
        if call is None:
            call = _Call(call_id, op, on_reply, discard, item_bytes)
        call.id = call_id
        msg = {"id": call_id, "op": op}
        if params:
            msg.update(params)
        text = dumps(msg)
        if len(text) > P.MAX_REQUEST_BYTES // 2 and len(text.encode("utf-8")) > P.MAX_REQUEST_BYTES:
            raise ValueError(f"{op} request is larger than the protocol's {P.MAX_REQUEST_BYTES} bytes")
        with self._lock:
            self._check_alive()
            self._pending[call_id] = call
        try:
            self._ws.send(text)
        except OSError as exc:
            with self._lock:
                self._pending.pop(call_id, None)
            self._die(f"sending failed: {exc}")
            raise ServerUnreachable(str(self._dead)) from None
        return call

    # ----------------------------------------------------------- subscriptions
    def subscribe(self, params: dict, timeout: Any = _DEFAULT) -> Subscription:
        """Send ``subscribe``; the subscription is registered in the reader thread as soon
        as the reply arrives, so no data message can be missed."""
        holder: list[Subscription] = []

        def register(result):
            sub = Subscription(str(result["sub"]), result)
            with self._lock:
                self._subs[sub.id] = sub
                kept = deque()
                for sub_id, item in self._orphans:
                    if sub_id == sub.id:
                        sub.queue.put(item)
                    else:
                        kept.append((sub_id, item))
                self._orphans = kept
            holder.append(sub)

        self.request(P.OP_SUBSCRIBE, params, timeout=timeout, on_reply=register)
        return holder[0]

    def unsubscribe(self, sub: Subscription, wait: bool = True) -> None:
        """Stop a subscription: its data is dropped from now on, ``unsubscribe`` is sent."""
        if sub.closed:
            return
        sub.closed = True
        with self._lock:
            self._subs.pop(sub.id, None)
        if self._dead is not None:
            return
        if wait:
            try:
                self.request(P.OP_UNSUBSCRIBE, {"sub": sub.id})
            except Exception as exc:  # already gone on the server (sub.end), or connection lost
                log.debug("unsubscribe %s: %s", sub.id, exc)
        else:
            self.post(P.OP_UNSUBSCRIBE, {"sub": sub.id}, blocking=False)

    def unsubscribe_after(self, sub: Subscription, before: list[tuple[str, dict]], blocking: bool) -> None:
        """Send ``before`` (e.g. a final ``sub.ack``) then ``unsubscribe``, without waiting."""
        if sub.closed:
            return
        sub.closed = True
        with self._lock:
            self._subs.pop(sub.id, None)
        self.post_many(list(before) + [(P.OP_UNSUBSCRIBE, {"sub": sub.id})], blocking)

    # ------------------------------------------------------------------ events
    def on(self, event: str, handler: Callable[[dict], None]) -> Callable[[], None]:
        """Call ``handler(msg)`` (in the reader thread: keep it short) for each ``event``
        (``"*"``: every event). Returns a function that removes the handler."""
        with self._lock:
            self._handlers[event].append(handler)

        return lambda: self.off(event, handler)

    def off(self, event: str, handler: Callable[[dict], None]) -> None:
        """Remove a handler added with ``on`` (no error when it is not there)."""
        with self._lock:
            try:
                self._handlers[event].remove(handler)
            except ValueError:
                pass

    # ------------------------------------------------------------- reader loop
    def _run(self) -> None:
        ws = self._ws
        sink = self._data_sink
        reason = "connection closed"
        try:
            while True:
                opcode, data = ws.recv(sink)
                self._dispatching = True
                try:
                    if opcode == _ws.OP_TEXT:
                        self._on_text(data)
                    elif data is not None:
                        self._on_data(*data)
                except (OSError, MemoryError):
                    raise
                except Exception:  # one message this client cannot handle: report it, keep reading
                    log.exception("daqlab: a message from the server could not be handled; it was skipped")
                finally:
                    self._dispatching = False
        except _ws.ConnectionClosed as exc:
            reason = f"the server closed the connection (code {exc.code}{': ' + exc.reason if exc.reason else ''})"
        except OSError as exc:
            reason = f"connection lost: {exc}"
        except Exception as exc:  # a bug in dispatch: do not leave callers hanging
            log.exception("daqlab reader thread failed")
            reason = f"client reader failed: {exc!r}"
        self._die(reason)

    def _die(self, reason: str) -> None:
        with self._lock:
            if self._dead is not None:
                return
            self.close_reason = reason
            if self._closing:
                err = ServerUnreachable(f"connection to the daqlab server at {self.url} was closed by the client")
            else:
                err = ServerUnreachable(f"daqlab server at {self.url} is unreachable: {reason}. "
                                        "Reconnect with daqlab.connect() (or client.reconnect()) once it is back.")
            self._dead = err
            pending = list(self._pending.values())
            self._pending.clear()
            subs = list(self._subs.values())
            self._subs.clear()
            self._assembly.clear()
            self._orphans.clear()
        for call in pending:
            call.error = ServerUnreachable(str(err))
            call.finish()
        for sub in subs:
            sub.queue.put(("error", ServerUnreachable(str(err))))
        self._ws.abort()
        handlers = list(self._handlers.get("connection.lost", ()))
        for h in handlers:
            try:
                h({"event": "connection.lost", "reason": reason})
            except Exception:
                log.exception("connection.lost handler failed")

    def _on_text(self, text: str) -> None:
        try:
            msg = _loads(text)
        except ValueError as exc:
            log.warning("daqlab: skipped a text message from the server that this client cannot parse (%s): %.200r",
                        exc, text)
            return
        if not isinstance(msg, dict):
            log.warning("daqlab: server sent a JSON message that is not an object: %.200r", text)
            return
        if "event" in msg and "id" not in msg:
            self._on_event(msg)
            return
        call_id = msg.get("id")
        with self._lock:
            call = self._pending.pop(call_id, None)
            if call is None and call_id is not None:
                call = self._pending.pop(str(call_id), None)
        if call is None:
            if call_id is None and msg.get("ok") is False:
                log.warning("daqlab: server rejected a message: %s", (msg.get("error") or {}).get("message"))
            return  # a reply nobody waits for (timed out, or a post)
        if msg.get("ok"):
            call.result = msg.get("result")
            if call.on_reply is not None:
                try:
                    call.on_reply(call.result)
                except Exception as exc:
                    call.error = ProtocolError(f"unexpected reply to {call.op}: {exc!r}")
        else:
            call.error = error_from_body(msg.get("error"), call.op)
            if call.discard:
                log.debug("daqlab: %s failed: %s", call.op, call.error)
        call.finish()

    def _on_event(self, msg: dict) -> None:
        name = msg.get("event")
        if name in P.SUB_EVENTS and "sub" in msg:
            sub_id = str(msg["sub"])
            with self._lock:
                sub = self._subs.get(sub_id)
                if sub is None:
                    self._orphan(sub_id, ("event", msg))
            if sub is not None:
                sub.queue.put(("event", msg))
        with self._lock:
            handlers = list(self._handlers.get(name, ())) + list(self._handlers.get("*", ()))
        for handler in handlers:
            try:
                handler(msg)
            except Exception:
                log.exception("daqlab: handler of %s failed", name)

    def _orphan(self, sub_id: str, item) -> None:
        """(lock held) Keep an item of a subscription whose reply has not been read yet;
        drop items of subscriptions already closed (late messages after unsubscribe)."""
        if not any(c.op == P.OP_SUBSCRIBE for c in self._pending.values()):
            return
        self._orphans.append((sub_id, item))
        while len(self._orphans) > _MAX_ORPHANS:
            self._orphans.popleft()

    def _data_sink(self, payload: _ws.Payload):
        """Receive one binary message (reader thread): the envelope header, then the
        payload bytes, frame by frame, straight into their final buffer (several
        ``parts`` into the same one). Returns (header, payload buffer), or None while a
        multi-part payload is incomplete or when the message is dropped."""
        try:
            (hlen,) = _U32.unpack(payload.read(P.ENVELOPE_PREFIX_BYTES))
            header = _loads(payload.read(hlen))
            parts = int(header.get("parts") or 1)
            part = int(header.get("part") or 0)
            key = None
            if parts > 1:
                key = (("sub", str(header["sub"])) if "sub" in header else ("req", header.get("req"))) + (header.get("msg"),)
                hash(key)
        except _ws.ConnectionClosed:
            raise
        except (_ws.WebSocketError, ValueError, struct.error, TypeError, AttributeError, KeyError) as exc:
            log.warning("daqlab: malformed data message dropped: %s", exc)
            return None
        if part == 0:
            asm = _Assembly(self._capacity(header, parts, payload), parts)
            if key is not None:
                self._assembly[key] = asm
        else:
            asm = self._assembly.get(key)
            if asm is None or part != asm.next_part or parts != asm.parts:
                log.warning("daqlab: part %s/%s of %s out of order, payload dropped", part, parts, key)
                self._assembly.pop(key, None)
                return None
        while True:
            k = payload.available()
            if not k:
                break
            asm.reserve(k)
            payload.readinto(asm.buf[asm.size:asm.size + k])
            asm.size += k
        asm.next_part += 1
        if asm.next_part < parts:
            return None
        if key is not None:
            del self._assembly[key]
        return header, asm.result()

    def _capacity(self, header: dict, parts: int, payload: _ws.Payload) -> int:
        """Buffer size for a payload: exact when it is one last frame, else estimated
        from the item size of its request/subscription, else an upper bound."""
        if parts == 1 and payload.remaining is not None:
            return payload.remaining
        if isinstance(header.get("bytes"), int) and header["bytes"] >= 0:
            return header["bytes"]  # the server says the payload's exact size
        item_bytes = None
        if "sub" in header:
            sub = self._subs.get(str(header["sub"]))
            item_bytes = sub.item_bytes if sub is not None else None
        elif "req" in header:
            call = self._pending.get(header["req"])
            item_bytes = call.item_bytes if call is not None else None
        if item_bytes:
            count = int(header.get("count") or 1)
            return count * (item_bytes + _ARROW_PER_ITEM) + _ARROW_FIXED
        if parts > 1:
            return parts * P.MAX_MESSAGE_BYTES
        return _UNKNOWN_START  # events, calibration maps: grows as needed

    def _on_data(self, header: dict, buf) -> None:
        if "req" in header:
            with self._lock:
                call = self._pending.get(header["req"])
            if call is not None:
                if call.queue is not None:
                    call.queue.put((header, buf))
                else:
                    call.data.append((header, buf))
            return
        if "sub" in header:
            sub_id = str(header["sub"])
            with self._lock:
                sub = self._subs.get(sub_id)
                if sub is None:
                    self._orphan(sub_id, ("data", header, buf))
                    return
            sub.queue.put(("data", header, buf))
            return
        log.warning("daqlab: data message with neither req nor sub, dropped: %s", header)

    # ------------------------------------------------------------------- close
    def close(self, timeout: float = 2.0) -> None:
        """Closing handshake, then the socket; waiting calls get a ConnectionError."""
        if self._dead is not None:
            return
        self._closing = True
        self._ws.send_close(1000, "client closed")
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        self._die("closed by the client")
