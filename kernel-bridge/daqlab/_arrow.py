"""Decode data-message payloads (Arrow IPC streams) into numpy, without copying.

Array items: columns ``index`` (int64), ``valid`` (bool), ``data``
(FixedSizeList<T>[prod(shape)]), schema metadata ``daqlab.dtype`` and
``daqlab.shape`` (per item). Compressed array items (``daqlab.compression``):
``data`` is binary, one chunk per item (see ``_codec``). Event items: ``index``
(int64), ``json`` (utf8).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from math import prod
from typing import Any, Sequence

import numpy as np
import pyarrow as pa

from . import _protocol as P

__all__ = ["Batch", "decode", "concat", "empty_batch"]


@dataclass(eq=False)
class Batch:
    """Consecutive items of one stream, as delivered by one read or subscription message.

    ``index``: int64 array of item indexes. ``data``: for array streams a numpy array
    of shape ``(count, *item_shape)``; for event streams a list of Python objects.
    ``valid``: bool array (False: incomplete frame), ``None`` for event streams.
    ``frames``: int64 array, per item the index of the acquisition frame it comes from
    (-1: not from one frame, e.g. an accumulated image); ``None`` when no item has one.
    It differs from ``index`` once frames were dropped: join per-frame streams on it.
    ``times``: float64 array, per item its acquisition time in ms since the Unix epoch
    (NaN: unknown); ``None`` when no item has one.
    """

    index: np.ndarray
    data: Any
    valid: np.ndarray | None = None
    kind: str = P.KIND_ARRAY
    meta: dict = field(default_factory=dict, repr=False)
    frames: np.ndarray | None = None
    times: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.index)

    @property
    def first(self) -> int | None:
        return int(self.index[0]) if len(self.index) else None

    @property
    def dtype(self) -> np.dtype | None:
        return self.data.dtype if isinstance(self.data, np.ndarray) else None

    @property
    def shape(self) -> tuple | None:
        """per-item shape"""
        return tuple(self.data.shape[1:]) if isinstance(self.data, np.ndarray) else None

    def __repr__(self) -> str:
        n = len(self)
        span = f"[{self.first}…{int(self.index[-1])}]" if n else "[]"
        if self.kind == P.KIND_ARRAY and isinstance(self.data, np.ndarray):
            bad = int(n - self.valid.sum()) if self.valid is not None else 0
            return (f"Batch({n} × {self.data.dtype}{list(self.data.shape[1:])}, index {span}"
                    + (f", {bad} invalid" if bad else "") + ")")
        return f"Batch({n} events, index {span})"


def _buffer_base(buf) -> tuple[int, int] | None:
    """(address, size) of a writable byte buffer, None when it is read-only."""
    mv = memoryview(buf)
    if mv.readonly:
        return None
    arr = np.frombuffer(mv.cast("B") if mv.format != "B" or mv.ndim != 1 else mv, dtype=np.uint8)
    return arr.ctypes.data, arr.nbytes


def _writable_view(flat: np.ndarray, buf, base: tuple[int, int] | None) -> np.ndarray:
    """The same memory as ``flat`` (a read-only zero-copy Arrow view into ``buf``), writable.

    Arrow hands out read-only arrays; the payload buffer belongs to this client
    alone, so the user may as well modify the data in place (``img -= dark``).
    """
    if base is None or not flat.size:
        return flat
    addr, size = base
    offset = flat.ctypes.data - addr
    if offset < 0 or offset + flat.nbytes > size:
        return flat  # not in our buffer (Arrow copied it): keep Arrow's view
    mv = memoryview(buf)
    if mv.format != "B" or mv.ndim != 1:
        mv = mv.cast("B")
    return np.frombuffer(mv, dtype=flat.dtype, count=flat.size, offset=offset)


def _meta(schema: pa.Schema) -> dict[str, str]:
    return {k.decode("utf-8", "replace"): v.decode("utf-8", "replace") for k, v in (schema.metadata or {}).items()}


def _item_layout(meta: dict[str, str], list_type: pa.DataType | None) -> tuple[np.dtype, tuple[int, ...]]:
    dtype = np.dtype(meta[P.META_DTYPE]) if P.META_DTYPE in meta else None
    shape = tuple(int(s) for s in json.loads(meta[P.META_SHAPE])) if P.META_SHAPE in meta else None
    if list_type is not None:
        if dtype is None:
            dtype = np.dtype(list_type.value_type.to_pandas_dtype())
        if shape is None:
            shape = (list_type.list_size,)
    return dtype, shape  # type: ignore[return-value]


NO_FRAME = -1
"""``Batch.frames`` of an item that comes from no single acquisition frame."""


def _per_item(values, count: int, dtype, missing) -> np.ndarray | None:
    """A header's per-item list (``frames``, ``times``) as numpy; None when absent or of the wrong length."""
    if not isinstance(values, list) or len(values) != count:
        return None
    return np.array([missing if v is None else v for v in values], dtype=dtype)


def decode(payload, writable: bool = True, header: dict | None = None) -> Batch:
    """Decode one payload (any buffer: bytes, bytearray, memoryview, numpy array).

    Array data is a zero-copy view into ``payload`` (writable when the payload is
    writable and ``writable`` is true), reshaped to ``(count, *shape)`` without copying.
    ``header``: the message's data header, for the per-item ``frames`` and ``times``.
    """
    batch = _decode(payload, writable)
    if header:
        batch.frames = _per_item(header.get("frames"), len(batch), np.int64, NO_FRAME)
        batch.times = _per_item(header.get("times"), len(batch), np.float64, np.nan)
    return batch


