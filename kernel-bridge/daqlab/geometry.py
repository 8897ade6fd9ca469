"""Detector geometry as pyFAI defines it: PONI files in, the dict the server takes out.

``load_poni(path)`` reads a ``.poni`` file as pyFAI writes it (versions 1, 2 and 2.1:
``key: value`` lines, ``#`` comments) and returns a :class:`Poni`; ``poni.to_dict()`` is
what ``processing={"poni": ...}`` and ``detector={"poni": ...}`` accept.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["Poni", "load_poni", "parse_poni"]

_KEYS = {
    "distance": "dist",
    "poni1": "poni1",
    "poni2": "poni2",
    "rot1": "rot1",
    "rot2": "rot2",
    "rot3": "rot3",
    "wavelength": "wavelength",
}


@dataclass
class Poni:
    """A pyFAI geometry: metres and radians; axis 1 = rows (slow), axis 2 = columns (fast)."""

    dist: float
    poni1: float
    poni2: float
    rot1: float = 0.0
    rot2: float = 0.0
    rot3: float = 0.0
    wavelength: float | None = None
    detector: str | None = None
    detector_config: dict = field(default_factory=dict)
    poni_version: float | None = None

    def to_dict(self) -> dict:
        """The geometry as the daqlab server takes it (``dist, poni1, poni2, rot1-3, wavelength``)."""
        d = {k: getattr(self, k) for k in ("dist", "poni1", "poni2", "rot1", "rot2", "rot3")}
        if self.wavelength is not None:
            d["wavelength"] = self.wavelength
        return d

    @property
    def energy_kev(self) -> float | None:
        return None if not self.wavelength else 12.398419843320026e-10 / self.wavelength

    def beam_center(self, pixel1: float, pixel2: float) -> tuple[float, float]:
        """Pixel (row, col) where the PONI falls (the beam centre when rot1 = rot2 = 0)."""
        return self.poni1 / pixel1 - 0.5, self.poni2 / pixel2 - 0.5

    def as_pyfai(self):
        """A pyFAI AzimuthalIntegrator with this geometry (needs pyFAI installed)."""
        from pyFAI.integrator.azimuthal import AzimuthalIntegrator

        cfg = self.detector_config or {}
        kw = {}
        if "pixel1" in cfg and "pixel2" in cfg:
            from pyFAI.detectors import Detector

            kw["detector"] = Detector(cfg["pixel1"], cfg["pixel2"], max_shape=cfg.get("max_shape"))
        return AzimuthalIntegrator(dist=self.dist, poni1=self.poni1, poni2=self.poni2, rot1=self.rot1, rot2=self.rot2,
                                   rot3=self.rot3, wavelength=self.wavelength, **kw)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in asdict(self).items() if v not in (None, {}))
        return f"Poni({fields})"


def parse_poni(text: str, source: str = "poni") -> Poni:
    """Parse the text of a .poni file; errors name the line and what is wrong."""
    values: dict = {}
    config: dict = {}
    detector = None
    version = None
    pixel: dict = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if ":" not in line:
            raise ValueError(f"{source}:{n}: expected 'key: value', got {raw.strip()!r}")
        key, value = (part.strip() for part in line.split(":", 1))
        lower = key.lower()
        if lower in _KEYS:
            try:
                values[_KEYS[lower]] = float(value)
            except ValueError:
                raise ValueError(f"{source}:{n}: {key} must be a number, got {value!r}") from None
        elif lower == "detector":
            detector = value
        elif lower == "detector_config":
            try:
                config = json.loads(value)
            except json.JSONDecodeError as e:
                raise ValueError(f"{source}:{n}: Detector_config is not valid JSON: {e}") from None
        elif lower == "poni_version":
            version = float(value)
        elif lower in ("pixelsize1", "pixelsize2"):
            pixel["pixel" + lower[-1]] = float(value)
    missing = [k for k in ("dist", "poni1", "poni2") if k not in values]
    if missing:
        raise ValueError(f"{source}: missing {', '.join(missing)} (keys Distance, Poni1, Poni2)")
    if not (values["dist"] > 0 and math.isfinite(values["dist"])):
        raise ValueError(f"{source}: Distance must be a positive number of metres, got {values['dist']}")
    if "wavelength" in values and not values["wavelength"] > 0:
        raise ValueError(f"{source}: Wavelength must be positive (metres), got {values['wavelength']}")
    return Poni(detector=detector, detector_config={**pixel, **config}, poni_version=version, **values)


def load_poni(path) -> Poni:
    """Read a .poni file as pyFAI writes it."""
    p = Path(path)
    return parse_poni(p.read_text(), source=str(p))
