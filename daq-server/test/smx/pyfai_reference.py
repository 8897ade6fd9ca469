"""Reference run of pyFAI's OpenCL sparsify + peakfinder (OCL_PeakFinder) for test/smx/pyfai.test.ts.

Usage: python pyfai_reference.py WORKDIR
WORKDIR holds params.json, image.f32, norm.f32 and mask.u8 (raw little-endian arrays of the
image shape); this writes result.json and radius2d.f32 there. When pyopencl or an OpenCL
device is missing it writes {"skip": reason} (the test is then skipped).

pyFAI has no CPU implementation of these two algorithms: they only exist as OpenCL kernels
(resources/openCL/sparsify.cl, peakfinder.cl), which run on a CPU through PoCL. Note: the PoCL
bundled in the pyopencl wheel (LLVM 14) fails on CPUs its LLVM does not know ("unknown target
CPU 'generic'", e.g. AMD Zen 5); Debian's pocl-opencl-icd (3.1, distro kernel-library variants)
works there.
"""
import json
import os
import sys


def main(workdir):
    out_path = os.path.join(workdir, "result.json")

    def skip(reason):
        with open(out_path, "w") as f:
            json.dump({"skip": reason}, f)

    try:
        import numpy
        import pyopencl  # noqa: F401
        import pyFAI
        from pyFAI.opencl import ocl
        from pyFAI.opencl.peak_finder import OCL_PeakFinder
        from pyFAI.integrator.azimuthal import AzimuthalIntegrator
        from pyFAI.detectors import Detector
    except Exception as err:  # pragma: no cover - environment dependent
        return skip(f"pyFAI OpenCL stack not importable: {err}")
    if ocl is None:
        return skip("pyFAI found no OpenCL platform")

    with open(os.path.join(workdir, "params.json")) as f:
        p = json.load(f)
    rows, cols = p["shape"]
    image = numpy.fromfile(os.path.join(workdir, "image.f32"), dtype=numpy.float32).reshape(rows, cols)
    norm = numpy.fromfile(os.path.join(workdir, "norm.f32"), dtype=numpy.float32).reshape(rows, cols)
    mask = numpy.fromfile(os.path.join(workdir, "mask.u8"), dtype=numpy.uint8).reshape(rows, cols).astype(numpy.int8)

    det = Detector(p["pixel"], p["pixel"], max_shape=(rows, cols))
    ai = AzimuthalIntegrator(dist=p["dist"], poni1=p["poni1"], poni2=p["poni2"], detector=det, wavelength=1e-10)
    unit = "r_mm"
    integ = ai.setup_sparse_integrator((rows, cols), p["npt"], mask=mask, unit=unit, split="no", algo="CSR", scale=False)
    radius2d = ai.array_from_unit(typ="center", unit=unit, scale=False)
    try:
        ctx = ocl.create_context(devicetype=p.get("devicetype", "all"))
        pf = OCL_PeakFinder(integ.lut, image_size=rows * cols, unit=unit, bin_centers=integ.bin_centers,
                            radius=radius2d, mask=mask, ctx=ctx)
        res = pf.sparsify(image, solidangle=norm, error_model=p["error_model"], cutoff_clip=p["cutoff_clip"],
                          cycle=p["cycle"], noise=p["noise"], cutoff_pick=p["cutoff_pick"],
                          cutoff_peak=p["cutoff_peak"], patch_size=p["patch_size"], connected=p["connected"])
    except Exception as err:  # pragma: no cover - environment dependent
        return skip(f"OpenCL run failed: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")

    numpy.ascontiguousarray(pf.radius2d, dtype=numpy.float32).tofile(os.path.join(workdir, "radius2d.f32"))
    peaks = res.peaks
    result = {
        "pyfai_version": pyFAI.version,
        "device": str(ctx.devices[0].name),
        "radial": numpy.asarray(integ.bin_centers, dtype=numpy.float32).tolist(),
        "background_avg": numpy.asarray(res.background_avg, dtype=numpy.float32).tolist(),
        "background_std": numpy.asarray(res.background_std, dtype=numpy.float32).tolist(),
        "index": sorted(int(i) for i in res.index),
        "intensity": [float(x) for _, x in sorted(zip(res.index.tolist(), res.intensity.tolist()))],
        "peaks": [
            {"index": int(q["index"]), "y": float(q["pos0"]), "x": float(q["pos1"]),
             "intensity": float(q["intensity"]), "sigma": float(q["sigma"])}
            for q in peaks
        ],
    }
    with open(out_path, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1])
