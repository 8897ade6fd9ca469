"""Compressed array payloads (`compression: "bslz4"` on subscribe / stream.read): each item is one HDF5
filter-32008 chunk. Checked by third parties: pyarrow reads the payload, HDF5's own bitshuffle plugin
(hdf5plugin, through h5py's direct chunk write) decodes every chunk to exactly the uncompressed item."""
from __future__ import annotations

import h5py
import hdf5plugin
import numpy as np
import pyarrow as pa
import pytest

from daqlab import _protocol as P
from daqlab._arrow import concat, decode
from daqlab.errors import ParameterError


def read(client, params: dict) -> list:
    _, data = client._conn.request("stream.read", params, collect=True)
    return [buf for _, buf in sorted(data, key=lambda hb: hb[0]["msg"])]


def hdf5_decode(chunk: bytes, dtype, shape, path) -> np.ndarray:
    """What HDF5 (with the standard bitshuffle filter) makes of one chunk."""
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("d", shape=shape, dtype=dtype, chunks=shape, **hdf5plugin.Bitshuffle(cname="lz4"))
        ds.id.write_direct_chunk((0,) * len(shape), chunk)
    with h5py.File(path, "r") as f:
        return f["d"][()]


@pytest.fixture(scope="module")
def scans(server):
    import daqlab

    c = daqlab.connect(server.url)
    keys = {}
    for det in ("sim-eiger-500k", "sim-camera"):
        acq = c.detector(det).prepare(acquisition={"nb_frames": 4, "expo_time": 0.01})
        acq.start()
        acq.wait(progress=False)
        keys[det] = acq.scan.key
    c.close()
    return keys


@pytest.mark.parametrize("det", ["sim-eiger-500k", "sim-camera"])
@pytest.mark.parametrize("binning", [1, 3])
def test_bslz4_read_equals_the_uncompressed_items_for_pyarrow_and_hdf5(client, scans, det, binning, tmp_path):
    ref = {"scan": scans[det], "stream": "frame", "start": 0, "stop": 4, "binning": binning}
    plain = concat([decode(p) for p in read(client, ref)], "array")
    payloads = read(client, {**ref, "compression": "bslz4"})
    table = pa.concat_tables([pa.ipc.open_stream(p).read_all() for p in payloads])
    meta = {k.decode(): v.decode() for k, v in table.schema.metadata.items()}
    assert meta[P.META_COMPRESSION] == "bslz4"
    assert pa.types.is_binary(table.schema.field("data").type)
    assert meta[P.META_DTYPE] == str(plain.data.dtype) and tuple(eval(meta[P.META_SHAPE])) == plain.data.shape[1:]
    chunks = table.column("data").to_pylist()
    assert len(chunks) == 4 and table.column("index").to_pylist() == [0, 1, 2, 3]
    raw_bytes = plain.data[0].nbytes
    for k, chunk in enumerate(chunks):
        np.testing.assert_array_equal(hdf5_decode(chunk, plain.data.dtype, plain.data.shape[1:], tmp_path / f"{k}.h5"), plain.data[k])
    if det == "sim-eiger-500k":  # photon counting: mostly small counts, the point of compressing
        assert sum(len(c) for c in chunks) < 4 * raw_bytes / 3, [len(c) for c in chunks]
    # the Python client decodes the same payloads itself
    again = concat([decode(p) for p in payloads], "array")
    np.testing.assert_array_equal(again.data, plain.data)
    np.testing.assert_array_equal(again.index, plain.index)
    np.testing.assert_array_equal(again.valid, plain.valid)


def test_bslz4_latest_subscription_says_so_and_delivers_decodable_frames(server):
    import daqlab

    c = daqlab.connect(server.url)
    try:
        acq = c.detector("sim-camera").prepare(acquisition={"nb_frames": 30, "expo_time": 0.02})
        acq.start()
        sub = c._conn.subscribe({"scan": acq.scan.key, "stream": "frame", "mode": "latest", "compression": "bslz4"})
        assert sub.result["compression"] == "bslz4"
        kind, header, payload = sub.queue.get(timeout=10)
        assert kind == "data", (kind, header)
        batch = decode(payload)
        frame = acq.scan.streams["frame"].get(int(batch.index[0]))
        np.testing.assert_array_equal(batch.data[0], frame)
        c._conn.unsubscribe(sub)
        acq.wait(progress=False)
    finally:
        c.close()


def test_bad_compression_is_refused_naming_the_field(client, scans):
    with pytest.raises(ParameterError) as e:
        read(client, {"scan": scans["sim-camera"], "stream": "frame", "start": 0, "stop": 1, "compression": "zstd"})
    assert "compression" in str(e.value) and "bslz4" in str(e.value)
    with pytest.raises(ParameterError) as e:
        client._conn.subscribe({"scan": scans["sim-camera"], "stream": "frame", "compression": 3})
    assert "compression" in str(e.value)


def test_event_streams_are_not_compressed(client):
    acq = client.detector("sim-eiger-500k").prepare(
        acquisition={"nb_frames": 2, "expo_time": 0.01}, detector={"scene": "serial_crystallography", "seed": 3})
    acq.start()
    acq.wait(progress=False)
    with pytest.raises(ParameterError) as e:
        read(client, {"scan": acq.scan.key, "stream": "sim_truth", "start": 0, "stop": 2, "compression": "bslz4"})
    assert "compression" in str(e.value) and "event stream" in str(e.value)
    events = decode(read(client, {"scan": acq.scan.key, "stream": "sim_truth", "start": 0, "stop": 2, "compression": "none"})[0])
    assert len(events) == 2


def test_each_view_of_a_frame_is_its_own_chunk(client, scans):
    """Compressed chunks are shared between clients by scan/stream/index/view: two regions of one
    frame with the same shape must not share one."""
    base = {"scan": scans["sim-camera"], "stream": "frame", "start": 1, "stop": 2}
    for roi in ([0, 0, 64, 64], [100, 200, 64, 64], [0, 0, 64, 64]):
        plain = decode(read(client, {**base, "roi": roi})[0]).data
        packed = decode(read(client, {**base, "roi": roi, "compression": "bslz4"})[0]).data
        np.testing.assert_array_equal(packed, plain)
    a = decode(read(client, {**base, "roi": [0, 0, 64, 64], "compression": "bslz4"})[0]).data
    b = decode(read(client, {**base, "roi": [100, 200, 64, 64], "compression": "bslz4"})[0]).data
    assert not np.array_equal(a, b)
