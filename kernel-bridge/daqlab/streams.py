"""Streams of a scan: random access (``s[i]``, ``s[a:b]``, ``read``) and following
(``cursor``: a subscription with flow control)."""

from __future__ import annotations

import warnings
from typing import Any, Iterator, Sequence

import numpy as np

from . import _protocol as P
from ._arrow import NO_FRAME, Batch, concat, concat_per_item, decode
from .errors import IndexNoMoreThereError, IndexNotYetThereError, ProtocolError, TimeoutError
from .errors import DataGapWarning

__all__ = ["Stream", "Cursor", "Batch"]


def _item_layout(dtype, shape, roi, binning):
    """dtype and per-item shape after ROI / binning (only used for empty results)."""
    shape = list(shape or ())
    if roi is not None and len(shape) >= 2:
        shape[-2], shape[-1] = int(roi[2]), int(roi[3])
    if binning and binning > 1 and len(shape) >= 2:
        shape[-2] //= binning
        shape[-1] //= binning
        if dtype is not None and dtype.kind in "ui":
            dtype = np.dtype(np.uint32 if dtype.kind == "u" else np.int32)
    return dtype, tuple(shape)


def _opt(params: dict, **values) -> dict:
    for k, v in values.items():
        if v is not None:
            params[k] = v
    return params


