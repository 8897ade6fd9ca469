"""Decoding of compressed array payloads (``compression`` of subscribe / stream.read).

``bslz4`` items are HDF5 filter-32008 chunks, so the decoder is HDF5's own
bitshuffle plugin (from hdf5plugin): each chunk is written as the single chunk
of an in-memory dataset and read back. Slower than the uncompressed path and
meant for links where bytes are dear; local clients are faster without it.
"""
from __future__ import annotations

import itertools

import numpy as np

from . import _protocol as P

_names = itertools.count()


def decode_items(codec: str, chunks: list, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    """``chunks`` (bytes-like, one per item) decoded into an array of shape ``(len(chunks), *shape)``."""
    if codec not in P.COMPRESSIONS or codec == "none":
        raise ValueError(f"daqlab.compression: unknown codec {codec!r} (known: {', '.join(P.COMPRESSIONS[1:])})")
    import h5py
    import hdf5plugin

    out = np.empty((len(chunks), *shape), dtype=dtype)
    if not chunks:
        return out
    with h5py.File(f"daqlab-decode-{next(_names)}.h5", "w", driver="core", backing_store=False) as f:
        ds = f.create_dataset("d", shape=shape, dtype=dtype, chunks=shape, **hdf5plugin.Bitshuffle(cname="lz4"))
        origin = (0,) * len(shape)
        for k, chunk in enumerate(chunks):
            ds.id.write_direct_chunk(origin, bytes(chunk))
            ds.read_direct(out, dest_sel=np.s_[k])
    return out
