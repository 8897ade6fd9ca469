"""A detector of the server: its description, state, schema, calibration; ``prepare``."""

from __future__ import annotations

from math import prod
from typing import Any

import numpy as np

from . import _protocol as P
from ._arrow import decode
from .errors import public_api

__all__ = ["Detector"]


@public_api
class Detector:
    """One detector. Get it with ``client.detector(name)``."""

    def __init__(self, client, name: str, info: dict | None = None):
        self._client = client
        self.name = name
        self._info = info

    @property
    def info(self) -> dict:
        """DetectorInfo (model, shape, dtype, pixel size, trigger modes …), fetched once."""
        if self._info is None:
            self._info = self._client._request(P.OP_DETECTOR_INFO, {"detector": self.name})
        return self._info

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.info["shape"])

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.info["dtype"])

    def state_info(self) -> dict:
        """``{detector, state, uuid, reason}`` from the server, now."""
        return self._client._request(P.OP_DETECTOR_STATE, {"detector": self.name})

    def status(self) -> dict:
        """The hardware's live state, asked of the detector now: for a DECTRIS detector ``state``,
        ``temperature``, ``humidity``, ``high_voltage``, ``stream_dropped``; only ``detector`` for simulators."""
        return self._client._request(P.OP_DETECTOR_STATUS, {"detector": self.name})

    @property
    def state(self) -> str:
        """IDLE, PREPARED, RUNNING, STOPPED or FAULT (asked of the server on every access)."""
        return self.state_info()["state"]

    def acquisition(self):
        """The detector's current (or last) acquisition, or None."""
        from .acquisition import Acquisition

        uuid = self.state_info().get("uuid")
        if not uuid:
            return None
        return Acquisition(self._client, self._client._request(P.OP_ACQ_STATUS, {"uuid": uuid}), detector=self)

    def schema(self) -> dict:
        """JSON schema of ``prepare``'s parameters for this detector (with defaults)."""
        return self._client._request(P.OP_SCHEMA_GET, {"detector": self.name})

    def pipelines(self) -> dict:
        """The processing pipelines and steps this server offers: ``{"pipelines": [{name,
        description, ordered, steps, available}], "steps": [{name, description}]}``."""
        return self._client._request(P.OP_PIPELINES_LIST, {"detector": self.name})

    def pipeline_schema(self, name: str) -> dict:
        """JSON schema of ``processing={"pipeline": name, ...}``, with every default."""
        return self._client._request(P.OP_PIPELINE_SCHEMA, {"detector": self.name, "pipeline": name})

    def calibration(self, **config: Any) -> dict[str, np.ndarray]:
        """Calibration maps (e.g. Jungfrau pedestals and gains) for the ``detector``
        section ``config``: ``{name: array}``."""
        result, data = self._client._request(
            P.OP_DETECTOR_CALIBRATION, {"detector": self.name, "config": config},
            collect=True, timeout=max(self._client.timeout, 60.0))
        maps = list(result.get("maps") or [])
        data = sorted(data, key=lambda hb: hb[0].get("msg", 0))
        out: dict[str, np.ndarray] = {}
        for i, (header, buf) in enumerate(data):
            batch = decode(buf)
            spec = maps[i] if i < len(maps) else {"name": header.get("stream") or f"map{i}"}
            arr = batch.data
            shape = tuple(spec.get("shape") or ())
            if shape and arr.size == prod(shape):
                arr = arr.reshape(shape)
            elif arr.shape[0] == 1:
                arr = arr[0]
            if spec.get("dtype") and arr.dtype != np.dtype(spec["dtype"]):
                arr = arr.astype(spec["dtype"])
            out[spec.get("name") or header.get("stream") or f"map{i}"] = arr
        return out

    def prepare(self, acquisition: dict | None = None, detector: dict | None = None,
                processing: dict | None = None, saving: dict | None = None,
                scan: dict | None = None, *, force: bool = False, workflow: dict | str | None = None):
        """Validate and configure an acquisition; returns an :class:`Acquisition` in PREPARED.

        Each section is a dict (see ``schema()``); sections left out take the
        server's defaults. Every wrong field is reported at once by ``ParameterError``.
        Replacing an acquisition another client prepared (not started yet) raises
        ``StateError`` naming its owner, unless ``force=True`` (the server logs it).
        ``workflow``: an ewoks graph run on the saved master (:mod:`daqlab.workflows`).
        """
        from .acquisition import Acquisition

        sections = dict(zip(P.PREPARE_SECTIONS, (acquisition, detector, processing, saving, scan)))
        params = {k: v for k, v in sections.items() if v is not None}
        request = {"detector": self.name, "params": params, **({"force": True} if force else {}),
                   **({"workflow": workflow} if workflow is not None else {})}
        result = self._client._request(P.OP_ACQ_PREPARE, request,
                                       timeout=max(self._client.timeout, 30.0))
        return Acquisition(self._client, result, detector=self)

    def reset(self) -> str:
        """Back to IDLE (after FAULT or to drop a prepared acquisition); returns the state."""
        return self._client._request(P.OP_ACQ_RESET, {"detector": self.name}).get("state")

    def __repr__(self) -> str:
        info = self._info or {}
        desc = f"{info.get('model', '')} {info.get('dtype', '')}{info.get('shape', '')}".strip()
        return f"<daqlab.Detector {self.name}{': ' + desc if desc else ''}>"
