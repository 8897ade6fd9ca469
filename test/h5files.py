"""HDF5 files the viewer tests open: plain datasets of every rank, links of every kind, a
virtual dataset over two source files, a NeXus default plot, and a "huge" dataset (64 GB
logical, a few kB on disk: chunks never written read as the fill value)."""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

#: the huge dataset: frames × rows × cols of uint32, chunked one frame a chunk
HUGE_SHAPE = (1000, 4096, 4096)


def stack_frame(k: int, rows: int = 64, cols: int = 80) -> np.ndarray:
    """Frame k of /stack: a ramp shifted by 9·k columns plus 1000·k, so every frame and pixel
    differ, also once auto-ranged and coloured."""
    ramp = np.arange(rows * cols, dtype=np.uint16).reshape(rows, cols)
    return (np.roll(ramp, 9 * k, axis=1) + 1000 * k).astype(np.uint16)


def write_plain(path: Path) -> None:
    with h5py.File(path, "w") as f:
        f.attrs["creator"] = "daqlab tests"
        f.create_dataset("stack", data=np.stack([stack_frame(k) for k in range(6)]), chunks=(1, 64, 80),
                         compression="gzip").attrs.update({"units": "counts", "long_name": "a 3D stack"})
        f.create_dataset("cube4d", data=np.arange(2 * 3 * 8 * 10, dtype=np.float32).reshape(2, 3, 8, 10))
        f.create_dataset("line", data=np.linspace(0, 1, 50) ** 2).attrs["units"] = "mm"
        f.create_dataset("scalar", data=42.5)
        f.create_dataset("text", data="hello")
        f.create_dataset("long_text", data="x" * 100_000)
        f.create_dataset("labels", data=np.array([b"a", b"bb", b"ccc"]))
        f.create_dataset("big_ints", data=np.arange(10, dtype=np.int64) * 2**40)
        g = f.create_group("group")
        g.attrs["NX_class"] = "NXcollection"
        g.attrs["long_array"] = np.arange(1000)
        g.create_dataset("inner", data=np.arange(5, dtype=np.int16))
        f["soft"] = h5py.SoftLink("/group/inner")
        f["dangling"] = h5py.SoftLink("/nowhere")
        f["ext"] = h5py.ExternalLink("external.h5", "/target")
        f["ext_missing"] = h5py.ExternalLink("not_there.h5", "/target")
        huge = f.create_dataset("huge", shape=HUGE_SHAPE, dtype=np.uint32, chunks=(1, 4096, 4096),
                                compression="gzip", fillvalue=7)
        frame = np.zeros(HUGE_SHAPE[1:], np.uint32)
        frame[:2048, :] = 1000  # top half bright: survives binning as a clear edge
        huge[5] = frame
    with h5py.File(path.parent / "external.h5", "w") as f:
        f.create_dataset("target", data=np.arange(12, dtype=np.float64).reshape(3, 4) * 1.5)


def write_vds(path: Path, nb_per_file: int = 4, shape: tuple[int, int] = (32, 48)) -> np.ndarray:
    """/frames: a VDS over two source files (relative names), frames interleaved round robin.
    Returns the expected frames."""
    n = 2 * nb_per_file
    expected = np.stack([np.full(shape, k, np.float32) + np.arange(shape[1], dtype=np.float32) for k in range(n)])
    layout = h5py.VirtualLayout(shape=(n, *shape), dtype=np.float32)
    for r in range(2):
        name = f"src{r}.h5"
        with h5py.File(path.parent / name, "w") as f:
            f.create_dataset("data", data=expected[r::2])
        layout[r::2] = h5py.VirtualSource(name, "data", shape=(nb_per_file, *shape))
    with h5py.File(path, "w") as f:
        f.create_virtual_dataset("frames", layout, fillvalue=-1)
    return expected


def write_nexus(path: Path) -> None:
    """NXroot@default → entry, NXentry@default → plot (NXdata: signal I, axes q with units)."""
    with h5py.File(path, "w") as f:
        f.attrs.update({"NX_class": "NXroot", "default": "entry"})
        e = f.create_group("entry")
        e.attrs.update({"NX_class": "NXentry", "default": "plot"})
        e.create_dataset("title", data="test scan")
        p = e.create_group("plot")
        p.attrs.update({"NX_class": "NXdata", "signal": "I", "axes": [".", "q"], "q_indices": 1})
        p.create_dataset("I", data=np.arange(3 * 100, dtype=np.float32).reshape(3, 100)).attrs["interpretation"] = "spectrum"
        p.create_dataset("q", data=np.linspace(0.1, 10, 100)).attrs["units"] = "1/nm"
        p.create_dataset("I_errors", data=np.ones((3, 100), np.float32))
        # an NXentry without @default: the first NXdata is found
        e2 = f.create_group("entry2")
        e2.attrs["NX_class"] = "NXentry"
        d2 = e2.create_group("img")
        d2.attrs.update({"NX_class": "NXdata", "signal": "image"})
        d2.create_dataset("image", data=np.eye(16, dtype=np.uint8))
        # a loop of @default attributes must not hang the resolver
        loop = f.create_group("loop")
        loop.attrs["default"] = "/loop"


def write_all(root: Path) -> dict[str, np.ndarray]:
    root.mkdir(parents=True, exist_ok=True)
    write_plain(root / "plain.h5")
    expected = write_vds(root / "vds.h5")
    write_nexus(root / "nexus.nxs")
    (root / "not_hdf5.h5").write_text("this is not an HDF5 file")
    return {"vds": expected}
