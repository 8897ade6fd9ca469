"""Cross-check of the TypeScript chunk codecs (daq-server/src/saving/codec)
against HDF5 itself: h5py + hdf5plugin (bitshuffle filter 32008 with LZ4)
and the built-in deflate filter (id 1).

1. chunks compressed by our codec, stored with ``write_direct_chunk`` in a
   dataset created with ``hdf5plugin.Bitshuffle(nelems=0, cname='lz4')`` (or
   gzip), read back through h5py equal the original arrays;
2. chunks written by h5py/hdf5plugin, fetched with ``read_direct_chunk``,
   decompress with our codec to the original.

The node side is daq-server/test/fixtures/codec-cli.ts (built by tsc), driven
through a JSON job file in a temporary directory.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")
hdf5plugin = pytest.importorskip("hdf5plugin")

ROOT = Path(__file__).resolve().parents[1]
CLI = ROOT / "daq-server" / "dist" / "test" / "fixtures" / "codec-cli.js"


def run_jobs(tmp: Path, jobs: list[dict]) -> list[dict]:
    if not CLI.exists():
        pytest.fail(f"{CLI} is missing: build daq-server (npx tsc -p tsconfig.json) first")
    path = tmp / f"jobs-{len(list(tmp.glob('jobs-*.json')))}.json"
    path.write_text(json.dumps(jobs))
    res = subprocess.run(["node", str(CLI), str(path)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return [json.loads(line) for line in res.stdout.splitlines()]


@pytest.fixture(scope="module")
def arrays(tmp_path_factory) -> dict[str, np.ndarray]:
    """The realistic frames of codec-frames.ts plus odd shapes and dtypes."""
    tmp = tmp_path_factory.mktemp("frames")
    run_jobs(tmp, [{"op": "frames", "dir": str(tmp)}])
    out = {}
    for meta in sorted(tmp.glob("*.json")):
        if meta.name.startswith("jobs-"):
            continue
        m = json.loads(meta.read_text())
        out[meta.stem] = np.fromfile(tmp / f"{meta.stem}.bin", dtype=m["dtype"]).reshape(m["shape"])
    rng = np.random.default_rng(7)
    out["odd_u16"] = rng.poisson(50, size=(3, 1001)).astype(np.uint16)  # 3003 elements: n mod 8 = 3
    out["tiny_u32"] = rng.integers(0, 5, size=(1, 13)).astype(np.uint32)  # less than one block
    out["u8"] = rng.poisson(3, size=(100, 333)).astype(np.uint8)
    out["u64"] = rng.poisson(1000, size=(37, 129)).astype(np.uint64)
    out["f32"] = rng.normal(0, 1, size=(64, 257)).astype(np.float32)
    out["i16_mixed"] = rng.integers(-3000, 3000, size=(5000,)).astype(np.int16)
    return out


def _dataset(h, name, a, **filt):
    # one chunk = the whole array (a frame per chunk, as the writer stores them)
    return h.create_dataset(name, shape=a.shape, dtype=a.dtype, chunks=a.shape, **filt)


def test_cd_values_match_hdf5plugin(tmp_path, arrays):
    jobs = [{"op": "cd-values", "out": str(tmp_path / f"cd{es}.json"), "elemSize": es} for es in (1, 2, 4, 8)]
    run_jobs(tmp_path, jobs)
    with h5py.File(tmp_path / "cd.h5", "w") as h:
        for es in (1, 2, 4, 8):
            a = np.zeros(16, dtype=f"u{es}")
            d = _dataset(h, f"d{es}", a, **hdf5plugin.Bitshuffle(nelems=0, cname="lz4"))
            ours = json.loads((tmp_path / f"cd{es}.json").read_text())
            assert list(d._filters["32008"]) == ours, (d._filters, ours)


@pytest.mark.parametrize("block_size", [0, 256])
def test_our_bslz4_chunks_read_by_hdf5plugin(tmp_path, arrays, block_size):
    jobs = []
    for name, a in arrays.items():
        a.tofile(tmp_path / f"{name}.raw")
        job = {"op": "bslz4-compress", "in": str(tmp_path / f"{name}.raw"), "out": str(tmp_path / f"{name}.bslz4"),
               "elemSize": a.dtype.itemsize}
        if block_size:
            job["blockSize"] = block_size
        jobs.append(job)
    run_jobs(tmp_path, jobs)
    path = tmp_path / "ours.h5"
    with h5py.File(path, "w") as h:
        for name, a in arrays.items():
            d = _dataset(h, name, a, **hdf5plugin.Bitshuffle(nelems=0, cname="lz4"))
            d.id.write_direct_chunk((0,) * a.ndim, (tmp_path / f"{name}.bslz4").read_bytes())
    with h5py.File(path, "r") as h:
        for name, a in arrays.items():
            np.testing.assert_array_equal(h[name][()], a, err_msg=name)


@pytest.mark.parametrize("nelems", [0, 1024])
def test_hdf5plugin_chunks_decompressed_by_us(tmp_path, arrays, nelems):
    path = tmp_path / "theirs.h5"
    with h5py.File(path, "w") as h:
        for name, a in arrays.items():
            d = _dataset(h, name, a, **hdf5plugin.Bitshuffle(nelems=nelems, cname="lz4"))
            d[()] = a
    jobs = []
    with h5py.File(path, "r") as h:
        for name, a in arrays.items():
            mask, chunk = h[name].id.read_direct_chunk((0,) * a.ndim)
            assert mask == 0
            (tmp_path / f"{name}.bslz4").write_bytes(chunk)
            # header: u64 BE uncompressed bytes, u32 BE block bytes
            assert int.from_bytes(chunk[:8], "big") == a.nbytes
            default = max(8192 // a.dtype.itemsize // 8 * 8, 128)
            assert int.from_bytes(chunk[8:12], "big") == (nelems or default) * a.dtype.itemsize
            jobs.append({"op": "bslz4-decompress", "in": str(tmp_path / f"{name}.bslz4"),
                         "out": str(tmp_path / f"{name}.out"), "elemSize": a.dtype.itemsize, "nbytes": a.nbytes})
    run_jobs(tmp_path, jobs)
    for name, a in arrays.items():
        back = np.fromfile(tmp_path / f"{name}.out", dtype=a.dtype).reshape(a.shape)
        np.testing.assert_array_equal(back, a, err_msg=name)


def test_chunk_framing_matches_hdf5plugin(tmp_path, arrays):
    """The LZ4 parse may differ from LZ4_compress_default (other hash table
    size), the framing may not: same 12-byte header, one partial block of a
    multiple of 8 elements, the last n mod 8 elements stored raw."""
    a = arrays["odd_u16"]
    a.tofile(tmp_path / "a.raw")
    run_jobs(tmp_path, [{"op": "bslz4-compress", "in": str(tmp_path / "a.raw"), "out": str(tmp_path / "a.bslz4"), "elemSize": 2}])
    ours = (tmp_path / "a.bslz4").read_bytes()
    with h5py.File(tmp_path / "t.h5", "w") as h:
        d = _dataset(h, "a", a, **hdf5plugin.Bitshuffle(nelems=0, cname="lz4"))
        d[()] = a
        theirs = d.id.read_direct_chunk((0, 0))[1]
    assert ours[:12] == theirs[:12]
    # 3003 elements, blocks of 4096: one partial block of 3000 elements, 3 raw elements at the end
    assert ours[-6:] == a.tobytes()[-6:] == theirs[-6:]
    n0 = int.from_bytes(ours[12:16], "big")
    assert 16 + n0 + 6 == len(ours)


def test_deflate_both_directions(tmp_path, arrays):
    jobs = []
    for name, a in arrays.items():
        a.tofile(tmp_path / f"{name}.raw")
        jobs.append({"op": "deflate", "in": str(tmp_path / f"{name}.raw"), "out": str(tmp_path / f"{name}.z"), "level": 4})
    run_jobs(tmp_path, jobs)
    path = tmp_path / "deflate.h5"
    with h5py.File(path, "w") as h:
        for name, a in arrays.items():
            d = _dataset(h, f"ours/{name}", a, compression="gzip", compression_opts=4)
            d.id.write_direct_chunk((0,) * a.ndim, (tmp_path / f"{name}.z").read_bytes())
            t = _dataset(h, f"theirs/{name}", a, compression="gzip", compression_opts=4)
            t[()] = a
    jobs = []
    with h5py.File(path, "r") as h:
        for name, a in arrays.items():
            np.testing.assert_array_equal(h[f"ours/{name}"][()], a, err_msg=name)
            mask, chunk = h[f"theirs/{name}"].id.read_direct_chunk((0,) * a.ndim)
            assert mask == 0
            (tmp_path / f"{name}.hz").write_bytes(chunk)
            jobs.append({"op": "inflate", "in": str(tmp_path / f"{name}.hz"), "out": str(tmp_path / f"{name}.back")})
    run_jobs(tmp_path, jobs)
    for name, a in arrays.items():
        back = np.fromfile(tmp_path / f"{name}.back", dtype=a.dtype).reshape(a.shape)
        np.testing.assert_array_equal(back, a, err_msg=name)
