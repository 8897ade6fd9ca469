"""Batch jobs read saved chunks directly: our reader of HDF5 chunk indexes against h5py.

`daq-server/src/saving/hdf5/chunk-index-reader.ts` finds each chunk's file offset, size and filter mask
(v1 B-tree, Fixed Array paged and not, single chunk); `detectors/replay/direct-frames.ts` reads saved frames
with one positional read + our bslz4 decoder, through the master's virtual dataset. Checked against h5py's
`get_chunk_info` / `read_direct_chunk` and h5py's decoded frames (hdf5plugin), on files from our writer (a scan
saved by a real server) and from h5py + hdf5plugin; layouts we do not read fall back to h5wasm; damaged
indexes are a clear error, never a hang.
"""
from __future__ import annotations

import json
import shutil
import subprocess

import hdf5plugin
import h5py
import numpy as np
import pytest

import daqlab
from conftest import ROOT

FIXTURE = ROOT / "daq-server" / "dist" / "test" / "fixtures" / "chunk-index-fixture.js"
BSLZ4 = hdf5plugin.Bitshuffle(cname="lz4")


def node(*args) -> dict:
    r = subprocess.run(["node", str(FIXTURE), *map(str, args)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def assert_index_matches_h5py(path, name):
    """Every chunk our reader lists is h5py's: same offset, address, size, mask, and the bytes read there
    are `read_direct_chunk`'s."""
    got = node("index", path, name)
    assert "error" not in got, got
    with h5py.File(path, "r") as f:
        d = f[name]
        n = d.id.get_num_chunks()
        assert len(got["chunks"]) == n and n > 0
        raw = open(path, "rb").read()
        for c in got["chunks"]:
            info = d.id.get_chunk_info_by_coord(tuple(c["offset"]))
            assert (info.byte_offset, info.size, info.filter_mask) == (c["address"], c["size"], c["filterMask"])
            mask, data = d.id.read_direct_chunk(tuple(c["offset"]))
            assert mask == c["filterMask"] and raw[c["address"]:c["address"] + c["size"]] == data
    return got


def write_nexus_master(path, data_kw=None, vds=None, shape=None, dtype=None):
    """A NeXus master SavedMaster opens: /entry/instrument/detector/data (a dataset or a VDS)."""
    # "latest" pins the HDF5 1.10 format (layout v4: Fixed / Extensible Array): HDF5 2.0's own latest format
    # (layout message v5) is one h5wasm's HDF5 does not read
    latest = bool(data_kw and data_kw.pop("latest", False))
    with h5py.File(path, "w", **({"libver": ("v110", "v110")} if latest else {})) as f:
        e = f.create_group("entry")
        e.attrs["NX_class"] = "NXentry"
        i = e.create_group("instrument")
        i.attrs["NX_class"] = "NXinstrument"
        det = i.create_group("detector")
        det.attrs["NX_class"] = "NXdetector"
        det["x_pixel_size"] = 75e-6
        det["y_pixel_size"] = 75e-6
        if vds is not None:
            det.create_virtual_dataset("data", vds, fillvalue=0)
        else:
            det.create_dataset("data", **data_kw)


def frames(tmp_path, master, direct=True):
    out = tmp_path / f"frames-{direct}.bin"
    got = node("frames", master, out, *([] if direct else ["nodirect"]))
    assert "error" not in got, got
    return got, np.fromfile(out, dtype=got["dtype"])


@pytest.fixture(scope="module")
def saved_scan(server, tmp_path_factory):
    """A scan saved by a real server: 12 frames, bitshuffle-LZ4, 2 receivers, 5 frames per file → a VDS
    master over several data files (Fixed Array chunk indexes)."""
    c = daqlab.connect(server.url)
    try:
        folder = tmp_path_factory.mktemp("direct")
        acq = c.detector("sim-eiger-500k").prepare(
            acquisition={"nb_frames": 12, "expo_time": 0.002}, detector={"scene": "powder", "seed": 3, "pool_size": 12},
            processing={"nb_receivers": 2},
            saving={"enabled": True, "base_path": str(folder), "prefix": "scan", "compression": "bslz4", "nb_frames_per_file": 5},
        )
        acq.start()
        acq.wait(timeout=120, progress=False)
        assert acq.counters["nb_frames_saved"] == 12
        return folder, acq.scan.files[0]
    finally:
        c.close()


def test_our_writer_scan_chunks_and_frames_equal_h5py(saved_scan, tmp_path):
    folder, master = saved_scan
    data_files = sorted(p for p in folder.rglob("*.h5") if p.name != "scan_master.h5" and "master" not in p.name)
    assert len(data_files) >= 3
    for p in data_files:
        with h5py.File(p, "r") as f:
            name = next(n for n in ("entry/data/data", "entry/instrument/detector/data") if n in f)
        assert_index_matches_h5py(p, name)
    got, direct = frames(tmp_path, master)
    assert got["direct"] == got["nbFrames"] == 12  # every frame through the VDS, read directly
    with h5py.File(master, "r") as f:
        ref = f["entry/instrument/detector/data"][()] if "entry/instrument/detector/data" in f else None
    if ref is None:
        with h5py.File(master, "r") as f:
            ref = next(f[f"entry/{k}/detector/data"][()] for k in f["entry"] if f"entry/{k}/detector/data" in f)
    np.testing.assert_array_equal(direct.reshape(ref.shape), ref)


@pytest.mark.parametrize("layout", ["btree", "fixed-paged", "single"])
def test_h5py_hdf5plugin_layouts(tmp_path, layout):
    rng = np.random.default_rng(1)
    n = {"btree": 40, "fixed-paged": 1100, "single": 1}[layout]
    data = (rng.poisson(3, (n, 16, 24)) * (rng.random((n, 16, 24)) < 0.3)).astype("u2")
    path = tmp_path / "data.h5"
    kw = {"data": data, "chunks": (1, 16, 24), **BSLZ4}
    if layout == "btree":
        kw["maxshape"] = (None, 16, 24)  # default libver: layout v3, v1 B-tree
    else:
        kw["latest"] = True  # layout v4: Fixed Array (no unlimited dimension); one frame → single chunk
    write_nexus_master(path, dict(kw))
    idx = assert_index_matches_h5py(path, "entry/instrument/detector/data")
    assert len(idx["chunks"]) == n
    got, direct = frames(tmp_path, path)
    assert got["direct"] == n
    np.testing.assert_array_equal(direct.reshape(data.shape), data)


def test_h5py_virtual_dataset_master_is_resolved(tmp_path):
    """An h5py VDS master (strided + blocked mappings, relative file names) over two h5py + hdf5plugin files."""
    rng = np.random.default_rng(2)
    parts = [rng.integers(0, 1000, (6, 8, 12), dtype="u4") for _ in range(2)]
    for k, p in enumerate(parts):
        with h5py.File(tmp_path / f"d{k}.h5", "w") as f:
            f.create_dataset("data", data=p, chunks=(1, 8, 12), maxshape=(None, 8, 12), **BSLZ4)
    layout = h5py.VirtualLayout(shape=(12, 8, 12), dtype="u4")
    layout[0:12:2] = h5py.VirtualSource("d0.h5", "data", shape=(6, 8, 12))  # round robin over 2 writers
    layout[1:12:2] = h5py.VirtualSource("d1.h5", "data", shape=(6, 8, 12))
    write_nexus_master(tmp_path / "master.h5", vds=layout)
    got, direct = frames(tmp_path, tmp_path / "master.h5")
    assert got["direct"] == 12
    with h5py.File(tmp_path / "master.h5", "r") as f:
        ref = f["entry/instrument/detector/data"][()]
    np.testing.assert_array_equal(ref[0::2], parts[0])
    np.testing.assert_array_equal(direct.reshape(ref.shape), ref)


def test_more_data_files_than_a_reader_keeps_open(tmp_path):
    """80 data files of 2 frames through a VDS: a reader keeps 64 open, so reading them in order closes the oldest."""
    rng = np.random.default_rng(4)
    data = rng.integers(0, 60000, (160, 4, 6), dtype="u2")
    layout = h5py.VirtualLayout(shape=data.shape, dtype="u2")
    for k in range(80):
        with h5py.File(tmp_path / f"d{k:03d}.h5", "w") as f:
            f.create_dataset("data", data=data[2 * k:2 * k + 2], chunks=(1, 4, 6), **BSLZ4)
        layout[2 * k:2 * k + 2] = h5py.VirtualSource(f"d{k:03d}.h5", "data", shape=(2, 4, 6))
    write_nexus_master(tmp_path / "master.h5", vds=layout)
    got, direct = frames(tmp_path, tmp_path / "master.h5")
    assert got["direct"] == 160
    np.testing.assert_array_equal(direct.reshape(data.shape), data)


@pytest.mark.parametrize("case", ["extensible-array", "gzip"])
def test_layouts_not_read_directly_fall_back_to_h5wasm(tmp_path, case):
    data = np.arange(5 * 6 * 7, dtype="u2").reshape(5, 6, 7)
    kw = {"data": data, "chunks": (1, 6, 7)}
    if case == "extensible-array":
        kw.update(maxshape=(None, 6, 7), latest=True, **BSLZ4)
    else:
        kw.update(compression="gzip")
    write_nexus_master(tmp_path / "m.h5", kw)
    got, frames_ = frames(tmp_path, tmp_path / "m.h5")
    assert got["direct"] == 0
    np.testing.assert_array_equal(frames_.reshape(data.shape), data)


@pytest.mark.parametrize("damage", ["btree-signature", "btree-child", "fixed-array-checksum", "truncated-index", "chunk-bytes"])
def test_damaged_index_is_a_clear_error(tmp_path, damage):
    data = np.arange(20 * 8 * 8, dtype="u2").reshape(20, 8, 8)
    path = tmp_path / "m.h5"
    kw = {"data": data, "chunks": (1, 8, 8), **BSLZ4}
    if damage == "fixed-array-checksum":
        kw["latest"] = True
    else:
        kw["maxshape"] = (None, 8, 8)
    write_nexus_master(path, kw)
    raw = bytearray(path.read_bytes())
    if damage == "fixed-array-checksum":
        at = raw.index(b"FADB")
        raw[at + 20] ^= 0xFF  # an entry's address byte: the data block's checksum no longer matches
    else:
        with h5py.File(path, "r") as f:
            first = f["entry/instrument/detector/data"].id.get_chunk_info(0).byte_offset
        # the chunk B-tree node: the TREE whose type byte is 1 (raw data chunks)
        at = next(i for i in range(len(raw)) if raw[i:i + 4] == b"TREE" and raw[i + 4] == 1)
        if damage == "btree-signature":
            raw[at:at + 4] = b"XXXX"
        elif damage == "btree-child":
            # first child's address (after the 24-byte node header and one key of 8 + 4·8 bytes) → far past the end
            raw[at + 24 + 40:at + 24 + 48] = (len(raw) * 4).to_bytes(8, "little")
        elif damage == "truncated-index":
            raw[at + 6:at + 8] = (60000).to_bytes(2, "little")  # entries used: the node now runs past the file's end
        else:
            raw[first + 12:first + 16] = (10 ** 6).to_bytes(4, "big")  # first block's compressed size: beyond the chunk
    path.write_bytes(bytes(raw))
    out = tmp_path / "f.bin"
    r = subprocess.run(["node", str(FIXTURE), "frames", str(path), str(out)], capture_output=True, text=True, timeout=60)
    msg = json.loads(r.stdout.strip().splitlines()[-1])
    assert "error" in msg, msg
    expected = {
        "btree-signature": "no TREE signature",
        "btree-child": "beyond the end of the file",
        "fixed-array-checksum": "checksum mismatch",
        "truncated-index": "beyond the end of the file",
        "chunk-bytes": "frame 0",
    }[damage]
    assert expected in msg["error"] and str(path) in msg["error"] and msg["error"].startswith("SourceError"), msg
