"""Tomography: daqlab's filtered back-projection against a vectorised NumPy/SciPy FBP.

The same data for both: sinograms of a few slices of the 3D Shepp–Logan phantom,
1024 columns, 1800 projections over 180° (both ends included), exact line integrals
(bench/dist/tomo-node.js builds them). We reconstruct `--slices` slices and give
slices/s for 1024² slices, extrapolated to a full 1024-slice volume:

  * daqlab on one thread (filter and back-projection timed apart), with the JS
    loop, the scalar WebAssembly kernel and the SIMD one (the default), and on
    one worker thread per CPU core, as the `tomo` step runs;
  * NumPy: FFT filtering with numpy.fft (Kak–Slaney ramp × the same window),
    then back-projection with linear interpolation, vectorised over the whole
    slice for each angle (fancy indexing + lerp), one thread; and the same with
    scipy.fft on all cores (workers=-1) for the filtering. NumPy back-projects
    every `--check-every`-th angle only and its time is scaled up to all angles
    (the work is linear in the number of angles): all 1800 take minutes.

Also printed: the largest difference between the two reconstructions of the
same angles, relative to the slice's range, so both compute the same thing.

Usage: .venv/bin/python bench/tomo.py [--cols 1024] [--projections 1800] [--slices N] [--check-every 10]
(needs `npm run build -w daq-server -w bench` first)
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import scipy.fft
from record import Recorder  # bench/record.py

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ramp_response(n: int, filt: str) -> np.ndarray:
    """Kak–Slaney band-limited ramp (spatial kernel → FFT) times the window, as daqlab defines them."""
    h = np.zeros(n)
    h[0] = 0.25
    k = np.arange(1, n // 2, 2)
    h[k] = h[n - k] = -1 / (np.pi * k) ** 2
    H = np.real(np.fft.fft(h))
    f = np.minimum(np.arange(n), n - np.arange(n)) / n
    if filt == "shepp-logan":
        H *= np.sinc(f)
    elif filt == "hann":
        H *= 0.5 * (1 + np.cos(2 * np.pi * f))
    return H


def filter_numpy(sino: np.ndarray, angles_deg: np.ndarray, filt: str, fft=np.fft) -> np.ndarray:
    """Filter and weight the rows of one slice's sinogram [angles, cols]; adds the zero column after the last."""
    m, cols = sino.shape
    n = 1 << int(np.ceil(np.log2(2 * cols)))
    q = np.real(fft.ifft(fft.fft(sino, n=n, axis=1) * ramp_response(n, filt), axis=1))[:, :cols]
    # trapezoid quadrature over the angles (ends half), total π
    d = np.deg2rad(angles_deg)
    w = np.empty(m)
    w[1:-1] = (d[2:] - d[:-2]) / 2
    w[0], w[-1] = (d[1] - d[0]) / 2, (d[-1] - d[-2]) / 2
    return np.concatenate([q * w[:, None], np.zeros((m, 1))], axis=1)


