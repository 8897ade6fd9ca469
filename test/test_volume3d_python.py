"""Volume3D's kernel side without a browser: sources, bad input, the level of detail (checked
against numpy block means, also for an HDF5 dataset read in slabs), full-resolution slices
and the comm messages the view receives."""
from __future__ import annotations

import math

import h5py
import numpy as np
import pytest
from traitlets import TraitError

from daqlab.volume import Volume3D, block_mean, lod_factors


def numpy_block_mean(a: np.ndarray, f) -> np.ndarray:
    """The reference: pad with NaN to whole blocks, reshape, nanmean."""
    shape = [math.ceil(n / k) * k for n, k in zip(a.shape, f)]
    p = np.full(shape, np.nan, np.complex128 if np.iscomplexobj(a) else np.float64)
    p[: a.shape[0], : a.shape[1], : a.shape[2]] = a
    nz, ny, nx = (s // k for s, k in zip(shape, f))
    return np.nanmean(p.reshape(nz, f[0], ny, f[1], nx, f[2]), axis=(1, 3, 5))


class Sent:
    """Captures what the widget sends to its views."""

    def __init__(self, w: Volume3D):
        self.messages: list[tuple[dict, list]] = []
        w.send = lambda content, buffers=None: self.messages.append((content, list(buffers or [])))


def test_lod_factors():
    assert lod_factors((64, 64, 64)) == (1, 1, 1)
    assert lod_factors((512, 512, 512)) == (2, 2, 2)
    assert lod_factors((2048, 2048, 2048)) == (8, 8, 8)
    assert lod_factors((1000, 300, 17), max_size=256) == (4, 2, 1)
    # the byte budget shrinks the longest side first
    f = lod_factors((256, 256, 256), max_size=256, max_bytes=2 * 128**3)
    sizes = [math.ceil(n / k) for n, k in zip((256, 256, 256), f)]
    assert math.prod(sizes) * 2 <= 2 * 128**3 and max(sizes) <= 256


def test_block_mean_matches_numpy_with_partial_blocks_and_nans():
    rng = np.random.default_rng(1)
    a = rng.random((13, 10, 7)).astype(np.float32)
    np.testing.assert_allclose(block_mean(a, (4, 3, 2)), numpy_block_mean(a, (4, 3, 2)), rtol=1e-6)
    a[0, 0, 0] = np.nan
    a[4:8, 0:3, 0:2] = np.nan  # a whole block of NaN stays NaN
    got = block_mean(a, (4, 3, 2))
    with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning):
        ref = numpy_block_mean(a, (4, 3, 2))
    np.testing.assert_allclose(got, ref, rtol=1e-6)
    assert np.isnan(got[1, 0, 0])