class Stream:
    """A named stream of a scan: arrays (frames, maps) or JSON events.

    - ``len(s)``: number of items written so far (asked of the server);
    - ``s[i]``, ``s[-1]``: one item (numpy array of the item's shape, or the event);
    - ``s[a:b:c]``: numpy array ``(count, *shape)`` or a list of events;
    - ``s.read(...)`` with ROI and binning, ``s.read_batch(...)`` with indexes and
      validity flags;
    - ``s.cursor(...)``: follow the stream as it grows, batch by batch;
    - ``for item in s``: every item, following the stream until it is sealed.

    Arrays are zero-copy views into the received message and are writable.
    """

    def __init__(self, client, scan_key: str, info: dict):
        self._client = client
        self.scan_key = scan_key
        self._info = dict(info)
        self.name: str = info["name"]
        self.kind: str = info.get("kind", P.KIND_ARRAY)

    # ---------------------------------------------------------------- info
    def _ref(self) -> dict:
        return {"scan": self.scan_key, "stream": self.name}

    @property
    def info(self) -> dict:
        """StreamInfo from the server now: name, kind, dtype, shape, length, first, sealed, info."""
        self._info = self._client._request(P.OP_STREAM_INFO, self._ref())
        return self._info

    @property
    def dtype(self) -> np.dtype | None:
        """Element type of the items (None for an event stream)."""
        return np.dtype(self._info["dtype"]) if self._info.get("dtype") else None

    @property
    def shape(self) -> tuple[int, ...] | None:
        """Shape of one item (None for an event stream)."""
        return tuple(self._info["shape"]) if self._info.get("shape") is not None else None

    @property
    def sealed(self) -> bool:
        """True once no item will be added (asked of the server)."""
        return bool(self.info["sealed"])

    @property
    def first(self) -> int:
        """First index still held in the server's memory (older items were trimmed)."""
        return int(self.info.get("first") or 0)

    def __len__(self) -> int:
        return int(self.info["length"])

    # --------------------------------------------------------------- reading
    def read_batch(self, start: int | None = None, stop: int | None = None, step: int | None = None,
                   roi: Sequence[int] | None = None, binning: int = 1, *, single: bool = False,
                   block: bool = False, timeout: float | None = None) -> Batch:
        """Items ``start:stop:step`` (Python slicing) as a :class:`Batch` with their
        ``index``, ``data`` and ``valid`` flags. ``roi`` = ``(row0, col0, rows, cols)``
        and ``binning`` apply to the last two axes. ``single`` reads exactly one item
        (errors when it is missing); with ``block`` it waits up to ``timeout`` s for it."""
        if step is not None and step < 0 and not single:
            return self._read_reversed(start, stop, step, roi, binning)
        params = _opt(self._ref(), start=start, stop=stop, step=step)
        if roi is not None:
            params["roi"] = [int(v) for v in roi]
        if binning and binning != 1:
            params["binning"] = int(binning)
        req_timeout: Any = self._client.timeout
        if single:
            params["single"] = True
        if block:
            params["block"] = True
            if timeout is not None:
                params["timeout"] = timeout
            req_timeout = None if timeout is None else timeout + self._client.timeout
        dtype, shape = _item_layout(self.dtype, self.shape, roi, binning)
        item_bytes = dtype.itemsize * int(np.prod(shape)) if dtype is not None else None
        if self.kind == P.KIND_ARRAY and not single:
            expected = self._expected_count(start, stop, step)
            return self._read_into(params, req_timeout, dtype, shape, item_bytes, expected)
        result, data = self._client._request(P.OP_STREAM_READ, params, collect=True, timeout=req_timeout,
                                             item_bytes=item_bytes)
        batches = [decode(buf, header=h) for h, buf in sorted(data, key=lambda hb: hb[0].get("msg", 0))]
        self._check_count(result, sum(len(b) for b in batches))
        return concat(batches, self.kind, dtype, shape)

    def _read_reversed(self, start, stop, step, roi, binning) -> Batch:
        """A negative step (the server takes steps ≥ 1): read the same items forwards,
        then reverse the views."""
        r = range(*slice(start, stop, step).indices(len(self)))
        if not len(r):
            dtype, shape = _item_layout(self.dtype, self.shape, roi, binning)
            return concat([], self.kind, dtype, shape)
        fwd = self.read_batch(r[-1], r[0] + 1, -step, roi, binning)
        back = (lambda a: None if a is None else a[::-1])  # noqa: E731
        return Batch(fwd.index[::-1], fwd.data[::-1], back(fwd.valid), fwd.kind, fwd.meta, back(fwd.frames), back(fwd.times))

    def _check_count(self, result, got: int) -> None:
        if result and isinstance(result.get("count"), int) and got != result["count"]:
            raise ProtocolError(f"stream.read of {self.scan_key}/{self.name} announced {result['count']} items "
                                f"but {got} arrived")

    def _expected_count(self, start, stop, step) -> int:
        """Items a slice read should return (to allocate its result once)."""
        info = self._info if self._info.get("sealed") else self.info
        return len(range(*slice(start, stop, step).indices(int(info.get("length") or 0))))

    def _read_into(self, params, timeout, dtype, shape, item_bytes, expected: int) -> Batch:
        """A slice read whose data messages are copied, as they arrive, into one array
        allocated once: each received payload is freed right after its copy, so a read
        needs about its result's memory, not twice it. A read that comes in one
        message is returned without any copy."""
        messages = self._client.connection.request_iter(P.OP_STREAM_READ, params, timeout=timeout,
                                                        item_bytes=item_bytes)
        first: Batch | None = None
        out: np.ndarray | None = None
        filled = 0
        index, valid, parts = [], [], []
        try:
            while True:
                header, buf = next(messages)
                b = decode(buf, header=header)
                del buf
                if not len(b):
                    continue
                if out is None and first is None:
                    first = b
                    continue
                if out is None:  # a second message: from now on, copy into one result
                    out = np.empty((max(expected, len(first) + len(b)), *first.data.shape[1:]), dtype=first.data.dtype)
                    out[:len(first)] = first.data
                    filled = len(first)
                    index.append(first.index)
                    valid.append(first.valid)
                    parts.append(Batch(first.index, None, None, frames=first.frames, times=first.times))
                    first = None
                if filled + len(b) > len(out):  # the stream grew since the count: grow (rare)
                    bigger = np.empty((max(2 * len(out), filled + len(b)), *out.shape[1:]), dtype=out.dtype)
                    bigger[:filled] = out[:filled]
                    out = bigger
                out[filled:filled + len(b)] = b.data
                filled += len(b)
                index.append(b.index)
                valid.append(b.valid)
                parts.append(Batch(b.index, None, None, frames=b.frames, times=b.times))  # without its data: freed now
        except StopIteration as stop:
            result = stop.value
        if out is None:
            batch = first if first is not None else concat([], P.KIND_ARRAY, dtype, shape)
        else:
            data = out[:filled] if filled >= 0.75 * len(out) else out[:filled].copy()
            batch = Batch(np.concatenate(index), data, np.concatenate(valid), P.KIND_ARRAY,
                          frames=concat_per_item(parts, "frames"), times=concat_per_item(parts, "times"))
        self._check_count(result, len(batch))
        return batch

    def read(self, start: int | None = None, stop: int | None = None, step: int | None = None,
             roi: Sequence[int] | None = None, binning: int = 1):
        """Items ``start:stop:step``: numpy array ``(count, *shape)`` (after ROI/binning),
        or a list of events. On a growing stream it may hold fewer items than asked."""
        return self.read_batch(start, stop, step, roi, binning).data

    def get(self, index: int, block: bool = False, timeout: float | None = None,
            roi: Sequence[int] | None = None, binning: int = 1):
        """Item ``index``; with ``block`` wait up to ``timeout`` s for it to be written."""
        return self._single(index, roi, binning, block, timeout).data[0]

    def _single(self, index: int, roi=None, binning=1, block=False, timeout=None) -> Batch:
        index = int(index)
        stop = index + 1 if index != -1 else None  # s[-1]: start=-1 with no stop
        batch = self.read_batch(index, stop, None, roi, binning, single=True, block=block, timeout=timeout)
        if not len(batch):  # the server should have raised; do not return an empty item
            raise IndexNotYetThereError(f"item {index} of {self.scan_key}/{self.name} is not there",
                                        index=index)
        return batch

    def valid(self, index: int) -> bool:
        """Whether item ``index`` is complete (False: the frame lost packets)."""
        batch = self._single(index)
        return bool(batch.valid[0]) if batch.valid is not None else True

    def frame_indices(self, start: int | None = None, stop: int | None = None, step: int | None = None) -> np.ndarray:
        """Per item ``start:stop:step``, the index of the acquisition frame it comes from (int64;
        ``-1``: not from one frame). Item positions differ from frame indexes once frames were
        dropped: join the ``frame`` stream with per-frame results (``peaks["frame_idx"]`` …) on
        these. Array items are read as one pixel each, so this costs little."""
        ndim = len(self.shape or ())
        roi = (0, 0, 1, 1) if self.kind == P.KIND_ARRAY and ndim >= 2 else None
        batch = self.read_batch(start, stop, step, roi)
        return batch.frames if batch.frames is not None else np.full(len(batch), NO_FRAME, dtype=np.int64)

    def latest(self):
        """The newest item (IndexNotYetThereError when the stream is empty)."""
        info = self.info
        length = int(info["length"])
        if length == 0:
            raise IndexNotYetThereError(f"stream {self.scan_key}/{self.name} is empty", index=0, length=0)
        return self.get(length - 1)

    def __getitem__(self, key):
        if isinstance(key, slice):
            return self.read(key.start, key.stop, key.step)
        if isinstance(key, (int, np.integer)):
            return self.get(int(key))
        raise TypeError(f"stream indexes are integers or slices, not {type(key).__name__}")

    # ------------------------------------------------------------- following
    def cursor(self, start: int = 0, mode: str = P.SUB_LOSSLESS, roi: Sequence[int] | None = None,
               binning: int = 1, every: int = 1, max_rate: float = 0, window: int | None = None, *,
               stop: int | None = None, group: str | None = None, member: str | None = None,
               on_gap="warn", timeout: float | None = None) -> "Cursor":
        """Follow the stream: an iterator of :class:`Batch` that blocks for new items
        and ends when the stream is sealed (or at ``stop``).

        ``mode='lossless'``: every item in order, paced by acknowledgements (the
        client never buffers more than ``window`` messages); items the server could
        no longer deliver are reported per ``on_gap``: 'warn' (a DataGapWarning),
        'raise' (IndexNoMoreThereError), 'ignore', or a function called as
        ``on_gap(from, to, reason)`` (items ``from … to-1`` are lost); every gap is
        also kept in ``cursor.gaps``.
        ``mode='latest'``: always the newest item (a viewer). ``every``/``max_rate``
        thin the delivery; ``group``/``member``: a consumer group sharing the items.
        ``timeout``: raise TimeoutError when nothing arrives for that long.
        Use it in ``with`` or close it (an early ``break`` is fine: it unsubscribes when
        dropped)."""
        if mode not in P.SUB_MODES:
            raise ValueError(f"mode must be one of {P.SUB_MODES}, not {mode!r}")
        if not callable(on_gap) and on_gap not in ("warn", "raise", "ignore"):
            raise ValueError("on_gap must be 'warn', 'raise', 'ignore' or a function(from, to, reason)")
        if (group is None) != (member is None):
            raise ValueError("a consumer group needs both group= and member=")
        params = _opt(self._ref(), start=start, stop=stop)
        params["mode"] = mode
        if roi is not None:
            params["roi"] = [int(v) for v in roi]
        if binning != 1:
            params["binning"] = int(binning)
        if every != 1:
            params["every"] = int(every)
        if max_rate:
            params["max_rate"] = max_rate
        _opt(params, window=window, group=group, member=member)
        return Cursor(self, params, on_gap=on_gap, timeout=timeout)

    subscribe = cursor

    def __iter__(self) -> Iterator:
        """Every item from the first held in memory, following the stream until sealed."""
        with self.cursor(start=self.first) as cur:
            for batch in cur:
                yield from batch.data

    def __repr__(self) -> str:
        i = self._info
        what = f"{i.get('dtype')}{list(i.get('shape') or [])}" if self.kind == P.KIND_ARRAY else "events"
        return (f"<daqlab.Stream {self.scan_key}/{self.name} {what} length {i.get('length')}"
                f"{', sealed' if i.get('sealed') else ''}>")


