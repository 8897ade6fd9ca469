"""Decoding data payloads built with pyarrow exactly as docs/PROTOCOL.md specifies."""

from __future__ import annotations


import numpy as np
import pyarrow as pa
import pytest

from daqlab._arrow import Batch, concat, decode, empty_batch
from fakeserver import array_payload, event_payload


@pytest.mark.parametrize("dtype", ["uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64"])
@pytest.mark.parametrize("shape", [(7,), (4, 6), (3, 4, 5)])
def test_array_items_every_dtype_and_rank(dtype, shape):
    data = (np.arange(5 * int(np.prod(shape))) % 100).astype(dtype).reshape((5, *shape))
    payload = bytearray(array_payload(np.arange(10, 15), data, [True, True, False, True, True]))
    batch = decode(memoryview(payload))
    assert batch.kind == "array"
    assert batch.data.dtype == np.dtype(dtype) and batch.data.shape == (5, *shape)
    np.testing.assert_array_equal(batch.data, data)
    assert batch.index.tolist() == [10, 11, 12, 13, 14] and batch.index.dtype == np.int64
    assert batch.valid.tolist() == [True, True, False, True, True]
    assert batch.meta["daqlab.stream"] == "frame"


def test_array_data_is_a_writable_zero_copy_view_of_the_payload():
    data = np.random.default_rng(0).integers(0, 60000, (3, 514, 1030), dtype=np.uint16)
    buf = np.frombuffer(bytearray(array_payload([0, 1, 2], data)), dtype=np.uint8)
    batch = decode(memoryview(buf))
    assert np.shares_memory(batch.data, buf)  # no copy, reshape included
    assert batch.data.flags.writeable and batch.data.flags.c_contiguous
    batch.data[0] -= 1  # the user may work in place
    np.testing.assert_array_equal(batch.data[1], data[1])


def test_read_only_payloads_give_read_only_views():
    data = np.ones((2, 3, 3), dtype=np.float32)
    raw = array_payload([0, 1], data)
    batch = decode(raw)
    assert not batch.data.flags.writeable
    np.testing.assert_array_equal(batch.data, data)


def test_several_record_batches_are_joined():
    data = np.arange(10 * 12, dtype=np.int32).reshape(10, 3, 4)
    batch = decode(bytearray(array_payload(np.arange(10), data, batches=3)))
    np.testing.assert_array_equal(batch.data, data)
    assert batch.index.tolist() == list(range(10))


def test_event_items_are_parsed_json():
    events = [{"frame_idx": 0, "spots": [[1.5, 2.5, 100]]}, {"frame_idx": 1, "is_hit": False}, [1, 2], "text", None]
    batch = decode(event_payload([3, 4, 5, 6, 7], events))
    assert batch.kind == "event" and batch.valid is None
    assert batch.data == events and batch.index.tolist() == [3, 4, 5, 6, 7]


def test_an_empty_payload():
    batch = decode(array_payload([], np.empty((0, 2, 2), dtype=np.uint16)))
    assert batch.data.shape == (0, 2, 2) and len(batch) == 0


def test_shape_metadata_must_match_the_list_size():
    payload = array_payload([0], np.zeros((1, 2, 3), dtype=np.uint8))
    table = pa.ipc.open_stream(payload).read_all()
    bad = table.replace_schema_metadata({"daqlab.dtype": "uint8", "daqlab.shape": "[5, 5]"})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, bad.schema) as w:
        w.write_table(bad)
    with pytest.raises(ValueError, match="shape"):
        decode(sink.getvalue())


def test_concat_of_read_batches():
    a = decode(array_payload([0, 1], np.zeros((2, 2, 2), np.uint16)))
    b = decode(array_payload([2], np.ones((1, 2, 2), np.uint16), valid=[False]))
    c = concat([a, b], "array")
    assert c.data.shape == (3, 2, 2) and c.index.tolist() == [0, 1, 2] and c.valid.tolist() == [True, True, False]
    assert concat([a], "array") is a
    e = concat([], "array", np.dtype("uint32"), (4, 5))
    assert e.data.shape == (0, 4, 5) and e.data.dtype == np.uint32
    assert empty_batch("event").data == []
    ev = concat([decode(event_payload([0], [{"a": 1}])), decode(event_payload([1], [{"a": 2}]))], "event")
    assert ev.data == [{"a": 1}, {"a": 2}]


def test_batch_repr_and_props():
    b = decode(bytearray(array_payload([5, 6], np.zeros((2, 3, 4), np.uint32), valid=[True, False])))
    assert isinstance(b, Batch) and len(b) == 2 and b.first == 5 and b.shape == (3, 4) and b.dtype == np.uint32
    assert "1 invalid" in repr(b)
