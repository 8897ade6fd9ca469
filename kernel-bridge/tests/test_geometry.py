"""daqlab.geometry reads .poni files as pyFAI writes them, and agrees with pyFAI."""
from __future__ import annotations

import numpy as np
import pytest

import daqlab
from daqlab.geometry import load_poni, parse_poni

PONI21 = """# Nota: C-Order, 1 refers to the Y axis, 2 to the X axis
# Calibration done at Sat Nov 21 10:00:00 2026
poni_version: 2.1
Detector: Detector
Detector_config: {"pixel1": 7.5e-05, "pixel2": 7.5e-05, "max_shape": [514, 1030], "orientation": 3}
Distance: 0.1234
Poni1: 0.0201
Poni2: 0.0402
Rot1: 0.01
Rot2: -0.02
Rot3: 0.0
Wavelength: 1.0e-10
"""


def test_load_poni_reads_pyfai_v21(tmp_path):
    path = tmp_path / "cal.poni"
    path.write_text(PONI21)
    p = daqlab.geometry.load_poni(path)
    assert p.dist == 0.1234 and p.poni1 == 0.0201 and p.rot2 == -0.02 and p.wavelength == 1e-10
    assert p.detector_config["max_shape"] == [514, 1030]
    assert p.to_dict() == {"dist": 0.1234, "poni1": 0.0201, "poni2": 0.0402, "rot1": 0.01, "rot2": -0.02, "rot3": 0.0, "wavelength": 1e-10}
    assert p.energy_kev == pytest.approx(12.398, rel=1e-3)


def test_agrees_with_pyfai_reading_the_same_file(tmp_path):
    import pyFAI

    path = tmp_path / "cal.poni"
    path.write_text(PONI21)
    ref = pyFAI.load(str(path))
    ours = load_poni(path)
    for k in ("dist", "poni1", "poni2", "rot1", "rot2", "rot3", "wavelength"):
        assert getattr(ours, k) == pytest.approx(getattr(ref, k), rel=1e-12)
    ai = ours.as_pyfai()
    assert np.allclose(ai.twoThetaArray((514, 1030)), ref.twoThetaArray((514, 1030)))


def test_errors_name_the_line_and_the_problem():
    with pytest.raises(ValueError, match="3: Distance must be a number"):
        parse_poni("poni_version: 2\nDetector: x\nDistance: far\n")
    with pytest.raises(ValueError, match="missing poni1, poni2"):
        parse_poni("Distance: 0.1\n")
    with pytest.raises(ValueError, match="Distance must be a positive"):
        parse_poni("Distance: -1\nPoni1: 0\nPoni2: 0\n")
    with pytest.raises(ValueError, match="Detector_config is not valid JSON"):
        parse_poni("Distance: 0.1\nPoni1: 0\nPoni2: 0\nDetector_config: {oops\n")