class Cursor:
    """An open subscription: iterate it for :class:`Batch` objects.

    The batch handed out last counts as consumed when the next one is asked for;
    consumed messages are acknowledged (``sub.ack``) so that the server sends more.
    """

    def __init__(self, stream: Stream, params: dict, on_gap="warn", timeout: float | None = None):
        self.stream = stream
        self.params = params
        self.on_gap = on_gap
        self.timeout = timeout
        self.gaps: list[dict] = []
        self.length: int | None = None  # stream length reported by sub.end
        self.position: int | None = None  # next index after the last batch handed out
        self._conn = stream._client.connection
        self._sub = self._conn.subscribe(params)
        result = self._sub.result
        self.id: str = self._sub.id
        self.dtype = np.dtype(result["dtype"]) if result.get("dtype") else None
        self.shape = tuple(result["shape"]) if result.get("shape") is not None else None
        self.first = result.get("first")
        # the server says which window it applies; ack often enough that it never runs dry
        window = result.get("window") or params.get("window") or 1
        self._ack_every = max(1, int(window) // 4)
        self._given: int | None = None  # msg of the batch handed out last
        self._consumed = -1
        self._acked = -1
        self._done = False
        self._closed = False

    # --------------------------------------------------------------- flow
    def _ack(self, force: bool) -> None:
        if self._consumed > self._acked and (force or self._consumed - self._acked >= self._ack_every):
            self._conn.post(P.OP_SUB_ACK, {"sub": self.id, "msg": self._consumed})
            self._acked = self._consumed

    def __iter__(self) -> "Cursor":
        return self

    def __next__(self) -> Batch:
        if self._done or self._closed:
            raise StopIteration
        if self._given is not None:
            self._consumed = max(self._consumed, self._given)
            self._given = None
        while True:
            item = self._sub.get(0)
            if item is None:
                self._ack(force=True)  # about to wait: let the server send what we can take
                item = self._wait()
            else:
                self._ack(force=False)
            kind = item[0]
            if kind == "data":
                header, buf = item[1], item[2]
                batch = decode(buf, header=header)
                self._given = int(header.get("msg", self._consumed + 1))
                if len(batch):
                    self.position = int(batch.index[-1]) + 1
                return batch
            if kind == "event":
                self._on_event(item[1])
                continue
            self._done = True  # error
            self.close()
            raise item[1]

    def _wait(self):
        import time

        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while True:
            slice_ = 0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic()))
            item = self._sub.get(slice_)
            if item is not None:
                return item
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"no data from {self.stream.scan_key}/{self.stream.name} "
                                   f"within {self.timeout:g} s")

    def _on_event(self, msg: dict) -> None:
        name = msg.get("event")
        if name == P.EV_SUB_GAP:
            self.gaps.append(msg)
            text = (f"{self.stream.scan_key}/{self.stream.name}: items {msg.get('from')}…"
                    f"{(msg.get('to') or 0) - 1} will not be delivered ({msg.get('reason', 'gap')})")
            if callable(self.on_gap):
                self.on_gap(msg.get("from"), msg.get("to"), msg.get("reason"))
            elif self.on_gap == "raise":
                self.close()
                raise IndexNoMoreThereError(text, index=msg.get("from"), gap=msg)
            elif self.on_gap == "warn":
                warnings.warn(text, DataGapWarning, stacklevel=4)
        elif name == P.EV_SUB_END:
            self.length = msg.get("length")
            self._done = True
            self.close()
            raise StopIteration

    # -------------------------------------------------------------- closing
    def close(self, ack_last: bool = True, blocking: bool = True) -> None:
        """Unsubscribe (after acknowledging what was consumed; with ``ack_last`` the batch
        handed out last counts as consumed). Idempotent."""
        if self._closed:
            return
        self._closed = True
        if ack_last and self._given is not None:
            self._consumed = max(self._consumed, self._given)
        before = []
        if self._consumed > self._acked:
            before.append((P.OP_SUB_ACK, {"sub": self.id, "msg": self._consumed}))
            self._acked = self._consumed
        self._conn.unsubscribe_after(self._sub, before, blocking=blocking)

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> "Cursor":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(ack_last=exc_type is None)

    def __del__(self):
        try:
            if not self._closed:
                self.close(blocking=False)
        except Exception:
            pass

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("ended" if self._done else "open")
        return (f"<daqlab.Cursor {self.id} on {self.stream.scan_key}/{self.stream.name} "
                f"{self.params.get('mode')} {state}, next index {self.position}>")