def test_array_source_lod_range_and_messages():
    z, y, x = np.meshgrid(np.arange(40), np.arange(30), np.arange(20), indexing="ij")
    vol = (z * 10000 + y * 100 + x).astype(np.float32)
    w = Volume3D(vol, max_size=16, colormap="magma", mode="iso", threshold=1000.0, slice_z=3, voxel_size=0.5, units="nm")
    assert w.shape == [40, 30, 20] and w.dtype == "float32" and w.source_kind == "array"
    assert w.lod_factors == [3, 2, 2] and w.lod_shape == [14, 15, 10]
    np.testing.assert_allclose(w.lod, numpy_block_mean(vol, (3, 2, 2)), rtol=1e-6)
    assert w.data_range == [0.0, float(vol.max())]
    assert w.voxel_size == (0.5, 0.5, 0.5) and w.units == "nm"
    sent = Sent(w)
    # the view asks for the LOD: float16, normalised to the data range
    w._on_view_msg(w, {"type": "lod"}, [])
    content, buffers = sent.messages[-1]
    assert content["type"] == "lod" and content["shape"] == [14, 15, 10] and content["range"] == w.data_range
    half = np.frombuffer(buffers[0], np.float16).reshape(14, 15, 10)
    np.testing.assert_allclose(half.astype(np.float64) * vol.max(), w.lod, rtol=2e-3, atol=vol.max() * 1e-4)
    # a large LOD goes out twice: a preview of at most 64 voxels a side first, then the LOD itself
    big = Volume3D(np.arange(130 * 20 * 10, dtype=np.float32).reshape(130, 20, 10))
    big_sent = Sent(big)
    big._on_view_msg(big, {"type": "lod"}, [])
    (first, b1), (second, b2) = big_sent.messages
    assert (first["preview"], first["shape"], second["preview"], second["shape"]) == (True, [44, 20, 10], False, [130, 20, 10])
    assert len(b1[0]) == 44 * 20 * 10 * 2 and len(b2[0]) == 130 * 20 * 10 * 2
    # and a full-resolution slice of each axis, exactly
    for axis, k, ref in [(0, 7, vol[7]), (1, 29, vol[:, 29]), (2, 0, vol[:, :, 0])]:
        w._on_view_msg(w, {"type": "slice", "axis": axis, "index": k}, [])
        content, buffers = sent.messages[-1]
        assert (content["type"], content["axis"], content["index"], content["shape"]) == ("slice", axis, k, list(ref.shape))
        np.testing.assert_array_equal(np.frombuffer(buffers[0], np.float32).reshape(ref.shape), ref)
    # a bad request is answered with an error naming it, not an exception in the kernel
    w._on_view_msg(w, {"type": "slice", "axis": 0, "index": 40}, [])
    assert "index" in sent.messages[-1][0]["error"]


def test_dtypes_are_converted():
    for dtype in (np.uint8, np.uint16, np.int16, np.float64, np.int32):
        a = (np.arange(4 * 5 * 6) - (30 if np.dtype(dtype).kind == "i" else 0)).astype(dtype).reshape(4, 5, 6)
        w = Volume3D(a)
        assert w.dtype == np.dtype(dtype).name
        assert w.data_range == [float(a.min()), float(a.max())]
        np.testing.assert_array_equal(w.slice("y", 2), a[:, 2].astype(np.float32))


def test_complex_volume_abs_and_phase():
    rng = np.random.default_rng(2)
    amp = rng.random((8, 8, 8)) + 0.5
    ph = rng.uniform(-3, 3, (8, 8, 8))
    vol = (amp * np.exp(1j * ph)).astype(np.complex64)
    w = Volume3D(vol, max_size=8)
    assert w.is_complex and w.complex_mode == "abs"
    np.testing.assert_allclose(w.lod, np.abs(vol), rtol=1e-6)
    np.testing.assert_allclose(w.slice(0, 3), np.abs(vol[3]), rtol=1e-6)
    sent = Sent(w)
    w.complex_mode = "phase"  # the kernel pushes the new LOD to the views by itself
    assert sent.messages and sent.messages[-1][0]["type"] == "lod" and sent.messages[-1][0]["complex_mode"] == "phase"
    assert w.data_range == [-math.pi, math.pi]
    np.testing.assert_allclose(w.slice(0, 3), np.angle(vol[3]), rtol=1e-6)
    # phase LOD: the angle of the block-mean complex value (no wrap-around artefacts)
    w2 = Volume3D(vol.astype(np.complex128), max_size=4, complex_mode="phase", phase_support=0.0)
    np.testing.assert_allclose(w2.lod, np.angle(numpy_block_mean(vol.astype(np.complex128), (2, 2, 2))), rtol=1e-5, atol=1e-6)
    # outside the support (amplitude below phase_support × the largest) the phase is missing (NaN)
    sphere = vol.copy()
    sphere[:2] = 0.01
    w3 = Volume3D(sphere, complex_mode="phase", phase_support=0.1)
    assert np.isnan(w3.slice(0, 1)).all() and not np.isnan(w3.slice(0, 2)).any()
    assert np.isnan(w3.lod[:2]).all() and not np.isnan(w3.lod[2:]).any()
    sent = Sent(w3)
    w3.phase_support = 0.0
    assert not np.isnan(w3.lod).any() and sent.messages[-1][0]["type"] == "lod"
    with pytest.raises(TraitError, match="phase_support must be in"):
        w3.phase_support = 2


