"""The sparse file is in pyFAI's sparse format (issue 14, item 9): fabio's SparseImage reads
`<prefix>_sparse.h5` and densifies every frame; the picked pixels are the frame's, the background
matches the frame's within 1 %."""
from __future__ import annotations

import json

import h5py
import numpy as np
from fabio.sparseimage import SparseImage

DET = "sim-eiger-500k"


def test_fabio_densifies_every_frame_of_the_sparse_file(client, tmp_path):
    det_cfg = {"scene": "serial_crystallography", "seed": 3, "pool_size": 12}
    acq = client.detector(DET).prepare(
        acquisition={"nb_frames": 6, "expo_time": 0.005}, detector=det_cfg,
        processing={"pipeline": "smx", "npt": 300, "min_nb_peaks": 8},
        saving={"enabled": True, "base_path": str(tmp_path), "prefix": "fab", "compression": "none"}, scan={"name": "fab"})
    acq.start()
    acq.wait(timeout=120, progress=False)
    frames = acq.scan.streams["frame"][:]
    sparse = tmp_path / "fab_sparse.h5"
    with h5py.File(sparse, "r") as f:
        e = f["entry_0000"]
        g = f[e.attrs["pyFAI_sparse_frames"]]
        assert g.name == "/entry_0000/sparse_frames"
        assert e["sparsify/configuration"].attrs["NX_class"] in ("NXnote", b"NXnote")
        assert "cutoff_pick" in json.loads(e["sparsify/configuration/data"][()])["sparsify"]
        np.testing.assert_array_equal(g["errors"][()], g["background_std"][()])
        assert g["mask"].shape == g["normalization"].shape == frames.shape[1:]
        index, ptr = g["index"][()], g["frame_ptr"][()]
    img = SparseImage()
    img.read(str(sparse))
    assert img.nframes == len(frames) == 6
    valid = np.isfinite(img.mask) & (img.normalization > 0)
    assert valid.mean() > 0.5
    for k in range(img.nframes):
        dense = img.getframe(k).data
        assert dense.shape == frames.shape[1:]
        frame = frames[k].astype(np.float64)
        picked = index[ptr[k]:ptr[k + 1]]
        assert len(picked) > 0
        np.testing.assert_array_equal(dense.ravel()[picked], frame.ravel()[picked])
        bg = valid.copy().ravel()
        bg[picked] = False
        bg = bg.reshape(dense.shape)
        # fabio's (compiled) densify gives the dummy to the few pixels whose radius lies outside the bin centres
        off = bg & (dense == img.dummy)
        assert off.sum() < 1e-3 * bg.sum()
        bg &= ~off
        ratio = dense[bg].astype(np.float64).mean() / frame[bg].mean()
        assert abs(ratio - 1) < 0.01, (k, ratio)