def _decode(payload, writable: bool) -> Batch:
    buf = pa.py_buffer(payload)
    reader = pa.ipc.open_stream(buf)
    schema = reader.schema
    meta = _meta(schema)
    batches = [b for b in reader if b.num_rows]
    names = schema.names

    if P.COL_JSON in names:  # event items
        index = _concat_np([b.column(P.COL_INDEX).to_numpy() for b in batches], np.int64)
        events: list = []
        for b in batches:
            events.extend(json.loads(s) if s is not None else None for s in b.column(P.COL_JSON).to_pylist())
        return Batch(index, events, None, P.KIND_EVENT, meta)

    if P.COL_DATA not in names:
        raise ValueError(f"data payload has neither a 'data' nor a 'json' column: {names}")
    if P.META_COMPRESSION in meta:
        return _decode_compressed(batches, meta)
    list_type = schema.field(P.COL_DATA).type
    if not pa.types.is_fixed_size_list(list_type):
        raise ValueError(f"'data' column is {list_type}, not a FixedSizeList")
    dtype, shape = _item_layout(meta, list_type)
    per_item = prod(shape)
    if per_item != list_type.list_size:
        raise ValueError(f"daqlab.shape {list(shape)} does not match the list size {list_type.list_size}")

    base = _buffer_base(payload) if writable else None
    index = _concat_np([b.column(P.COL_INDEX).to_numpy() for b in batches], np.int64)
    valid = (_concat_np([b.column(P.COL_VALID).to_numpy(zero_copy_only=False) for b in batches], np.bool_)
             if P.COL_VALID in names else np.ones(len(index), dtype=np.bool_))
    if len(batches) == 1:
        data = _column_values(batches[0], dtype, payload, base).reshape((batches[0].num_rows, *shape))
    else:
        total = sum(b.num_rows for b in batches)
        data = np.empty((total, *shape), dtype=dtype)
        row = 0
        for b in batches:
            data[row:row + b.num_rows] = _column_values(b, dtype, payload, None).reshape((b.num_rows, *shape))
            row += b.num_rows
    return Batch(index, data, valid, P.KIND_ARRAY, meta)


def _decode_compressed(batches: list[pa.RecordBatch], meta: dict[str, str]) -> Batch:
    """A payload whose ``data`` column holds one compressed chunk per item (binary)."""
    from ._codec import decode_items

    dtype, shape = _item_layout(meta, None)
    if dtype is None or shape is None:
        raise ValueError("compressed payload without daqlab.dtype / daqlab.shape")
    chunks = [c for b in batches for c in b.column(P.COL_DATA).to_pylist()]
    index = _concat_np([b.column(P.COL_INDEX).to_numpy() for b in batches], np.int64)
    valid = _concat_np([b.column(P.COL_VALID).to_numpy(zero_copy_only=False) for b in batches], np.bool_)
    return Batch(index, decode_items(meta[P.META_COMPRESSION], chunks, dtype, shape), valid, P.KIND_ARRAY, meta)


def _column_values(batch: pa.RecordBatch, dtype: np.dtype, payload, base) -> np.ndarray:
    col = batch.column(P.COL_DATA)
    values = col.flatten()  # honours the array offset, zero-copy
    try:
        flat = values.to_numpy(zero_copy_only=True)
    except pa.ArrowInvalid:  # nulls inside the values: must copy
        flat = values.to_numpy(zero_copy_only=False)
    if flat.dtype != dtype:
        flat = flat.view(dtype) if flat.dtype.itemsize == dtype.itemsize else flat.astype(dtype)
    return _writable_view(flat, payload, base)


def _concat_np(parts: list[np.ndarray], dtype) -> np.ndarray:
    if not parts:
        return np.empty(0, dtype=dtype)
    if len(parts) == 1:
        return np.asarray(parts[0], dtype=dtype)
    return np.concatenate(parts).astype(dtype, copy=False)


def concat_per_item(batches: list[Batch], name: str) -> np.ndarray | None:
    """The ``frames`` or ``times`` of consecutive batches joined; None when no batch has any."""
    parts = [getattr(b, name) for b in batches]
    if all(p is None for p in parts):
        return None
    dtype, missing = (np.int64, NO_FRAME) if name == "frames" else (np.float64, np.nan)
    return np.concatenate([p if p is not None else np.full(len(b), missing, dtype=dtype)
                           for p, b in zip(parts, batches)]).astype(dtype, copy=False)


def empty_batch(kind: str, dtype=None, shape: Sequence[int] | None = None) -> Batch:
    """A batch of no items (a read that found nothing)."""
    index = np.empty(0, dtype=np.int64)
    if kind == P.KIND_EVENT:
        return Batch(index, [], None, P.KIND_EVENT)
    return Batch(index, np.empty((0, *(shape or ())), dtype=dtype or np.uint8), np.empty(0, dtype=np.bool_))


def concat(batches: list[Batch], kind: str, dtype=None, shape: Sequence[int] | None = None) -> Batch:
    """Join the batches of one read in index order: one copy when there are several, none for one."""
    batches = [b for b in batches if len(b)]
    if not batches:
        return empty_batch(kind, dtype, shape)
    if len(batches) == 1:
        return batches[0]
    index = np.concatenate([b.index for b in batches])
    if kind == P.KIND_EVENT:
        events: list = []
        for b in batches:
            events.extend(b.data)
        return Batch(index, events, None, kind, batches[0].meta,
                     concat_per_item(batches, "frames"), concat_per_item(batches, "times"))
    first = batches[0].data
    data = np.empty((len(index), *first.shape[1:]), dtype=first.dtype)
    row = 0
    for b in batches:
        data[row:row + len(b)] = b.data
        row += len(b)
    valid = np.concatenate([b.valid for b in batches])
    return Batch(index, data, valid, kind, batches[0].meta,
                 concat_per_item(batches, "frames"), concat_per_item(batches, "times"))
