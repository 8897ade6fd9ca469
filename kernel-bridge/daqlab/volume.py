"""``Volume3D``: a 3D volume (tomography reconstruction, complex CDI object) in the notebook,
drawn by the browser with WebGL2 ray marching (widgets/src/volume3d.ts).

Where the voxels come from, and how they reach the browser:

- a numpy array or an HDF5 dataset (``Volume3D("f.h5", dataset="/entry/data/data")`` or an
  h5py Dataset): the kernel builds a **level of detail** (block means, at most ``max_size``
  voxels a side and ``max_bytes`` in all, read in z-slabs so a 2048³ file never sits in
  memory) and sends it as one binary comm message (float16, normalised to the data range);
  cut planes ask the kernel for **full-resolution slices** (float32) on demand.
- a server stream whose items are 2D slices along z (e.g. a ``volume`` stream, or any frame
  stream with the frame index as z): the view reads it from the daqlab server itself,
  binned/strided by the server for the 3D view and at full resolution for the cut planes —
  those pixels never pass through the kernel.

Only settings, the LOD (array sources), slices and screenshots travel through the comm.
Axes: the array is indexed ``[z, y, x]``; ``slice_z`` cuts axis 0, ``slice_y`` axis 1,
``slice_x`` axis 2. NaN voxels are treated as missing: left out of the block means and the
data range, drawn transparent in the volume and black in the slices.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import Future
from typing import Any, Callable

import ipywidgets as W
import numpy as np
from traitlets import Bool, CFloat, Enum, Float, Int, List, TraitError, Tuple, Unicode, validate

from .widgets import MODULE_NAME, MODULE_VERSION, browser_url

__all__ = ["Volume3D", "lod_factors", "block_mean"]

MODES = ("mip", "iso", "composite")
VIEWS = ("3d", "x", "y", "z")
COLORMAPS = ("viridis", "magma", "inferno", "gray")
# dtypes an array/HDF5 source may have; anything else (bool, strings, objects, datetimes) is refused
SUPPORTED_KINDS = {"u", "i", "f", "c"}
SLAB_BYTES = 64 * 2**20  # read HDF5 datasets in z-slabs of about this size
PREVIEW_SIZE = 64  # the first LOD message: at most this many voxels a side
HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf", ".nxs", ".cxi", ".nx5")


# ---------------------------------------------------------------------------------- LOD math


def lod_factors(shape: tuple[int, int, int], max_size: int = 256, max_bytes: int = 64 * 2**20,
                itemsize: int = 2) -> tuple[int, int, int]:
    """Per-axis block sizes of the level of detail: each side at most ``max_size`` voxels and
    the whole at most ``max_bytes`` (``itemsize`` bytes a voxel); blocks at the far edge may be
    partial (ceil). The same rule as ``lodFactors`` in widgets/src/volume-math.ts."""
    f = [max(1, math.ceil(n / max(1, max_size))) for n in shape]
    out = lambda: [math.ceil(n / k) for n, k in zip(shape, f)]  # noqa: E731
    while math.prod(out()) * itemsize > max_bytes:
        sizes = out()
        a = sizes.index(max(sizes))  # shrink the longest side of the LOD first
        f[a] += 1
    return tuple(f)  # type: ignore[return-value]


def _counts(n: int, f: int) -> np.ndarray:
    starts = np.arange(0, n, f)
    return np.minimum(starts + f, n) - starts


def _strided_sum(a: np.ndarray, f: int, axis: int) -> np.ndarray:
    """Block sums along ``axis`` as f strided views added elementwise (vectorised, no float64
    temporaries); a ragged last block gets what it holds."""
    if f == 1:
        return a
    n = a.shape[axis]
    m = -(-n // f)
    idx = [slice(None)] * a.ndim
    idx[axis] = slice(0, None, f)
    out = a[tuple(idx)].copy()
    for i in range(1, f):
        idx[axis] = slice(i, None, f)
        part = a[tuple(idx)]
        k = part.shape[axis]
        if k == m:
            out += part
        elif k:
            dst = [slice(None)] * a.ndim
            dst[axis] = slice(0, k)
            out[tuple(dst)] += part
    return out


def block_mean(a: np.ndarray, factors: tuple[int, int, int]) -> np.ndarray:
    """Mean over (fz, fy, fx) blocks of a 3D array, partial blocks at the far edges averaged
    over what they hold; NaNs are left out (a block of NaNs gives NaN). Accumulates in float32
    (complex64), or float64 (complex128) for 64-bit input."""
    wide = a.dtype in (np.float64, np.complex128)
    acc = (np.complex128 if wide else np.complex64) if np.iscomplexobj(a) else (np.float64 if wide else np.float32)
    work = a.astype(acc, copy=False)
    nan = np.isnan(work) if a.dtype.kind in "fc" else None
    if nan is not None and nan.any():
        work = np.where(nan, 0, work)
        s, c = work, (~nan).astype(np.float32)
        for axis, f in enumerate(factors):
            s, c = _strided_sum(s, f, axis), _strided_sum(c, f, axis)
        with np.errstate(invalid="ignore", divide="ignore"):
            return s / np.where(c > 0, c, np.nan)
    s = work
    for axis, f in reversed(list(enumerate(factors))):  # x first: the largest reduction on contiguous memory
        s = _strided_sum(s, f, axis)
    cz, cy, cx = (_counts(n, f).astype(np.float32) for n, f in zip(a.shape, factors))
    s /= cz[:, None, None] * cy[None, :, None] * cx[None, None, :]
    return s


# ---------------------------------------------------------------------------------- sources


class _Sliceable:
    """An array-like 3D source (numpy array or h5py Dataset) read in z-slabs and planes."""

    def __init__(self, data: Any, what: str):
        self.data = data
        self.what = what
        self.shape = tuple(int(n) for n in data.shape)
        self.dtype = np.dtype(data.dtype)

    def slab(self, z0: int, z1: int) -> np.ndarray:
        return np.asarray(self.data[z0:z1])

    def plane(self, axis: int, k: int) -> np.ndarray:
        index = [slice(None)] * 3
        index[axis] = k
        return np.asarray(self.data[tuple(index)])


def _check_array(shape: tuple[int, ...], dtype: np.dtype, arg: str) -> None:
    if len(shape) != 3:
        raise ValueError(f"{arg}: a volume has 3 dimensions (z, y, x), got shape {shape} ({len(shape)} dimensions)")
    if any(n == 0 for n in shape):
        axis = [n for n in shape].index(0)
        raise ValueError(f"{arg}: axis {axis} ({'zyx'[axis]}) has size 0 (shape {shape}): nothing to show")
    if dtype.kind not in SUPPORTED_KINDS:
        raise TypeError(f"{arg}: unsupported dtype {dtype} — use a real or complex numeric array "
                        "(uint8, uint16, int16, float32, float64, complex64, complex128, …)")


def _open_hdf5(path: str | os.PathLike, dataset: str | None):
    import h5py

    if dataset is None:
        raise ValueError(f"dataset: name the dataset inside {os.fspath(path)!r}, e.g. dataset='/entry/data/data'")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise OSError(f"source: cannot open {os.fspath(path)!r} as HDF5: {e}") from e
    if dataset not in f:
        names: list[str] = []
        f.visititems(lambda n, o: names.append("/" + n) if isinstance(o, h5py.Dataset) else None)
        f.close()
        raise KeyError(f"dataset: {dataset!r} is not in {os.fspath(path)!r}; datasets there: {names[:20]}")
    ds = f[dataset]
    if not isinstance(ds, h5py.Dataset):
        f.close()
        raise TypeError(f"dataset: {dataset!r} in {os.fspath(path)!r} is a group, not a dataset")
    return ds


# ---------------------------------------------------------------------------------- widget


class Volume3D(W.DOMWidget):
    """A 3D volume viewer: maximum intensity projection, isosurface with lighting, or
    translucent compositing; up to three cut planes at full resolution; rotate (drag),
    zoom (wheel), pan (right drag or shift+drag).

    ``Volume3D(array)``, ``Volume3D("file.h5", dataset="/entry/data/data")``,
    ``Volume3D(h5py_dataset)``, or ``Volume3D(acq_or_scan_or_stream, stream="volume")`` for a
    server stream of 2D slices along z. ``view`` = ``'x'|'y'|'z'`` shows one cut plane face on
    (a 2D slice view). ``screenshot()`` returns a Future of PNG bytes, filled once the browser
    answers — after the current cell ends, since the kernel reads the browser's reply between
    cells (``screenshot(display=True)`` shows the image in the cell's output when it comes).
    """

    _model_name = Unicode("Volume3DModel").tag(sync=True)
    _view_name = Unicode("Volume3DView").tag(sync=True)
    _model_module = Unicode(MODULE_NAME).tag(sync=True)
    _view_module = Unicode(MODULE_NAME).tag(sync=True)
    _model_module_version = Unicode(MODULE_VERSION).tag(sync=True)
    _view_module_version = Unicode(MODULE_VERSION).tag(sync=True)

    # where the voxels are
    source_kind = Enum(["array", "stream"], "array", read_only=True).tag(sync=True)
    server_url = Unicode(help="stream sources: the address the browser uses (see browser_url)").tag(sync=True)
    token = Unicode().tag(sync=True)
    scan = Unicode(help="stream sources: scan key").tag(sync=True)
    stream = Unicode(help="stream sources: a stream of 2D slices along z").tag(sync=True)
    shape = List(Int(), read_only=True, help="full-resolution shape (z, y, x)").tag(sync=True)
    dtype = Unicode(read_only=True, help="dtype of the source").tag(sync=True)
    is_complex = Bool(False, read_only=True).tag(sync=True)
    data_range = List(CFloat(), read_only=True, help="[min, max] of the finite values shown (abs or phase for complex data)").tag(sync=True)
    lod_shape = List(Int(), read_only=True, help="shape of the level of detail drawn in 3D").tag(sync=True)
    lod_factors = List(Int(), read_only=True, help="block size (z, y, x) of the level of detail").tag(sync=True)
    max_size = Int(256, help="level of detail: at most this many voxels a side").tag(sync=True)
    max_bytes = Int(64 * 2**20, help="level of detail: at most this many bytes (2 a voxel)").tag(sync=True)

    # how it is drawn
    mode = Enum(list(MODES), "mip", help="mip: maximum intensity; iso: surface at `threshold`; composite: opacity ramp").tag(sync=True)
    threshold = Float(None, allow_none=True, help="isosurface value (None: the middle of the range)").tag(sync=True)
    colormap = Enum(list(COLORMAPS), "viridis").tag(sync=True)
    reverse = Bool(False).tag(sync=True)
    vmin = Float(None, allow_none=True, help="bottom of the colour range (None: data minimum)").tag(sync=True)
    vmax = Float(None, allow_none=True, help="top of the colour range (None: data maximum)").tag(sync=True)
    complex_mode = Enum(["abs", "phase"], "abs", help="what complex data shows").tag(sync=True)
    phase_support = CFloat(0.05, help="phase: voxels whose amplitude is below this fraction of the largest are not shown").tag(sync=True)
    opacity = CFloat(0.5, help="composite: opacity at vmax (per voxel of the LOD); mip: opacity of the projection").tag(sync=True)
    slice_x = Int(None, allow_none=True, help="cut plane at this x index (axis 2); None: hidden").tag(sync=True)
    slice_y = Int(None, allow_none=True, help="cut plane at this y index (axis 1); None: hidden").tag(sync=True)
    slice_z = Int(None, allow_none=True, help="cut plane at this z index (axis 0); None: hidden").tag(sync=True)
    view = Enum(list(VIEWS), "3d", help="'3d', or one cut plane face on ('x', 'y', 'z')").tag(sync=True)
    voxel_size = Tuple(CFloat(), CFloat(), CFloat(), default_value=(1.0, 1.0, 1.0), help="(z, y, x) size of a voxel in `units`").tag(sync=True)
    units = Unicode("px", help="unit of voxel_size, shown on the axes").tag(sync=True)
    axis_labels = Tuple(Unicode(), Unicode(), Unicode(), default_value=("z", "y", "x")).tag(sync=True)
    show_axes = Bool(True).tag(sync=True)
    height = Int(400, help="height of the canvas, px").tag(sync=True)

    def __init__(self, source=None, *, dataset: str | None = None, stream: str | None = None, depth: int | None = None,
                 client=None, lod_method: str = "mean", **kwargs):
        if isinstance(kwargs.get("voxel_size"), (int, float)):
            kwargs["voxel_size"] = (float(kwargs["voxel_size"]),) * 3
        if lod_method not in ("mean", "stride"):
            raise ValueError(f"lod_method: 'mean' (block means) or 'stride' (every n-th voxel), got {lod_method!r}")
        self._lod_method = lod_method
        self._src: _Sliceable | None = None
        self._lod_cache: dict[str, tuple[np.ndarray, tuple[float, float]]] = {}
        self._screenshots: dict[int, Future] = {}
        self._amax = 0.0  # largest amplitude of complex data (the phase support is relative to it)
        self._next_id = 1
        traits = self._open(source, dataset, stream, depth, client)
        for name in ("source_kind", "shape", "dtype", "is_complex"):  # read-only for users; known before validation
            self.set_trait(name, traits.pop(name))
        super().__init__(**traits, **kwargs)
        self.on_msg(self._on_view_msg)
        if self._src is not None:
            self._build_lod()
            self.observe(self._rebuild, names=["complex_mode", "max_size", "max_bytes", "phase_support"])

    # ------------------------------------------------------------------ sources

    def _open(self, source, dataset, stream, depth, client) -> dict:
        from .acquisition import Acquisition
        from .scans import Scan
        from .streams import Stream

        if source is None:
            raise ValueError("source: give a 3D numpy array, an HDF5 file (with dataset=...), an h5py Dataset, "
                             "or an Acquisition/Scan/Stream/scan key of a stream of 2D slices")
        if isinstance(source, (Acquisition, Scan, Stream)) or (isinstance(source, str) and dataset is None
                                                                and not os.path.exists(source)
                                                                and not source.lower().endswith(HDF5_SUFFIXES)):
            return self._open_stream(source, stream, depth, client)
        if isinstance(source, (str, os.PathLike)):
            if not os.path.exists(source):
                raise FileNotFoundError(f"source: no such file {os.fspath(source)!r}")
            source = _open_hdf5(source, dataset)
            what = f"{source.file.filename}:{source.name}"
        elif type(source).__module__.startswith("h5py") and hasattr(source, "shape") and hasattr(source, "dtype"):
            what = f"{source.file.filename}:{source.name}"
        elif isinstance(source, np.ndarray) or hasattr(source, "__array__"):
            source = np.asarray(source)
            what = "array"
        else:
            raise TypeError(f"source: Volume3D shows a 3D numpy array, an HDF5 file or dataset, or a server stream, "
                            f"not {type(source).__name__}")
        _check_array(tuple(source.shape), np.dtype(source.dtype), "source")
        self._src = _Sliceable(source, what)
        return dict(source_kind="array", shape=list(self._src.shape), dtype=str(self._src.dtype),
                    is_complex=self._src.dtype.kind == "c")

    def _open_stream(self, source, stream, depth, client) -> dict:
        from .acquisition import Acquisition
        from .widgets import _source

        expected = None
        if isinstance(source, Acquisition):
            expected = source.nb_frames
        client, scan, name = _source(source, stream or "", client, "Volume3D")
        if client is None:
            from .client import connect

            client = connect()
        s = client.scans.get(scan)
        if not name:
            name = "volume" if "volume" in s.streams else "frame"
        if name not in s.streams:
            raise KeyError(f"stream: scan {scan!r} has no stream {name!r}; it has {sorted(s.streams)}")
        st = s.streams[name]
        self._stream_obj = st
        shape = tuple(st.shape or ())
        if len(shape) != 2:
            raise ValueError(f"stream: {scan}/{name} items have shape {shape}; a volume stream has 2D slices along z")
        _check_array((1, *shape), np.dtype(st.dtype), "stream")
        length = len(st)
        if depth is None:
            depth = length if st.sealed or not expected else expected
        if depth is None or depth < 1:
            raise ValueError(f"depth: {scan}/{name} has no slices yet; give depth= (the number of slices to expect)")
        traits = dict(source_kind="stream", scan=scan, stream=name, shape=[int(depth), *shape], dtype=str(st.dtype),
                      is_complex=np.dtype(st.dtype).kind == "c", server_url=browser_url(client.url))
        if client._token:
            traits["token"] = client._token
        return traits

    # ------------------------------------------------------------------ level of detail

    def _real(self, a: np.ndarray, mode: str) -> np.ndarray:
        if np.iscomplexobj(a):
            return np.abs(a) if mode == "abs" else np.angle(a)
        return a

    def _build_lod(self) -> None:
        mode = self.complex_mode
        if mode not in self._lod_cache:
            self._lod_cache[mode] = self._compute_lod(mode)
        lod, rng = self._lod_cache[mode]
        f = lod_factors(tuple(self._src.shape), self.max_size, self.max_bytes)
        self.set_trait("lod_shape", list(lod.shape))
        self.set_trait("lod_factors", list(f))
        self.set_trait("data_range", [rng[0], rng[1]])

    def _rebuild(self, change) -> None:
        if change["name"] == "phase_support":
            self._lod_cache.pop("phase", None)
        elif change["name"] != "complex_mode":
            self._lod_cache = {}  # new size limits: every cached LOD is stale
        self._build_lod()
        self._send_lod()

    def _compute_lod(self, mode: str) -> tuple[np.ndarray, tuple[float, float]]:
        """The LOD (float32) and the finite [min, max] at full resolution, read in z-slabs.
        Phase: the angle of the block-mean complex value (no wrap-around artefacts), NaN where
        the block's amplitude is below ``phase_support`` × the largest amplitude."""
        src = self._src
        nz, ny, nx = src.shape
        f = lod_factors(src.shape, self.max_size, self.max_bytes)
        fz = f[0]
        plane_bytes = ny * nx * src.dtype.itemsize
        per_slab = max(1, SLAB_BYTES // max(1, plane_bytes * fz)) * fz  # whole blocks of fz planes
        phase = src.dtype.kind == "c" and mode == "phase"
        out = np.empty([math.ceil(n / k) for n, k in zip(src.shape, f)], np.complex64 if phase else np.float32)
        lo, hi, amax = math.inf, -math.inf, 0.0
        stride = self._lod_method == "stride"
        for z0 in range(0, nz, per_slab):
            z1 = min(nz, z0 + per_slab)
            slab = np.asarray(src.data[z0:z1:fz, ::f[1], ::f[2]]) if stride else src.slab(z0, z1)
            shown = slab if phase else self._real(slab, mode)
            block = shown if stride else block_mean(shown, f)
            out[z0 // fz: z0 // fz + block.shape[0]] = block
            values = np.abs(slab) if phase else shown
            if values.dtype.kind == "f":
                values = values[np.isfinite(values)]
            if values.size:
                lo, hi = min(lo, float(values.min())), max(hi, float(values.max()))
        if src.dtype.kind == "c":
            self._amax = hi if math.isfinite(hi) else 0.0
        if phase:
            amp = np.abs(out)
            out = np.angle(out).astype(np.float32)
            out[~(amp >= self.phase_support * self._amax)] = np.nan
            lo, hi = -math.pi, math.pi
        if not math.isfinite(lo):  # every voxel NaN
            lo, hi = 0.0, 1.0
        return out, (lo, hi)

    @property
    def lod(self) -> np.ndarray:
        """The level of detail the 3D view draws (float32, before normalisation), for array sources."""
        if self._src is None:
            raise TypeError("lod: a stream source's level of detail is built by the browser from the server")
        self._build_lod()
        return self._lod_cache[self.complex_mode][0]

    def lod_payload(self, preview: bool = False) -> tuple[dict, bytes]:
        """The comm message carrying the LOD: float16 values normalised to data_range, NaN → -1.
        ``preview``: the LOD block-averaged again to at most PREVIEW_SIZE a side (a first picture
        within a comm message of ≤ 0.5 MB; the full LOD follows)."""
        lod, (lo, hi) = self._lod_cache[self.complex_mode]
        if preview:
            with np.errstate(invalid="ignore"):
                lod = block_mean(lod, lod_factors(lod.shape, PREVIEW_SIZE))
        span = hi - lo if hi > lo else 1.0
        norm = ((lod - lo) / span).astype(np.float16)
        norm[np.isnan(norm)] = -1.0  # missing voxels: below any threshold, transparent
        content = {"type": "lod", "shape": list(lod.shape), "factors": self.lod_factors, "range": [lo, hi],
                   "complex_mode": self.complex_mode, "encoding": "float16-normalised", "preview": preview}
        return content, norm.tobytes()

    def slice(self, axis: int | str, index: int) -> np.ndarray:
        """Full-resolution slice ``index`` along ``axis`` (0/'z', 1/'y', 2/'x') as shown (abs/phase
        for complex data), float32 — what the cut planes draw."""
        a = {"z": 0, "y": 1, "x": 2}.get(axis, axis) if isinstance(axis, str) else axis
        if a not in (0, 1, 2):
            raise ValueError(f"axis: 0/'z', 1/'y' or 2/'x', got {axis!r}")
        n = self.shape[a]
        if not isinstance(index, (int, np.integer)) or not 0 <= index < n:
            raise IndexError(f"index: slice {index!r} is outside axis {'zyx'[a]} of size {n}")
        if self._src is None:
            return self._stream_slice(a, int(index))
        plane = self._src.plane(a, int(index))
        if plane.dtype.kind == "c" and self.complex_mode == "phase":
            out = np.angle(plane).astype(np.float32)
            out[~(np.abs(plane) >= self.phase_support * self._amax)] = np.nan  # outside the support
            return out
        return self._real(plane, self.complex_mode).astype(np.float32)

    def _stream_slice(self, axis: int, k: int) -> np.ndarray:
        """The same reads the view makes from the server (for checks and scripts)."""
        st = self._stream_obj
        if axis == 0:
            return self._real(st.get(k), self.complex_mode).astype(np.float32)
        _, ny, nx = self.shape
        roi = (k, 0, 1, nx) if axis == 1 else (0, k, ny, 1)
        planes = st.read(0, self.shape[0], roi=roi)  # (z, 1, x) or (z, y, 1)
        return self._real(planes[:, 0, :] if axis == 1 else planes[:, :, 0], self.complex_mode).astype(np.float32)

    # ------------------------------------------------------------------ messages

    def _send_lod(self) -> None:
        if max(self.lod_shape) > PREVIEW_SIZE:  # a large LOD: a small preview first, drawn at once
            content, payload = self.lod_payload(preview=True)
            self.send(content, [payload])
        content, payload = self.lod_payload()
        self.send(content, [payload])

    def _on_view_msg(self, _widget, content: dict, buffers: list) -> None:
        kind = content.get("type")
        if kind == "lod" and self._src is not None:
            self._send_lod()
        elif kind == "slice" and self._src is not None:
            axis, index = content.get("axis"), content.get("index")
            try:
                plane = self.slice(axis, index)
            except Exception as e:  # noqa: BLE001 — a bad request or an unreadable file: the view shows why
                self.send({"type": "slice", "axis": axis, "index": index, "error": f"slice {axis}/{index}: {e}"})
                return
            self.send({"type": "slice", "axis": axis, "index": index, "shape": list(plane.shape), "dtype": "float32",
                       "complex_mode": self.complex_mode}, [np.ascontiguousarray(plane).tobytes()])
        elif kind == "screenshot":
            fut = self._screenshots.pop(int(content.get("id", -1)), None)
            if fut is None or fut.done():
                return
            if content.get("error") or not buffers:
                fut.set_exception(RuntimeError(f"screenshot: the view could not draw it: {content.get('error')}"))
            else:
                fut.set_result(bytes(buffers[0]))

    def screenshot(self, display: bool = False, callback: Callable[[bytes], None] | None = None) -> Future:
        """Ask the view for a PNG of its canvas. Returns a Future of the PNG bytes, resolved when the
        browser answers (after the running cell ends: the kernel reads comm messages between cells).
        ``display=True`` puts an ``IPython.display.Image`` in this cell's output once it arrives."""
        fut: Future = Future()
        sid = self._next_id
        self._next_id += 1
        self._screenshots[sid] = fut
        handle = None
        if display:
            from IPython.display import display as show

            handle = show(None, display_id=True)

        def done(f: Future) -> None:
            if f.exception() is not None:
                return
            png = f.result()
            self.last_screenshot = png
            if handle is not None:
                from IPython.display import Image

                handle.update(Image(data=png, format="png"))
            if callback is not None:
                callback(png)

        fut.add_done_callback(done)
        self.send({"type": "screenshot", "id": sid})
        return fut

    last_screenshot: bytes | None = None

    # ------------------------------------------------------------------ validation

    def _check_slice(self, proposal, axis: int, name: str):
        v = proposal["value"]
        if v is None:
            return None
        n = self.shape[axis] if self.shape else 0
        if not 0 <= v < n:
            raise TraitError(f"{name} must be None (hidden) or an index in 0…{n - 1} (axis {'zyx'[axis]} has {n} voxels), got {v}")
        return v

    @validate("slice_x")
    def _v_slice_x(self, proposal):
        return self._check_slice(proposal, 2, "slice_x")

    @validate("slice_y")
    def _v_slice_y(self, proposal):
        return self._check_slice(proposal, 1, "slice_y")

    @validate("slice_z")
    def _v_slice_z(self, proposal):
        return self._check_slice(proposal, 0, "slice_z")

    @validate("opacity")
    def _v_opacity(self, proposal):
        v = proposal["value"]
        if not 0.0 <= v <= 1.0:
            raise TraitError(f"opacity must be in [0, 1], got {v}")
        return v

    @validate("phase_support")
    def _v_support(self, proposal):
        v = proposal["value"]
        if not 0.0 <= v <= 1.0:
            raise TraitError(f"phase_support must be in [0, 1] (a fraction of the largest amplitude), got {v}")
        return v

    @validate("voxel_size")
    def _v_voxel(self, proposal):
        v = proposal["value"]
        if not all(math.isfinite(s) and s > 0 for s in v):
            raise TraitError(f"voxel_size must be three positive sizes (z, y, x), got {v}")
        return v

    @validate("threshold", "vmin", "vmax")
    def _v_finite(self, proposal):
        v = proposal["value"]
        if v is not None and not math.isfinite(v):
            raise TraitError(f"{proposal['trait'].name} must be a finite number or None, got {v}")
        return v

    @validate("max_size")
    def _v_max_size(self, proposal):
        if proposal["value"] < 2:
            raise TraitError(f"max_size must be ≥ 2 voxels, got {proposal['value']}")
        return proposal["value"]

    @validate("max_bytes")
    def _v_max_bytes(self, proposal):
        if proposal["value"] < 16:
            raise TraitError(f"max_bytes must be ≥ 16 (2 bytes a voxel), got {proposal['value']}")
        return proposal["value"]

    @validate("height")
    def _v_height(self, proposal):
        if proposal["value"] < 64:
            raise TraitError(f"height must be ≥ 64 px, got {proposal['value']}")
        return proposal["value"]

    def __repr__(self) -> str:
        src = getattr(self, "_src", None)
        where = src.what if src is not None else f"{self.scan}/{self.stream}"
        return f"Volume3D({where}, shape={tuple(self.shape)}, dtype={self.dtype}, mode={self.mode!r})"