def test_nans_are_missing_voxels():
    a = np.ones((4, 4, 4), np.float32)
    a[0, 0, 0] = np.nan
    a[1] = 3
    w = Volume3D(a, max_size=8)
    assert w.data_range == [1.0, 3.0]  # NaN left out of the range
    content, payload = w.lod_payload()
    half = np.frombuffer(payload, np.float16)
    assert half[0] == -1  # drawn transparent
    assert np.isnan(w.slice(0, 0)[0, 0])  # slices keep NaN (drawn black)
    allnan = Volume3D(np.full((2, 2, 2), np.nan))
    assert allnan.data_range == [0.0, 1.0]


def test_bad_input_names_the_argument(tmp_path):
    with pytest.raises(ValueError, match=r"source: a volume has 3 dimensions.*\(4, 4\)"):
        Volume3D(np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"source: a volume has 3 dimensions"):
        Volume3D(np.zeros((2, 2, 2, 2)))
    with pytest.raises(ValueError, match=r"source: axis 1 \(y\) has size 0"):
        Volume3D(np.zeros((3, 0, 4)))
    for bad in (np.zeros((2, 2, 2), bool), np.array([[["a"]]]), np.empty((1, 1, 1), object)):
        with pytest.raises(TypeError, match=r"source: unsupported dtype"):
            Volume3D(bad)
    with pytest.raises(TypeError, match=r"source: Volume3D shows"):
        Volume3D(42)
    with pytest.raises(ValueError, match="source: give"):
        Volume3D()
    with pytest.raises(ValueError, match="lod_method"):
        Volume3D(np.zeros((2, 2, 2)), lod_method="max")
    path = tmp_path / "v.h5"
    with h5py.File(path, "w") as f:
        f["entry/data/data"] = np.zeros((2, 3, 4), np.uint16)
        f["flat"] = np.zeros((3, 4))
    with pytest.raises(ValueError, match="dataset: name the dataset"):
        Volume3D(str(path))
    with pytest.raises(KeyError, match=r"dataset: '/nope' is not in .*'/entry/data/data'"):
        Volume3D(str(path), dataset="/nope")
    with pytest.raises(TypeError, match="dataset: '/entry' .* is a group"):
        Volume3D(str(path), dataset="/entry")
    with pytest.raises(ValueError, match="source: a volume has 3 dimensions"):
        Volume3D(str(path), dataset="/flat")
    with pytest.raises(FileNotFoundError, match="source: no such file"):
        Volume3D(str(tmp_path / "missing.h5"), dataset="/x")


def test_trait_validation():
    w = Volume3D(np.zeros((10, 20, 30), np.float32))
    w.slice_x, w.slice_y, w.slice_z = 29, 19, 9
    w.slice_x = None
    with pytest.raises(TraitError, match=r"slice_x must be None \(hidden\) or an index in 0…29"):
        w.slice_x = 30
    with pytest.raises(TraitError, match="slice_z"):
        w.slice_z = -1
    for name, bad in [("mode", "volume"), ("complex_mode", "real"), ("colormap", "jet"), ("view", "w")]:
        with pytest.raises(TraitError):
            setattr(w, name, bad)
    with pytest.raises(TraitError, match=r"opacity must be in \[0, 1\]"):
        w.opacity = 1.5
    with pytest.raises(TraitError, match="voxel_size must be three positive sizes"):
        w.voxel_size = (1, 0, 1)
    with pytest.raises(TraitError, match="threshold must be a finite number"):
        w.threshold = float("nan")
    with pytest.raises(TraitError, match="vmax must be a finite number"):
        w.vmax = float("inf")
    with pytest.raises(TraitError, match="max_size"):
        w.max_size = 1
    with pytest.raises(TraitError):  # computed by the kernel
        w.data_range = [0, 1]
    w.mode, w.threshold, w.vmin, w.vmax = "composite", 0.5, 0.0, 2.0
    state = w.get_state()
    assert (state["_view_name"], state["_model_name"], state["_view_module"]) == ("Volume3DView", "Volume3DModel", "@daqlab/widgets")
    assert (state["mode"], state["threshold"], state["vmin"], state["vmax"]) == ("composite", 0.5, 0.0, 2.0)
    # the view's changes arrive as state updates
    w.set_state({"slice_y": 4, "threshold": 0.25, "view": "z"})
    assert (w.slice_y, w.threshold, w.view) == (4, 0.25, "z")


