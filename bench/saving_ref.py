"""Reference for bench/saving.ts: h5py + hdf5plugin write the frames of one of our
saved scans again (same filter, one chunk per frame); prints MB/s of raw bytes."""
import sys
import time

import hdf5plugin
import h5py
import numpy as np

master, compression, out = sys.argv[1:4]
with h5py.File(master, "r") as f:
    frames = np.asarray(f["entry/instrument/detector/data"][:100])
filters = {"none": {}, "gzip": {"compression": "gzip", "compression_opts": 1},
           "bslz4": dict(hdf5plugin.Bitshuffle(nelems=0, cname="lz4"))}[compression]
t = time.perf_counter()
with h5py.File(out, "w") as f:
    d = f.create_dataset("data", shape=frames.shape, dtype=frames.dtype, chunks=(1, *frames.shape[1:]), **filters)
    for i, fr in enumerate(frames):
        d[i] = fr
dt = time.perf_counter() - t
print(round(frames.nbytes / dt / 1e6))