def backproject_numpy(q: np.ndarray, angles_deg: np.ndarray, center: float) -> np.ndarray:
    """Pixel-driven back-projection with linear interpolation, vectorised over the slice for each angle."""
    m, cols = q.shape[0], q.shape[1] - 1
    d = np.deg2rad(angles_deg)
    x = np.arange(cols) - (cols - 1) / 2
    out = np.zeros((cols, cols))
    for k in range(m):
        s = center + x[None, :] * np.cos(d[k]) + x[:, None] * np.sin(d[k])
        ok = (s >= 0) & (s <= cols - 1)
        i = np.clip(np.floor(s).astype(np.int64), 0, cols - 1)
        f = s - i
        row = q[k]
        out += np.where(ok, row[i] + f * (row[i + 1] - row[i]), 0)
    return out.astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cols", type=int, default=1024)
    ap.add_argument("--projections", type=int, default=1800)
    ap.add_argument("--slices", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--filter", default="shepp-logan")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--check-every", type=int, default=10)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = {"cols": a.cols, "projections": a.projections, "slices": a.slices, "threads": a.threads, "filter": a.filter,
               "sino": os.path.join(tmp, "sino.npy"), "recon": os.path.join(tmp, "recon.npy"), "repeat": a.repeat,
               "check_every": a.check_every, "check": os.path.join(tmp, "check.npy")}
        with open(os.path.join(tmp, "cfg.json"), "w") as f:
            json.dump(cfg, f)
        node = json.loads(subprocess.check_output(["node", os.path.join(ROOT, "bench/dist/tomo-node.js"), os.path.join(tmp, "cfg.json")]))
        sino = np.load(cfg["sino"])
        ours = np.load(cfg["check"])
    angles = np.arange(a.projections) * 180 / (a.projections - 1)
    center = (a.cols - 1) / 2
    best_f, best_b, ref = np.inf, np.inf, None
    sub = np.arange(0, a.projections, a.check_every)
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        filter_numpy(sino[0].astype(np.float64), angles, a.filter)
        t1 = time.perf_counter()
        q = filter_numpy(sino[0][sub].astype(np.float64), angles[sub], a.filter)
        t2 = time.perf_counter()
        ref = backproject_numpy(q, angles[sub], center)
        best_f, best_b = min(best_f, t1 - t0), min(best_b, (time.perf_counter() - t2) * a.projections / len(sub))
    # scipy.fft on all cores changes only the filtering
    scipy_fft = type("F", (), {"fft": staticmethod(lambda x, n, axis: scipy.fft.fft(x, n=n, axis=axis, workers=-1)),
                               "ifft": staticmethod(lambda x, axis: scipy.fft.ifft(x, axis=axis, workers=-1))})
    t0 = time.perf_counter()
    filter_numpy(sino[0].astype(np.float64), angles, a.filter, fft=scipy_fft)
    t_scipy = time.perf_counter() - t0 + best_b
    diff = np.abs(ours - ref).max() / (ref.max() - ref.min())
    js, scalar, wasm, thr = node["js"], node["scalar"], node["simd"], node["threads"]
    np_rate = 1 / (best_f + best_b)
    print(f"{a.slices} slices of {a.cols}² from {a.projections} projections ({a.filter}); extrapolated to a {a.cols}-slice volume")
    print(f"{'':34s} {'filter ms':>10s} {'backproj ms':>12s} {'slices/s':>9s} {'volume s':>9s}")
    for name, one in (("daqlab, 1 thread, JS loop", js), ("daqlab, 1 thread, wasm scalar", scalar), (f"daqlab, 1 thread, wasm {wasm['kernel']}", wasm)):
        print(f"{name:34s} {one['filter_ms']:10.1f} {one['backproject_ms']:12.1f} {one['slices_per_s']:9.3f} {a.cols / one['slices_per_s']:9.0f}")
    print(f"{'daqlab, ' + str(thr['threads']) + ' worker threads':34s} {'':10s} {'':12s} {thr['slices_per_s']:9.3f} {a.cols / thr['slices_per_s']:9.0f}")
    print(f"{'numpy FBP, 1 thread':34s} {best_f * 1e3:10.1f} {best_b * 1e3:12.1f} {np_rate:9.3f} {a.cols / np_rate:9.0f}")
    print(f"{'numpy FBP, scipy.fft all cores':34s} {(t_scipy - best_b) * 1e3:10.1f} {best_b * 1e3:12.1f} {1 / t_scipy:9.3f} {a.cols * t_scipy:9.0f}")
    print(f"daqlab / numpy, 1 thread: {wasm['slices_per_s'] / np_rate:.1f}x; {thr['threads']} threads / numpy: {thr['slices_per_s'] / np_rate:.1f}x; "
          f"first slice out after {thr['first_slice_ms']:.0f} ms; "
          f"max |daqlab − numpy| ({len(sub)} angles) = {diff:.1e} of the slice's range")
    rec = Recorder("tomo")
    np1 = "numpy FBP, 1 thread"
    for key, name, one in (("js", "daqlab, 1 thread, JS loop", js), ("wasm_scalar", "daqlab, 1 thread, wasm scalar", scalar),
                           ("wasm_simd", f"daqlab, 1 thread, wasm {wasm['kernel']}", wasm)):
        rec.figure(f"{key}.filter_ms", one["filter_ms"], "ms", False, label=f"{name}: filter", reference=(np1, best_f * 1e3))
        rec.figure(f"{key}.backproject_ms", one["backproject_ms"], "ms", False, label=f"{name}: back-projection",
                   reference=(np1, best_b * 1e3))
        rec.figure(f"{key}.slices_per_s", one["slices_per_s"], "slices/s", True, label=f"{name}: {a.cols}² slices/s",
                   reference=(np1, np_rate))
    rec.figure("workers.slices_per_s", thr["slices_per_s"], "slices/s", True,
               label=f"daqlab, {thr['threads']} worker threads: {a.cols}² slices/s", reference=(np1, np_rate))
    rec.figure("workers.slices_per_s_vs_scipy", thr["slices_per_s"], "slices/s", True,
               label=f"daqlab, {thr['threads']} worker threads, beside numpy FBP with scipy.fft on all cores",
               reference=("numpy FBP, scipy.fft all cores", 1 / t_scipy))
    rec.figure("workers.first_slice_ms", thr["first_slice_ms"], "ms", False, label="first slice out of the workers")
    if diff > 1e-3:
        sys.exit("the two reconstructions differ")


if __name__ == "__main__":
    main()
