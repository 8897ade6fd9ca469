#!/usr/bin/env bash
# Benchmarks (not part of the test suite): each prints a table beside a reference measured in the same run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh >/dev/null
echo "== acquisition into the store, per simulator (reference: memcpy)"
node bench/dist/acquire.js
echo "== lossless streaming to Python (reference: raw ws socket)"
.venv/bin/python bench/stream_to_python.py
echo "== Jungfrau correction + assembly (reference: memcpy)"
node bench/dist/jungfrau.js
echo "== azimuthal integration and sigma clipping (reference: pyFAI on the same image)"
.venv/bin/python bench/azint.py
echo "== whole pipelines, 1 and 2 receivers"
node bench/dist/pipelines.js
echo "== bitshuffle-LZ4 codec (reference: memcpy, h5py + hdf5plugin)"
node bench/dist/codec.js
echo "== saving to HDF5 (reference: h5py + hdf5plugin writing the same frames)"
node bench/dist/saving.js
echo "== HDF5 viewer: an EIGER 4M slice read and binned for the browser (reference: h5py reading the frame)"
.venv/bin/python bench/h5viewer.py
echo "== batch azint on a saved EIGER 4M scan (reference: the online rate of the same pipeline and saving)"
node bench/dist/batch.js
echo "== tomography: filtered back-projection, 1024² slices from 1800 projections (reference: numpy/scipy FBP of the same sinograms)"
.venv/bin/python bench/tomo.py
echo "== Volume3D in headless Chromium: time to first picture (reference: a 64³ volume), orbit frame rate (reference: empty scene)"
.venv/bin/python bench/volume.py
echo "== LiveImage in headless Chromium, proxy and direct (reference: raw WebSocket into the same page)"
.venv/bin/python bench/liveimage.py
echo "== soak: a day of scans in 10 minutes, RSS and store bytes over time (reference: the memory budget)"
.venv/bin/python bench/soak.py --minutes 10 --scans 600