def test_large_hdf5_dataset_lod_in_slabs(tmp_path, monkeypatch):
    """A dataset read in z-slabs (slab size forced small) gives the same LOD as numpy on the
    whole array, and the slices are the file's voxels; stride mode reads every n-th voxel."""
    import daqlab.volume as V

    rng = np.random.default_rng(3)
    vol = rng.integers(0, 60000, (300, 96, 130), dtype=np.uint16)
    path = tmp_path / "big.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("entry/data/data", data=vol, chunks=(1, 96, 130), compression="gzip")
    monkeypatch.setattr(V, "SLAB_BYTES", 96 * 130 * 2 * 10)  # ≈ 10 planes a read: 30+ slabs
    w = Volume3D(str(path), dataset="/entry/data/data", max_size=64)
    assert w.lod_factors == [5, 2, 3] and w.lod_shape == [60, 48, 44]
    np.testing.assert_allclose(w.lod, numpy_block_mean(vol, (5, 2, 3)), rtol=1e-6)
    assert w.data_range == [float(vol.min()), float(vol.max())]
    np.testing.assert_array_equal(w.slice(2, 129), vol[:, :, 129].astype(np.float32))
    np.testing.assert_array_equal(w.slice(0, 299), vol[299].astype(np.float32))
    with h5py.File(path, "r") as f:  # an h5py Dataset as the source
        ws = Volume3D(f["entry/data/data"], max_size=64, lod_method="stride")
        np.testing.assert_array_equal(ws.lod, vol[::5, ::2, ::3].astype(np.float32))
    # the file closed under the widget: the view's slice request is answered with the reason
    sent = Sent(ws)
    ws._on_view_msg(ws, {"type": "slice", "axis": 0, "index": 3}, [])
    assert sent.messages[-1][0]["error"].startswith("slice 0/3: ")
    # a byte budget: 60×48×44×2 bytes is over 100 kB, so the LOD shrinks to fit
    small = Volume3D(vol, max_size=64, max_bytes=100_000)
    assert math.prod(small.lod_shape) * 2 <= 100_000 and small.lod.shape == tuple(small.lod_shape)


def test_stream_source(client, server, monkeypatch):
    """A frame stream of a simulator scan as a volume: the frame index is z; the browser reads it
    from the server; Python's slice() makes the same reads."""
    monkeypatch.delenv("DAQLAB_BROWSER_URL", raising=False)
    acq = client.detector("sim-camera").prepare(acquisition={"nb_frames": 6, "expo_time": 0.01})
    acq.start()
    acq.wait(progress=False)
    frames = acq.scan.streams["frame"][0:6]
    w = Volume3D(acq, slice_x=5)
    state = w.get_state()
    assert state["source_kind"] == "stream" and state["stream"] == "frame" and state["scan"] == acq.scan.key
    assert state["shape"] == [6, 1024, 1024] and state["server_url"] == f"proxy/{server.port}/ws"
    np.testing.assert_array_equal(w.slice("z", 4), frames[4].astype(np.float32))
    np.testing.assert_array_equal(w.slice("x", 5), frames[:, :, 5].astype(np.float32))
    np.testing.assert_array_equal(w.slice("y", 1023), frames[:, 1023, :].astype(np.float32))
    with pytest.raises(TypeError, match="lod: a stream source"):
        _ = w.lod
    with pytest.raises(KeyError, match="stream: scan .* has no stream 'nope'"):
        Volume3D(acq.scan, stream="nope")
