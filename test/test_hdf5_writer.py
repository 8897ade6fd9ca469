"""Cross-check of daq-server's pure-TypeScript HDF5 writer with h5py / nexusformat.

The node fixture (daq-server/test/fixtures/hdf5-writer-fixture.ts, built to
dist/) writes the files; here they are read back with the HDF5 C library.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest

hdf5plugin = pytest.importorskip("hdf5plugin")  # registers bitshuffle (32008) and friends

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "daq-server" / "dist" / "test" / "fixtures" / "hdf5-writer-fixture.js"

H, W, NFRAMES = 4, 5, 30


def frame(i: int) -> np.ndarray:
    return (i * 100 + np.arange(H * W)).reshape(H, W).astype(np.uint16)


def frames(idx) -> np.ndarray:
    return np.stack([frame(i) for i in idx])


def run_fixture(outdir: Path, mode: str) -> subprocess.CompletedProcess:
    if not FIXTURE.exists():
        pytest.fail(f"{FIXTURE} is missing: build daq-server first (scripts/setup.sh)")
    return subprocess.run(["node", str(FIXTURE), str(outdir), mode], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def outdir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("h5w")
    r = run_fixture(d, "all")
    assert r.returncode == 0, r.stderr
    return d


@pytest.fixture(autouse=True)
def elsewhere(tmp_path, monkeypatch):
    """read from another working directory: relative VDS / external link names
    must resolve against the folder of the file holding them"""
    monkeypatch.chdir(tmp_path)


# --------------------------------------------------------------------------- structure


def test_groups_and_nexus_attributes(outdir):
    with h5py.File(outdir / "nexus.h5", "r") as f:
        assert f.attrs["default"] == "entry"
        assert f.attrs["creator"] == "daqlab ✓"
        assert isinstance(f["entry"].attrs["NX_class"], str)
        assert f["entry"].attrs["NX_class"] == "NXentry"
        assert f["entry"].attrs["default"] == "data"
        assert f["entry/instrument"].attrs["NX_class"] == "NXinstrument"
        assert f["entry/instrument/detector"].attrs["NX_class"] == "NXdetector"
        d = f["entry/data"]
        assert d.attrs["NX_class"] == "NXdata"
        assert d.attrs["signal"] == "frames"
        assert list(d.attrs["axes"]) == ["frame_number", ".", "."]
        assert d["frames"].attrs["units"] == "counts"
        assert f["entry"].attrs["late_attribute"] == "added after datasets"
        assert len(f["entry/instrument/detector"].attrs) == 14
        assert set(f["entry"].keys()) >= {"instrument", "data", "small", "many", "dangling", "external_frames"}


def test_numeric_attributes(outdir):
    with h5py.File(outdir / "nexus.h5", "r") as f:
        a = f["entry/instrument/detector"].attrs
        assert a["i8"] == -5 and a["i8"].dtype == np.int64
        assert a["f8"] == 2.5 and a["f8"].dtype == np.float64
        assert a["big"] == 1234567890123
        assert a["flag"] == 1 and a["flag"].dtype == np.uint8
        np.testing.assert_array_equal(a["i8s"], np.array([1, 2, 3], dtype=np.int64))
        np.testing.assert_array_equal(a["f8s"], [0.5, 1.5])
        assert a["u1s"].dtype == np.uint8 and list(a["u1s"]) == [1, 2, 255]
        assert a["i2s"].dtype == np.int16 and list(a["i2s"]) == [-2, 7]
        assert a["u4s"].dtype == np.uint32 and list(a["u4s"]) == [4000000000]
        assert a["f4s"].dtype == np.float32 and list(a["f4s"]) == [0.25, -1.0]
        assert a["u8s"].dtype == np.uint64 and int(a["u8s"][0]) == 2**63 + 5
        assert list(a["names"]) == ["x", "y", "zé"]
        assert a["empty"] == ""


def test_small_datasets_every_dtype(outdir):
    with h5py.File(outdir / "nexus.h5", "r") as f:
        s = f["entry/small"]
        expect = {
            "u1": np.array([0, 1, 255], np.uint8),
            "i1": np.array([-128, 0, 127], np.int8),
            "u2": np.array([0, 65535], np.uint16),
            "i2": np.array([-32768, 32767], np.int16),
            "u4": np.array([0, 4294967295], np.uint32),
            "i4": np.array([-(2**31), 2**31 - 1], np.int32),
            "u8": np.array([0, 2**64 - 1], np.uint64),
            "i8": np.array([-(2**63), 2**63 - 1], np.int64),
            "f4": np.array([1.5, -2.25, 3e38], np.float32),
            "f8": np.array([np.pi, -1e300], np.float64),
        }
        for name, ref in expect.items():
            got = s[name][()]
            assert got.dtype == ref.dtype, name
            np.testing.assert_array_equal(got, ref)
        np.testing.assert_array_equal(s["matrix"][()], np.array([[1, 2, 3], [4, 5, 6]], np.int32))
        assert s["scalar_f8"].shape == () and s["scalar_f8"][()] == 42.5
        assert s["scalar_u2"].shape == () and s["scalar_u2"][()] == 7 and s["scalar_u2"].dtype == np.uint16
        assert s["empty"].shape == (0,)
        det = f["entry/instrument/detector"]
        assert det["description"].shape == ()
        assert det["description"].asstr()[()] == "JUNGFRAU 1M"
        assert list(det["modules"].asstr()[()]) == ["mod0", "mod1", ""]
        assert det["x_pixel_size"][()] == 75e-6 and det["x_pixel_size"].attrs["units"] == "m"


def test_many_members_use_continuation_blocks(outdir):
    with h5py.File(outdir / "nexus.h5", "r") as f:
        g = f["entry/many"]
        assert len(g) == 200
        assert len(g.attrs) == 41
        assert all(g[f"item_{i:03d}"][()] == i for i in range(200))
        assert all(g.attrs[f"attr_{i}"] == f"value {i}" for i in range(40))


# --------------------------------------------------------------------------- chunked


def test_chunked_uncompressed_frames(outdir):
    with h5py.File(outdir / "nexus.h5", "r") as f:
        ds = f["entry/data/frames"]
        assert ds.shape == (NFRAMES, H, W) and ds.maxshape == (NFRAMES, H, W)
        assert ds.chunks == (1, H, W) and ds.dtype == np.uint16
        np.testing.assert_array_equal(ds[()], frames(range(NFRAMES)))
        np.testing.assert_array_equal(ds[7], frame(7))
        np.testing.assert_array_equal(f["entry/data/frame_number"][()], np.arange(NFRAMES))


def test_chunked_deflate_frames(outdir):
    with h5py.File(outdir / "nexus.h5", "r") as f:
        ds = f["entry/data/deflated"]
        assert ds.compression == "gzip" and ds.compression_opts == 4
        np.testing.assert_array_equal(ds[()], frames(range(NFRAMES)))


def test_bitshuffle_filter_declared(outdir):
    with h5py.File(outdir / "nexus.h5", "r") as f:
        ds = f["entry/data/bitshuffled"]
        assert ds._filters == {"32008": (0, 3, 2, 0, 2)}
        plist = ds.id.get_create_plist()
        assert plist.get_nfilters() == 1
        code, flags, values, _name = plist.get_filter(0)
        assert code == 32008 and tuple(values) == (0, 3, 2, 0, 2)
        assert ds.shape == (2, H, W) and ds.maxshape == (None, H, W)
        assert (ds[()] == 3).all()  # no chunk written: fill value


def test_paged_fixed_array(outdir):
    with h5py.File(outdir / "nexus.h5", "r") as f:
        ds = f["entry/data/paged"]
        i = np.arange(3000)
        ref = np.stack([i, -i], axis=1).astype(np.int32)
        ref[i % 7 == 3] = -1  # chunks never written read as the fill value
        np.testing.assert_array_equal(ds[()], ref)


def test_append_tables(outdir):
    with h5py.File(outdir / "nexus.h5", "r") as f:
        ts = f["entry/data/timestamps"]
        assert ts.maxshape == (None,)
        np.testing.assert_array_equal(ts[()], np.arange(13) * 0.5)
        pos = f["entry/data/positions"]
        i = np.arange(13, dtype=np.float32)
        np.testing.assert_array_equal(pos[()], np.stack([i, i + 0.5, -i], axis=1))


def test_unlimited_more_than_70000_chunks(outdir):
    with h5py.File(outdir / "big.h5", "r") as f:
        ds = f["big"]
        assert ds.shape == (75_000, 4) and ds.maxshape == (None, 4) and ds.chunks == (1, 4)
        np.testing.assert_array_equal(ds[()].ravel(), np.arange(300_000, dtype=np.uint32))
        np.testing.assert_array_equal(ds[74_998:75_000], [[299_992, 299_993, 299_994, 299_995], [299_996, 299_997, 299_998, 299_999]])
        z = f["big_deflate"]
        assert z.compression == "gzip" and z.shape == (500, H, W)
        np.testing.assert_array_equal(z[()], frames(range(500)))


# --------------------------------------------------------------------------- links


def test_soft_and_external_links(outdir):
    with h5py.File(outdir / "nexus.h5", "r") as f:
        link = f["entry/data"].get("frames_alias", getlink=True)
        assert isinstance(link, h5py.SoftLink) and link.path == "/entry/data/frames"
        np.testing.assert_array_equal(f["entry/data/frames_alias"][3], frame(3))
        dangling = f["entry"].get("dangling", getlink=True)
        assert isinstance(dangling, h5py.SoftLink) and dangling.path == "/nowhere"
        assert f.get("entry/dangling") is None
        ext = f["entry"].get("external_frames", getlink=True)
        assert isinstance(ext, h5py.ExternalLink)
        assert ext.filename == "src0.h5" and ext.path == "/entry/data/data"
        np.testing.assert_array_equal(f["entry/external_frames"][()], frames(range(0, NFRAMES, 3)))


# --------------------------------------------------------------------------- virtual


def test_virtual_round_robin(outdir):
    with h5py.File(outdir / "master.h5", "r") as f:
        ds = f["entry/data/data"]
        assert ds.is_virtual
        srcs = ds.virtual_sources()
        assert [s.file_name for s in srcs] == ["src0.h5", "src1.h5", "src2.h5"]
        assert all(s.dset_name == "/entry/data/data" for s in srcs)
        assert srcs[1].vspace.get_regular_hyperslab() == ((1, 0, 0), (3, 1, 1), (10, 1, 1), (1, H, W))
        assert ds.shape == (NFRAMES, H, W) and ds.dtype == np.uint16
        np.testing.assert_array_equal(ds[()], frames(range(NFRAMES)))
        assert ds.attrs["units"] == "counts"


def test_virtual_many_single_frame_mappings(outdir):
    with h5py.File(outdir / "master.h5", "r") as f:
        ds = f["entry/data/permuted"]
        assert ds.is_virtual and len(ds.virtual_sources()) == NFRAMES
        perm = f["entry/data/perm"][()]
        assert sorted(perm) == list(range(NFRAMES))
        got = ds[()]
        np.testing.assert_array_equal(got[:NFRAMES], frames(perm))
        assert (got[NFRAMES:] == 9999).all()  # unmapped frames: fill value


def test_virtual_same_file_strided_source(outdir):
    with h5py.File(outdir / "master.h5", "r") as f:
        ds = f["entry/data/local_even"]
        assert ds.is_virtual and ds.virtual_sources()[0].file_name == "."
        np.testing.assert_array_equal(ds[()], np.arange(0, 200, 20))


def test_nexusformat_loads_master_and_frames_file(outdir):
    from nexusformat.nexus import NXdata, NXentry, nxload

    root = nxload(str(outdir / "master.h5"))
    tree = root.tree
    assert "entry:NXentry" in tree and "data:NXdata" in tree
    assert isinstance(root["entry"], NXentry) and isinstance(root["entry/data"], NXdata)
    assert root["entry/data"].nxsignal.nxname == "data"
    assert type(root["entry/data/data"]).__name__ == "NXvirtualfield"
    # (nexusformat models a VDS as one source per file stacked along axis 0,
    # so it reports the shape as (nfiles, ...): the values are checked with h5py)
    nexus = nxload(str(outdir / "nexus.h5"))
    assert "detector:NXdetector" in nexus.tree
    np.testing.assert_array_equal(nexus["entry/data/frames"].nxdata, frames(range(NFRAMES)))


# --------------------------------------------------------------------------- consistency


def test_killed_after_flush(tmp_path):
    r = run_fixture(tmp_path, "kill")
    assert r.returncode == 0, r.stderr
    with h5py.File(tmp_path / "killed.h5", "r") as f:
        e = f["entry"]
        assert set(e.keys()) == {"fixed", "unlimited", "timestamps"}  # 'after_flush' was never flushed
        assert "late" not in e.attrs
        np.testing.assert_array_equal(e["fixed"][()], frames(range(5)))
        np.testing.assert_array_equal(e["unlimited"][()], frames(range(5)))
        np.testing.assert_array_equal(e["timestamps"][()], np.arange(5.0))


def test_reader_while_writing(tmp_path):
    if not FIXTURE.exists():
        pytest.fail(f"{FIXTURE} is missing: build daq-server first (scripts/setup.sh)")
    proc = subprocess.Popen(
        ["node", str(FIXTURE), str(tmp_path), "live"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        for n in (4, 8, 12):
            line = proc.stdout.readline()
            assert line.strip() == f"FLUSHED {n}", proc.stderr.read() if not line else line
            size_on_disk = os.path.getsize(tmp_path / "live.h5")
            with open(tmp_path / "live.h5", "rb") as raw:
                eof = int.from_bytes(raw.read(48)[28:36], "little")  # superblock v2 end-of-file address
            assert eof < size_on_disk  # chunks written after the flush lie beyond it
            with h5py.File(tmp_path / "live.h5", "r") as f:
                ds = f["entry/frames"]
                assert ds.shape == (n, H, W)
                np.testing.assert_array_equal(ds[()], frames(range(n)))
                assert f["entry"].attrs.get("progress") == (None if n == 4 else f"frame {n - 3}")
            proc.stdin.write("go\n")
            proc.stdin.flush()
        assert proc.stdout.readline().strip() == "CLOSED"
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    with h5py.File(tmp_path / "live.h5", "r") as f:
        # the two chunks written after the last flush are in the file after close
        np.testing.assert_array_equal(f["entry/frames"][()], frames(range(14)))
        assert f["entry"].attrs["progress"] == "frame 13"
