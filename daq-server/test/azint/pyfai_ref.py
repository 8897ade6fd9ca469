"""pyFAI reference for daqlab's azimuthal-integration tests.

Usage: pyfai_ref.py JOB.json  -> prints one JSON object on stdout.

JOB = {
  "detector": {"pixel1": m, "pixel2": m, "shape": [rows, cols]},
  "poni": {"dist", "poni1", "poni2", "rot1", "rot2", "rot3", "wavelength"},
  "arrays": {name: {"file": path, "dtype": numpy dtype name}},   # raw little-endian, row-major, image shape
  "ops": [{"id": str, "kind": "integrate1d" | "integrate2d" | "sigma_clip" | "arrays" | "csr", ...}]
}

integrate1d / integrate2d / sigma_clip take pyFAI's keyword names: npt (npt_rad,
npt_azim for 2D), unit, method (list of 3), error_model, correctSolidAngle,
polarization_factor, radial_range, azimuth_range, dummy, delta_dummy,
normalization_factor, thres, max_iter, and array names for image, mask,
dark, flat. "arrays" writes per-pixel geometry arrays (float64) to
op["out"][name] paths. "csr" returns the CSR matrix of the sparse engine
used by an integrate1d call with the same arguments.
A fresh AzimuthalIntegrator is used for every op (no engine cache carried over).
"""
import json
import sys

import numpy

try:
    import pyFAI
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator
    from pyFAI.detectors import Detector
except ImportError as err:  # the test fails on this: it must not be skipped
    print(json.dumps({"error": f"pyFAI is not importable: {err}"}))
    sys.exit(3)


def lst(a):
    return None if a is None else numpy.asarray(a, dtype=numpy.float64).ravel().tolist()


def main(path):
    with open(path) as f:
        job = json.load(f)
    d = job["detector"]
    shape = tuple(d["shape"])
    arrays = {}
    for name, spec in job.get("arrays", {}).items():
        arrays[name] = numpy.fromfile(spec["file"], dtype=numpy.dtype(spec["dtype"]).newbyteorder("<")).reshape(shape)

    def make_ai():
        det = Detector(d["pixel1"], d["pixel2"], max_shape=shape)
        p = job["poni"]
        return AzimuthalIntegrator(dist=p["dist"], poni1=p["poni1"], poni2=p["poni2"],
                                   rot1=p["rot1"], rot2=p["rot2"], rot3=p["rot3"],
                                   wavelength=p.get("wavelength"), detector=det)

    def kwargs_of(op, keys):
        kw = {}
        for k in keys:
            if k in op and op[k] is not None:
                v = op[k]
                if k in ("mask", "dark", "flat"):
                    v = arrays[v]
                elif k == "method":
                    v = tuple(v)
                elif k in ("radial_range", "azimuth_range"):
                    v = tuple(v)
                kw[k] = v
        return kw

    common = ["unit", "method", "error_model", "correctSolidAngle", "polarization_factor", "radial_range",
              "azimuth_range", "dummy", "delta_dummy", "normalization_factor", "mask", "dark", "flat"]
    results = {}
    for op in job["ops"]:
        ai = make_ai()
        kind = op["kind"]
        if kind == "integrate1d":
            r = ai.integrate1d(arrays[op["image"]], op["npt"], **kwargs_of(op, common))
            results[op["id"]] = {
                "radial": lst(r.radial), "intensity": lst(r.intensity), "sigma": lst(r.sigma),
                "std": lst(r.std), "sem": lst(r.sem), "count": lst(r.count), "sum_signal": lst(r.sum_signal),
                "sum_normalization": lst(r.sum_normalization), "sum_variance": lst(r.sum_variance),
                "sum_normalization2": lst(r.sum_normalization2),
            }
        elif kind == "integrate2d":
            r = ai.integrate2d_ng(arrays[op["image"]], op["npt_rad"], op["npt_azim"], **kwargs_of(op, common))
            results[op["id"]] = {
                "radial": lst(r.radial), "azimuthal": lst(r.azimuthal), "intensity": lst(r.intensity),
                "sigma": lst(r.sigma), "count": lst(r.count), "sum_signal": lst(r.sum_signal),
                "sum_normalization": lst(r.sum_normalization),
            }
        elif kind == "sigma_clip":
            keys = [k for k in common if k not in ("correctSolidAngle",)] + ["thres", "max_iter"]
            kw = kwargs_of(op, keys)
            if "correctSolidAngle" in op:
                kw["correctSolidAngle"] = op["correctSolidAngle"]
            r = ai.sigma_clip_ng(arrays[op["image"]], op["npt"], **kw)
            results[op["id"]] = {
                "radial": lst(r.radial), "intensity": lst(r.intensity), "sigma": lst(r.sigma),
                "std": lst(r.std), "count": lst(r.count), "sum_signal": lst(r.sum_signal),
                "sum_normalization": lst(r.sum_normalization),
            }
        elif kind == "arrays":
            out = {}
            for name, dst in op["out"].items():
                if name == "solid_angle":
                    a = ai.solidAngleArray(shape)
                elif name.startswith("polarization"):
                    a = ai.polarization(shape, float(op["polarization_factor"]))
                elif name.startswith("center:"):
                    a = ai.center_array(shape, unit=name.split(":", 1)[1], scale=False)
                elif name.startswith("delta:"):
                    a = ai.delta_array(shape, unit=name.split(":", 1)[1], scale=False)
                else:
                    raise ValueError(name)
                numpy.ascontiguousarray(a, dtype=numpy.float64).tofile(dst)
                out[name] = dst
            results[op["id"]] = out
        elif kind == "csr":
            ai.integrate1d(arrays[op["image"]], op["npt"], **kwargs_of(op, common))
            engine = None
            for m, e in ai.engines.items():
                if e.engine is not None and hasattr(e.engine, "indptr"):
                    engine = e.engine
            data, indices, indptr = engine.data, engine.indices, engine.indptr
            base = op["out"]
            numpy.asarray(data, numpy.float32).tofile(base + ".data")
            numpy.asarray(indices, numpy.int32).tofile(base + ".indices")
            numpy.asarray(indptr, numpy.int32).tofile(base + ".indptr")
            results[op["id"]] = {"nnz": int(len(indices)), "bins": int(len(indptr) - 1),
                                 "pos0_min": float(engine.pos0_min), "pos0_max": float(engine.pos0_max)}
        else:
            raise ValueError(f"unknown op kind {kind}")
    print(json.dumps({"pyfai_version": pyFAI.version, "results": results}))


if __name__ == "__main__":
    main(sys.argv[1])
