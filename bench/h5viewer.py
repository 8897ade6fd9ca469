"""The HDF5 viewer's server side: one slice of an EIGER 4M scan as the viewer asks for it.

Writes a few 2167 × 2070 uint32 frames, bitshuffle-LZ4 compressed one chunk per frame (as daqlab
saves them), then per frame measures
  reference: h5py reading the frame (`ds[k]`, decompression included) — the floor for any reader;
  viewer:    daqlab.h5server.reader.read_selection(ds, "k", max_pixels=1024²): the same read plus
             the 3×3 mean binning the browser receives,
and prints both (minimum and median over the frames) with the bytes each would send.

Usage: .venv/bin/python bench/h5viewer.py [--frames 8]
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

import h5py
import hdf5plugin
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "kernel-bridge"))
from daqlab.h5server.reader import read_selection  # noqa: E402
from record import Recorder  # noqa: E402  (bench/record.py)

SHAPE = (2167, 2070)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=8)
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "scan.h5")
        with h5py.File(path, "w") as f:
            ds = f.create_dataset("data", shape=(args.frames, *SHAPE), dtype=np.uint32, chunks=(1, *SHAPE),
                                  **hdf5plugin.Bitshuffle(nelems=0, cname="lz4"))
            for k in range(args.frames):
                ds[k] = rng.poisson(3.0 + k, SHAPE).astype(np.uint32)
        ref, viewer = [], []
        with h5py.File(path, "r", locking=False) as f:
            ds = f["data"]
            ds[0]  # warm-up: filter loaded, file cached
            for k in range(args.frames):
                t = time.perf_counter()
                raw = ds[k]
                ref.append(time.perf_counter() - t)
                t = time.perf_counter()
                header, binned = read_selection(ds, str(k), 1024 * 1024)
                viewer.append(time.perf_counter() - t)
        print(f"{'':34s} {'min ms':>8s} {'median ms':>10s} {'bytes sent':>12s}")
        print(f"{'reference: h5py ds[k]':34s} {min(ref) * 1e3:8.1f} {statistics.median(ref) * 1e3:10.1f} {raw.nbytes:12d}")
        print(f"{'viewer: read + bin to 1024²':34s} {min(viewer) * 1e3:8.1f} {statistics.median(viewer) * 1e3:10.1f} "
              f"{binned.nbytes:12d}  (binning {header['binning']}, {header['shape'][0]}×{header['shape'][1]} float32)")
        rec = Recorder("h5viewer")
        for stat, fn in (("min", min), ("median", statistics.median)):
            rec.figure(f"read_bin_1024.{stat}_ms", fn(viewer) * 1e3, "ms", False,
                       label=f"viewer: read + bin an EIGER 4M frame to 1024², {stat} of {args.frames}",
                       reference=(f"h5py ds[k], {stat}", fn(ref) * 1e3))


if __name__ == "__main__":
    main()
