"""Tomography helpers: the simulator's phantom in numpy, for comparing reconstructions.

The ``tomography`` scene of the simulators publishes its phantom (a list of
ellipsoids) and geometry in the scan info; these functions compute from that
table exactly what the server computes (daq-server/src/detectors/sim/tomo.ts):

>>> import daqlab.tomo as tomo
>>> truth = tomo.phantom(scan, slices=[32])        # μ per pixel on the volume grid
>>> p = tomo.projection(scan, 90.0)                # −log transmission of the 90° projection

Coordinates are detector pixels: z = row − (rows − 1)/2; voxel (iy, ix) of a
slice sits at x = ix − (n − 1)/2, y = iy − (n − 1)/2 with n = cols, centred
on the rotation axis; a phantom value v is an attenuation v · mu / R per pixel.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

__all__ = ["describe", "layout", "phantom", "projection", "image_keys"]


def describe(scan_or_info) -> dict:
    """The ``tomo`` block of a scan's description (or of ``scan.info``) plus its frame shape."""
    info = scan_or_info.info if hasattr(scan_or_info, "info") else scan_or_info
    desc = info.get("detector_description", info)
    scene = desc.get("scene_info", {})
    if "tomo" not in scene:
        raise ValueError("this scan was not acquired with the tomography scene")
    shape = desc.get("geometry", {}).get("shape") or info.get("detector", {}).get("image_shape")
    return {**scene["tomo"], "shape": [int(shape[0]), int(shape[1])]}


def layout(scan_or_info) -> dict:
    """Darks, flats and projections of the scan, with the angle of each projection (degrees)."""
    t = describe(scan_or_info)
    n = t["nb_projections"]
    return {
        "nb_darks": t["nb_darks"], "nb_flats": t["nb_flats"], "nb_projections": n,
        "angles": np.arange(n) * t["angle_range_deg"] / (n - 1),
        "center_of_rotation": t["center_of_rotation"],
    }


def image_keys(scan_or_info) -> np.ndarray:
    """NXtomo image_key of every frame of the scan (2 dark, 1 flat, 0 projection)."""
    t = describe(scan_or_info)
    return np.concatenate([np.full(t["nb_darks"], 2), np.full(t["nb_flats"], 1), np.zeros(t["nb_projections"], int)])


def _ellipsoids(t: dict):
    R = min(t["shape"]) / 2
    for e in t["ellipsoids"]:
        phi = np.deg2rad(e["phi"])
        yield e, R, np.cos(phi), np.sin(phi)


def phantom(scan_or_info, slices: Iterable[int] | None = None) -> np.ndarray:
    """μ (per pixel) at the voxel centres of the given slices (detector rows; default all): [nz, n, n]."""
    t = describe(scan_or_info)
    rows, cols = t["shape"]
    mu = t["mu"]
    zs = np.arange(rows) if slices is None else np.asarray(list(slices))
    h = (cols - 1) / 2
    y, x = np.meshgrid(np.arange(cols) - h, np.arange(cols) - h, indexing="ij")
    out = np.zeros((len(zs), cols, cols), np.float32)
    for e, R, cp, sp in _ellipsoids(t):
        xs, ys = x - e["x0"] * R, y - e["y0"] * R
        xr = (cp * xs + sp * ys) / (e["a"] * R)
        yr = (-sp * xs + cp * ys) / (e["b"] * R)
        q = xr * xr + yr * yr
        for j, row in enumerate(zs):
            dz = (row - (rows - 1) / 2 - e["z0"] * R) / (e["c"] * R)
            rest = 1 - dz * dz
            if rest > 0:
                out[j][q <= rest] += np.float32(e["value"] * mu / R)
    return out


def projection(scan_or_info, angle_deg: float, center: float | None = None) -> np.ndarray:
    """Exact line integrals ∫μ dt (absorbance, −log transmission) of the projection at ``angle_deg``: [rows, cols]."""
    t = describe(scan_or_info)
    rows, cols = t["shape"]
    cor = t["center_of_rotation"] if center is None else center
    th = np.deg2rad(angle_deg)
    ct, st = np.cos(th), np.sin(th)
    z = (np.arange(rows) - (rows - 1) / 2)[:, None]
    u = (np.arange(cols) - cor)[None, :]
    out = np.zeros((rows, cols))
    for e, R, cp, sp in _ellipsoids(t):
        a, b, c = e["a"] * R, e["b"] * R, e["c"] * R

        def m(v):  # world (sample frame) → unit sphere of the ellipsoid
            return np.array([(cp * v[0] + sp * v[1]) / a, (-sp * v[0] + cp * v[1]) / b, v[2] / c])

        A, B, D = m([ct, st, 0.0]), m([0.0, 0.0, 1.0]), m([-st, ct, 0.0])
        C = -m([e["x0"] * R, e["y0"] * R, e["z0"] * R])
        p = [u * A[i] + z * B[i] + C[i] for i in range(3)]
        dd = D @ D
        bb = p[0] * D[0] + p[1] * D[1] + p[2] * D[2]
        disc = bb * bb - dd * (p[0] ** 2 + p[1] ** 2 + p[2] ** 2 - 1)
        out += np.where(disc > 0, 2 * e["value"] * (t["mu"] / R) * np.sqrt(np.maximum(disc, 0)) / dd, 0)
    return out
