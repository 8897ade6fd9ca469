"""A fake daqlab server speaking docs/PROTOCOL.md over tests/wsserver.py.

Enough of the protocol to test the client without the real (Node) server:
hello, detectors, prepare/start/stop/status with events, scans, stream.read with
chunked data messages, subscriptions with ``window``/``sub.ack`` flow control,
``sub.gap`` and ``sub.end``.
"""

from __future__ import annotations

import itertools
import json
import struct
import threading
import time
import uuid as uuidlib

import numpy as np
import pyarrow as pa

from wsserver import WSServer

MAX_MESSAGE_BYTES = 8 * 1024 * 1024


# ------------------------------------------------------------------ payloads
def array_payload(index, data: np.ndarray, valid=None, scan="scan", stream="frame", batches: int = 1) -> bytes:
    """An Arrow IPC stream exactly as the protocol specifies for array items."""
    data = np.ascontiguousarray(data)
    count = data.shape[0]
    shape = list(data.shape[1:])
    per = int(np.prod(shape)) if shape else 1
    index = np.asarray(index, dtype=np.int64)
    valid = np.ones(count, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    list_type = pa.list_(pa.from_numpy_dtype(data.dtype), per)
    schema = pa.schema(
        [("index", pa.int64()), ("valid", pa.bool_()), ("data", list_type)],
        metadata={"daqlab.dtype": data.dtype.name, "daqlab.shape": json.dumps(shape),
                  "daqlab.stream": stream, "daqlab.scan": scan})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as writer:
        bounds = np.linspace(0, count, batches + 1).astype(int) if count else [0, 0]
        for a, b in zip(bounds[:-1], bounds[1:]):
            flat = pa.array(data[a:b].reshape(-1))
            writer.write_batch(pa.record_batch(
                [pa.array(index[a:b]), pa.array(valid[a:b]), pa.FixedSizeListArray.from_arrays(flat, per)],
                schema=schema))
    return sink.getvalue().to_pybytes()


def event_payload(index, events, scan="scan", stream="events") -> bytes:
    schema = pa.schema([("index", pa.int64()), ("json", pa.utf8())],
                       metadata={"daqlab.stream": stream, "daqlab.scan": scan})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as writer:
        writer.write_batch(pa.record_batch(
            [pa.array(np.asarray(index, dtype=np.int64)), pa.array([json.dumps(e) for e in events])],
            schema=schema))
    return sink.getvalue().to_pybytes()


def envelope(header: dict, payload) -> bytes:
    h = json.dumps(header).encode()
    return struct.pack("<I", len(h)) + h + bytes(payload)


def data_messages(header: dict, payload: bytes, max_bytes: int = MAX_MESSAGE_BYTES) -> list[bytes]:
    """The data messages of one payload, cut into parts so that none exceeds max_bytes."""
    room = max_bytes - 4 - len(json.dumps({**header, "part": 999999, "parts": 999999}).encode())
    chunks = [payload[i:i + room] for i in range(0, len(payload), room)] or [b""]
    return [envelope({**header, "part": k, "parts": len(chunks)}, c) for k, c in enumerate(chunks)]


# -------------------------------------------------------------------- model
class FakeStream:
    def __init__(self, name, kind="array", dtype="uint16", shape=(4, 6), info=None):
        self.name = name
        self.kind = kind
        self.dtype = dtype if kind == "array" else None
        self.shape = list(shape) if kind == "array" else None
        self.items: list = []
        self.valid: list[bool] = []
        self.first = 0
        self.sealed = False
        self.info = info or {}

    @property
    def length(self) -> int:
        return len(self.items)

    def describe(self) -> dict:
        d = {"name": self.name, "kind": self.kind, "length": self.length, "first": self.first,
             "sealed": self.sealed, "info": self.info}
        if self.kind == "array":
            d.update(dtype=self.dtype, shape=self.shape)
        return d


class FakeScan:
    def __init__(self, key, seq, identity, info=None):
        self.key = key
        self.seq = seq
        self.identity = {"name": "scan", "number": seq, "session": "", "proposal": "", "sample": "",
                         "dataset": "", "path": "", **identity}
        self.state = "CREATED"
        self.info = info or {}
        self.streams: dict[str, FakeStream] = {}

    def summary(self) -> dict:
        return {"key": self.key, "seq": self.seq, "identity": self.identity, "state": self.state,
                "info": self.info, "streams": [s.describe() for s in self.streams.values()],
                "created": "2026-01-01T00:00:00Z"}


class Err(Exception):
    def __init__(self, type_, message, **extra):
        super().__init__(message)
        self.body = {"type": type_, "message": message, **extra}


class FakeDaqlab:
    """``FakeDaqlab(token=None, max_message_bytes=..., batch_items=4, events=True)``."""

    DETECTOR = {"name": "fake-det", "model": "Fake", "shape": [8, 16], "image_shape": [8, 16],
                "pixel_size": [75e-6, 75e-6], "dtype": "uint16", "trigger_modes": ["internal", "software"],
                "max_frame_rate": 1000, "dummy": None, "sensor": {}, "scenes": ["flat"]}

    def __init__(self, token=None, max_message_bytes=MAX_MESSAGE_BYTES, batch_items=4, events=True,
                 frame_period=0.002, fragment=100_000):
        self.max_message_bytes = max_message_bytes
        self.fragment = fragment
        self.batch_items = batch_items
        self.events = events
        self.frame_period = frame_period
        self.cond = threading.Condition()
        self.scans: dict[str, FakeScan] = {}
        self.seq = 0
        self.acqs: dict[str, dict] = {}
        self.det_state = {"state": "IDLE", "uuid": None, "reason": None}
        self.sub_stats: dict[str, dict] = {}
        self.subs: dict[str, dict] = {}
        self.requests: list[dict] = []
        self.peers = []
        self.delay: dict[str, float] = {}
        self._sub_ids = itertools.count(1)
        self.ws = WSServer(self._serve, token=token)
        self.url = self.ws.url

    def stop(self):
        self.ws.stop()
        with self.cond:
            for sub in self.subs.values():
                sub["closed"] = True
            self.cond.notify_all()

    # ------------------------------------------------------------- store
    def add_scan(self, identity=None, info=None) -> FakeScan:
        with self.cond:
            self.seq += 1
            scan = FakeScan(f"scan-{self.seq}", self.seq, identity or {}, info)
            self.scans[scan.key] = scan
            self.cond.notify_all()
        for peer in list(self.peers):
            self.event(peer, {"event": "scan.new", "scan": scan.summary()})
        return scan

    def append(self, stream: FakeStream, items, valid=None):
        with self.cond:
            for k, item in enumerate(items):
                stream.items.append(item)
                stream.valid.append(True if valid is None else bool(valid[k]))
            self.cond.notify_all()

    def seal(self, stream: FakeStream):
        with self.cond:
            stream.sealed = True
            self.cond.notify_all()

    def trim(self, stream: FakeStream, to: int):
        with self.cond:
            stream.first = to
            self.cond.notify_all()

    # ------------------------------------------------------------ transport
    def _serve(self, peer):
        self.peers.append(peer)
        try:
            while True:
                op, data = peer.recv()
                if op == 0x8:
                    return
                if op == 0x2:
                    self.reply(peer, None, error={"type": "ProtocolError", "message": "binary messages are not accepted"})
                    continue
                try:
                    msg = json.loads(data)
                except ValueError:
                    self.reply(peer, None, error={"type": "ProtocolError", "message": "not JSON"})
                    continue
                self.requests.append(msg)
                threading.Thread(target=self._handle, args=(peer, msg), daemon=True).start()
        finally:
            self.peers.remove(peer)
            with self.cond:
                for sub in self.subs.values():
                    if sub["peer"] is peer:
                        sub["closed"] = True
                self.cond.notify_all()

    def reply(self, peer, id_, result=None, error=None):
        msg = {"id": id_, "ok": error is None}
        if error is None:
            msg["result"] = result
        else:
            msg["error"] = error
        try:
            peer.send_text(json.dumps(msg))
        except OSError:
            pass

    def event(self, peer, msg):
        if not self.events and msg["event"] not in ("sub.gap", "sub.end"):
            return
        try:
            peer.send_text(json.dumps(msg))
        except OSError:
            pass

    def broadcast(self, msg):
        for peer in list(self.peers):
            self.event(peer, msg)

    def send_data(self, peer, header: dict, payload: bytes):
        """Like the Node server's Outbox: each message is the envelope prefix as a first
        frame, then the payload in continuation frames (``fragment`` bytes each), a
        ping between them now and then; or one whole frame when ``fragment`` is 0."""
        for m in data_messages(header, payload, self.max_message_bytes):
            if not self.fragment:
                peer.send_binary(m)
                continue
            (h,) = struct.unpack("<I", m[:4])
            prefix, body = m[:4 + h], memoryview(m)[4 + h:]
            with peer.lock:
                peer.sock.sendall(peer.head(0x2, len(prefix), fin=False) + prefix)
                pieces = [body[i:i + self.fragment] for i in range(0, len(body), self.fragment)] or [body]
                for k, piece in enumerate(pieces):
                    if k == 1:
                        peer.sock.sendall(peer.head(0x9, 4) + b"ping")
                    peer.sock.sendall(peer.head(0x0, len(piece), fin=k == len(pieces) - 1))
                    peer.sock.sendall(piece)

    def _handle(self, peer, msg):
        op = msg.get("op")
        if op in self.delay:
            time.sleep(self.delay[op])
        fn = getattr(self, "op_" + str(op).replace(".", "_"), None)
        if fn is None:
            self.reply(peer, msg.get("id"), error={"type": "ProtocolError", "message": f"unknown op {op}"})
            return
        try:
            result = fn(peer, msg)
        except Err as e:
            self.reply(peer, msg["id"], error=e.body)
            return
        except Exception as e:  # noqa: BLE001
            self.reply(peer, msg["id"], error={"type": "InternalError", "message": repr(e)})
            return
        self.reply(peer, msg["id"], result)

    # ------------------------------------------------------------ operations
    def op_hello(self, peer, msg):
        return {"server": "daqlab", "version": "0.0.0-fake", "protocol": 1,
                "max_message_bytes": self.max_message_bytes, "detectors": ["fake-det"]}

    def op_detectors_list(self, peer, msg):
        return {"detectors": ["fake-det"]}

    def _det(self, msg):
        if msg.get("detector") != "fake-det":
            raise Err("NotFoundError", f"no detector {msg.get('detector')!r}; known: fake-det")

    def op_detector_info(self, peer, msg):
        self._det(msg)
        return self.DETECTOR

    def op_detector_state(self, peer, msg):
        self._det(msg)
        return {"detector": "fake-det", **self.det_state}

    def op_schema_get(self, peer, msg):
        self._det(msg)
        return {"type": "object", "properties": {k: {"type": "object"} for k in
                                                 ("acquisition", "detector", "processing", "saving", "scan")}}

    def op_detector_calibration(self, peer, msg):
        self._det(msg)
        maps = {"pedestal": np.arange(3 * 8 * 16, dtype=np.float32).reshape(3, 8, 16),
                "gain": np.full((3, 8, 16), 2.5, dtype=np.float32)}
        for k, (name, arr) in enumerate(maps.items()):
            self.send_data(peer, {"req": msg["id"], "scan": "", "stream": name, "kind": "array", "first": 0,
                                  "count": 1, "msg": k}, array_payload([0], arr[None], stream=name))
        return {"maps": [{"name": n, "dtype": "float32", "shape": [3, 8, 16]} for n in maps]}

    def _status(self, acq):
        return {k: acq[k] for k in ("uuid", "detector", "state", "reason", "counters", "nb_frames", "scan",
                                    "elapsed", "fps")}

    def op_acq_prepare(self, peer, msg):
        self._det(msg)
        params = msg.get("params") or {}
        acqp = params.get("acquisition") or {}
        fields = []
        nb = acqp.get("nb_frames", 10)
        if not isinstance(nb, int) or nb < 0:
            fields.append({"field": "acquisition.nb_frames", "message": "must be an integer >= 0"})
        expo = acqp.get("expo_time", 0.001)
        if not isinstance(expo, (int, float)):
            fields.append({"field": "acquisition.expo_time", "message": "must be a number (seconds)"})
        for k in set(acqp) - {"nb_frames", "expo_time", "trigger_mode"}:
            fields.append({"field": f"acquisition.{k}", "message": "unknown parameter"})
        if fields:
            raise Err("ParameterError", "invalid parameters: " + "; ".join(f"{f['field']}: {f['message']}" for f in fields),
                      fields=fields)
        if self.det_state["state"] in ("RUNNING", "FAULT"):
            raise Err("StateError", f"cannot prepare: detector is {self.det_state['state']}", state=self.det_state["state"])
        scan = self.add_scan(params.get("scan") or {}, {"acquisition": acqp})
        scan.streams["frame"] = FakeStream("frame", "array", "uint16", [8, 16])
        scan.streams["sim_truth"] = FakeStream("sim_truth", "event")
        scan.state = "PREPARED"
        uid = str(uuidlib.uuid4())
        acq = {"uuid": uid, "detector": "fake-det", "state": "PREPARED", "reason": None,
               "counters": {"nb_frames_acquired": 0, "nb_frames_transferred": [0], "nb_frames_processed": 0,
                            "nb_frames_saved": 0, "nb_frames_dropped": 0, "nb_frames_invalid": 0},
               "nb_frames": nb, "scan": scan.key, "elapsed": None, "fps": 0.0,
               "_fault_at": (params.get("detector") or {}).get("fault_at_frame"), "_stop": False,
               "_params": params}
        self.acqs[uid] = acq
        self.det_state = {"state": "PREPARED", "uuid": uid, "reason": None}
        return {**self._status(acq), "scan_summary": scan.summary()}

    def _acq(self, msg):
        acq = self.acqs.get(msg.get("uuid"))
        if acq is None:
            raise Err("NotFoundError", f"no acquisition {msg.get('uuid')}")
        return acq

    def _set_state(self, acq, state, reason=None):
        acq["state"] = state
        acq["reason"] = reason
        self.det_state = {"state": state, "uuid": acq["uuid"], "reason": reason}
        self.broadcast({"event": "acq.state", "detector": "fake-det", "uuid": acq["uuid"], "state": state,
                        "reason": reason})

    def op_acq_start(self, peer, msg):
        acq = self._acq(msg)
        if acq["state"] != "PREPARED":
            raise Err("StateError", f"cannot start: acquisition is {acq['state']}", state=acq["state"])
        self._set_state(acq, "RUNNING")
        threading.Thread(target=self._run, args=(acq,), daemon=True).start()
        return self._status(acq)

    def _run(self, acq):
        scan = self.scans[acq["scan"]]
        scan.state = "STARTED"
        frame, truth = scan.streams["frame"], scan.streams["sim_truth"]
        t0 = time.monotonic()
        last_counters = 0.0
        i = 0
        nb = acq["nb_frames"]
        while (nb == 0 or i < nb) and not acq["_stop"]:
            if acq["_fault_at"] is not None and i == acq["_fault_at"]:
                self._end(acq, scan, "FAULT", f"simulated detector fault at frame {i}")
                return
            self.append(frame, [np.full((8, 16), i, dtype=np.uint16)])
            self.append(truth, [{"frame_idx": i, "is_hit": i % 2 == 0}])
            i += 1
            c = acq["counters"]
            c["nb_frames_acquired"] = c["nb_frames_processed"] = i
            c["nb_frames_transferred"] = [i]
            acq["elapsed"] = time.monotonic() - t0
            acq["fps"] = i / max(acq["elapsed"], 1e-6)
            if time.monotonic() - last_counters > 0.05:
                last_counters = time.monotonic()
                self.broadcast({"event": "acq.counters", "detector": "fake-det", "uuid": acq["uuid"],
                                "counters": c, "fps": acq["fps"]})
            time.sleep(self.frame_period)
        self._end(acq, scan, "STOPPED", "completed" if not acq["_stop"] else "stopped")

    def _end(self, acq, scan, state, reason):
        for s in scan.streams.values():
            self.seal(s)
        scan.state = "CLOSED"
        scan.info["end_reason"] = reason
        self._set_state(acq, state, reason)

    def op_acq_status(self, peer, msg):
        return self._status(self._acq(msg))

    def op_acq_stop(self, peer, msg):
        acq = self._acq(msg)
        if acq["state"] != "RUNNING":
            raise Err("StateError", f"cannot stop: acquisition is {acq['state']}", state=acq["state"])
        acq["_stop"] = True
        while acq["state"] == "RUNNING":
            time.sleep(0.005)
        return self._status(acq)

    op_acq_abort = op_acq_stop

    def op_acq_trigger(self, peer, msg):
        raise Err("StateError", "not in software trigger mode")

    def op_acq_reset(self, peer, msg):
        self._det(msg)
        self.det_state = {"state": "IDLE", "uuid": None, "reason": None}
        return {"detector": "fake-det", "state": "IDLE"}

    def op_scans_last(self, peer, msg):
        with self.cond:
            return self.scans[max(self.scans, key=lambda k: self.scans[k].seq)].summary() if self.scans else None

    def op_scans_search(self, peer, msg):
        since = msg.get("since") or 0
        out = []
        with self.cond:
            for scan in self.scans.values():
                if scan.seq <= since:
                    continue
                if all(scan.identity.get(k) == v for k, v in msg.items()
                       if k in ("name", "number", "session", "proposal", "sample", "dataset", "path")):
                    out.append(scan.summary())
            return {"scans": out, "seq": self.seq}

    def op_scans_wait_next(self, peer, msg):
        after = msg.get("after", 0)
        timeout = msg.get("timeout")
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.cond:
            while True:
                newer = [s for s in self.scans.values() if s.seq > after]
                if newer:
                    return min(newer, key=lambda s: s.seq).summary()
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise Err("TimeoutError", f"no new scan within {timeout} s")
                self.cond.wait(left if left is not None else 1.0)

    def _scan(self, msg):
        scan = self.scans.get(msg.get("scan"))
        if scan is None:
            raise Err("NotFoundError", f"no scan {msg.get('scan')!r}")
        return scan

    def _stream(self, msg):
        scan = self._scan(msg)
        s = scan.streams.get(msg.get("stream"))
        if s is None:
            raise Err("NotFoundError", f"scan {scan.key} has no stream {msg.get('stream')!r}; "
                                       f"streams: {', '.join(scan.streams)}")
        return s

    def op_scan_get(self, peer, msg):
        return self._scan(msg).summary()

    def op_stream_info(self, peer, msg):
        return self._stream(msg).describe()

    def _payload(self, s: FakeStream, indexes, scan_key):
        if s.kind == "event":
            return event_payload(indexes, [s.items[i] for i in indexes], scan_key, s.name)
        data = np.stack([s.items[i] for i in indexes]) if indexes else np.empty((0, *s.shape), dtype=s.dtype)
        return array_payload(indexes, data, [s.valid[i] for i in indexes], scan_key, s.name)

    def op_stream_read(self, peer, msg):
        s = self._stream(msg)
        n = s.length
        if msg.get("single"):
            i = msg.get("start", 0)
            if msg.get("block") and i >= n and not s.sealed:
                deadline = time.monotonic() + (msg.get("timeout") or 1e9)
                with self.cond:
                    while s.length <= i and not s.sealed and time.monotonic() < deadline:
                        self.cond.wait(0.05)
                n = s.length
            if i < 0:
                if not s.sealed:
                    raise Err("IndexNotYetThereError", f"negative index {i} on a stream not sealed yet", index=i, length=n)
                i += n
            if i >= n:
                if s.sealed:
                    raise Err("IndexWontBeThereError", f"index {i} beyond the end ({n}) of a sealed stream", index=i, length=n)
                raise Err("IndexNotYetThereError", f"index {i} not there yet (length {n})", index=i, length=n)
            if i < s.first:
                raise Err("IndexNoMoreThereError", f"index {i} was trimmed (first {s.first})", index=i, first=s.first)
            idx = [i]
        else:
            start, stop, step = slice(msg.get("start"), msg.get("stop"), msg.get("step")).indices(n)
            idx = list(range(start, stop, step))
            if idx and idx[0] < s.first:
                raise Err("IndexNoMoreThereError", f"index {idx[0]} was trimmed", index=idx[0], first=s.first)
        for m, k in enumerate(range(0, len(idx), self.batch_items)):
            part = idx[k:k + self.batch_items]
            self.send_data(peer, {"req": msg["id"], "scan": msg["scan"], "stream": s.name, "kind": s.kind,
                                  "first": part[0], "count": len(part), "msg": m},
                           self._payload(s, part, msg["scan"]))
        return {"first": idx[0] if idx else None, "count": len(idx), "length": s.length, "sealed": s.sealed}

    # ------------------------------------------------------------ subscriptions
    def op_subscribe(self, peer, msg):
        s = self._stream(msg)
        sub_id = f"sub-{next(self._sub_ids)}"
        mode = msg.get("mode", "lossless")
        window = msg.get("window") or (8 if mode == "lossless" else 1)
        start = msg.get("start", 0) or 0
        if start < 0:
            start = max(0, s.length + start)
        sub = {"id": sub_id, "peer": peer, "stream": s, "scan": msg["scan"], "mode": mode, "window": window,
               "pos": start, "stop": msg.get("stop"), "acked": -1, "sent": 0, "closed": False,
               "max_in_flight": 0, "acks": [], "every": msg.get("every", 1)}
        with self.cond:
            self.subs[sub_id] = sub
            self.sub_stats[sub_id] = sub
        # reply first, then the pump starts
        threading.Timer(0.0, self._pump, args=(sub,)).start()
        return {"sub": sub_id, "dtype": s.dtype, "shape": s.shape, "first": start}

    def _pump(self, sub):
        s: FakeStream = sub["stream"]
        peer = sub["peer"]
        while True:
            with self.cond:
                while True:
                    if sub["closed"]:
                        return
                    in_flight = sub["sent"] - (sub["acked"] + 1)
                    end = s.length if sub["stop"] is None else min(s.length, sub["stop"])
                    done = (s.sealed or (sub["stop"] is not None and s.length >= sub["stop"])) and sub["pos"] >= end
                    if done:
                        break
                    if in_flight < sub["window"] and sub["pos"] < end:
                        break
                    self.cond.wait(0.05)
                if done:
                    sub["closed"] = True
                    self.event(peer, {"event": "sub.end", "sub": sub["id"], "length": s.length})
                    return
                gap = None
                if sub["pos"] < s.first:
                    gap = (sub["pos"], s.first)
                    sub["pos"] = s.first
                if sub["mode"] == "latest":
                    idx = [end - 1]
                    sub["pos"] = end
                else:
                    idx = list(range(sub["pos"], min(end, sub["pos"] + 2 * self.batch_items)))
                    sub["pos"] = idx[-1] + 1
                payload = self._payload(s, idx, sub["scan"])
                m = sub["sent"]
                sub["sent"] += 1
                sub["max_in_flight"] = max(sub["max_in_flight"], sub["sent"] - (sub["acked"] + 1))
            if gap:
                self.event(peer, {"event": "sub.gap", "sub": sub["id"], "from": gap[0], "to": gap[1],
                                  "reason": "trimmed"})
            try:
                self.send_data(peer, {"sub": sub["id"], "scan": sub["scan"], "stream": s.name, "kind": s.kind,
                                      "first": idx[0], "count": len(idx), "msg": m}, payload)
            except OSError:
                return

    def op_sub_ack(self, peer, msg):
        with self.cond:
            sub = self.sub_stats.get(msg.get("sub"))
            if sub is None:
                raise Err("NotFoundError", f"no subscription {msg.get('sub')}")
            sub["acked"] = max(sub["acked"], msg["msg"])
            sub["acks"].append(msg["msg"])
            self.cond.notify_all()
        return {"sub": msg["sub"], "msg": msg["msg"]}

    def op_unsubscribe(self, peer, msg):
        with self.cond:
            sub = self.subs.pop(msg.get("sub"), None)
            if sub is None:
                raise Err("NotFoundError", f"no subscription {msg.get('sub')}")
            sub["closed"] = True
            sub["unsubscribed"] = True
            self.cond.notify_all()
        return {"sub": msg["sub"]}
