"""Proxies of the server's devices: axes (motors), counters and MCAs.

>>> samy = client.axis("samy")
>>> samy.position, samy.state           # live from the server
>>> samy.move(1.2)                      # waits until it stops; wait=False returns at once
>>> samy.limits = (-5, 5)
>>> mca = client.mca("mca"); mca.rois.add("Fe", 6300, 6500)

The devices live in the server (one registry): every notebook, panel and scan sees the same ones.
"""

from __future__ import annotations

import time
from typing import Any, Iterator

from . import _protocol as P
from .errors import FaultError, TimeoutError

__all__ = ["Device", "Axis", "Counter", "Mca", "MeasurementGroup", "device_proxy"]


class Device:
    """A device of the server's registry, by name."""

    kind = "device"

    def __init__(self, client, name: str):
        self._client = client
        self.name = name

    def info(self) -> dict:
        """The device's description as the server has it now."""
        return self._client.call(P.OP_DEVICE_INFO, device=self.name)

    def __repr__(self) -> str:
        return f"<daqlab.{type(self).__name__} {self.name}>"


class Axis(Device):
    """A motor. ``position``, ``state`` (READY, MOVING, FAULT, LIMIT) and settings are read live."""

    kind = "axis"

    @property
    def position(self) -> float:
        return float(self.info()["position"])

    @property
    def encoder(self) -> float:
        return float(self.info()["encoder"])

    @property
    def state(self) -> str:
        return self.info()["state"]

    @property
    def unit(self) -> str:
        return self.info()["unit"]

    def _setting(name: str, doc: str):  # noqa: N805 - a property factory
        def get(self):
            v = self.info()[name]
            return tuple(v) if isinstance(v, list) else v

        def set_(self, value):
            self.configure(**{name: list(value) if isinstance(value, tuple) else value})

        return property(get, set_, doc=doc)

    limits = _setting("limits", "software limits (low, high): moves outside are refused")
    velocity = _setting("velocity", "units per second")
    acceleration = _setting("acceleration", "units per second²")
    backlash = _setting("backlash", "overshoot of moves in the negative direction")
    del _setting

    def configure(self, **settings) -> dict:
        """Change ``limits``, ``velocity``, ``acceleration``, ``backlash`` (and, simulated axes only,
        ``fault_at``: the position where the axis faults)."""
        return self._client.call(P.OP_AXIS_CONFIGURE, axis=self.name, **settings)

    def move(self, position: float, wait: bool = True, relative: bool = False, timeout: float | None = None) -> "Axis":
        """Move to ``position`` (``relative``: by it). A target outside the limits raises
        ParameterError naming the axis. With ``wait``, returns once the axis stopped and raises
        FaultError if it ended in FAULT or LIMIT."""
        self._client.call(P.OP_AXIS_MOVE, axis=self.name, position=float(position), relative=relative)
        if wait:
            self.wait_move(timeout)
        return self

    def wait_move(self, timeout: float | None = None) -> dict:
        """Wait until the axis stops; FaultError when it stopped in FAULT or LIMIT."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = 10.0 if deadline is None else max(0.0, min(10.0, deadline - time.monotonic()))
            info = self._client.call(P.OP_AXIS_WAIT, {"axis": self.name, "timeout": left}, timeout=left + 10)
            if info["state"] != "MOVING":
                break
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"{self.name} still MOVING after {timeout} s (at {info['position']})")
        if info["state"] in ("FAULT", "LIMIT"):
            raise FaultError(f"{self.name} stopped in {info['state']}: {info['reason']}")
        return info

    def stop(self) -> dict:
        return self._client.call(P.OP_AXIS_STOP, axis=self.name)

    def reset(self) -> dict:
        """Clear FAULT or LIMIT."""
        return self._client.call(P.OP_AXIS_RESET, axis=self.name)

    def sync(self) -> "Axis":
        """Re-read the axis from its controller (the proxy keeps no cache: nothing to do)."""
        return self

    def __repr__(self) -> str:
        try:
            i = self.info()
            return f"<daqlab.Axis {self.name} {i['position']:.6g} {i['unit']} {i['state']}>"
        except Exception:  # noqa: BLE001 - a repr must not raise
            return f"<daqlab.Axis {self.name}>"


class Counter(Device):
    """A 0D counter (``i0``, ``diode``): counted by scans (``ct(0.1, diode)``)."""

    kind = "counter"


class _Rois:
    """An MCA's energy ROIs: ``add(name, start_eV, stop_eV)``, ``remove(name)``, ``clear()``; iterable."""

    def __init__(self, mca: "Mca"):
        self._mca = mca

    def add(self, name: str, start: float, stop: float) -> dict:
        return self._mca._client.call(P.OP_MCA_ADD_ROI, mca=self._mca.name, name=name, start=start, stop=stop)

    def remove(self, name: str) -> dict:
        return self._mca._client.call(P.OP_MCA_REMOVE_ROI, mca=self._mca.name, name=name)

    def clear(self) -> dict:
        return self._mca._client.call(P.OP_MCA_CLEAR_ROIS, mca=self._mca.name)

    def _list(self) -> list[dict]:
        return self._mca.info()["rois"]

    def __iter__(self) -> Iterator[dict]:
        return iter(self._list())

    def __len__(self) -> int:
        return len(self._list())

    def __getitem__(self, name: str) -> dict:
        for r in self._list():
            if r["name"] == name:
                return r
        raise KeyError(name)

    def __repr__(self) -> str:
        return "ROIs(" + ", ".join(f"{r['name']}: {r['start']}-{r['stop']} eV" for r in self._list()) + ")"


class Mca(Device):
    """A multichannel analyser: ``channels``, ``calibration`` (eV), ``rois``, ``energy`` axis."""

    kind = "mca"

    @property
    def rois(self) -> _Rois:
        return _Rois(self)

    @property
    def calibration(self) -> dict:
        return self.info()["calibration"]

    @property
    def energy(self):
        """Energy (eV) of every channel, from the calibration."""
        import numpy as np

        i = self.info()
        c = np.arange(i["channels"], dtype=float)
        cal = i["calibration"]
        return cal["offset"] + cal["gain"] * c + cal["quadratic"] * c * c


class MeasurementGroup:
    """A named set of counters, as BLISS's measurement groups: pass it to a scan instead of counters."""

    def __init__(self, name: str, counters: list[Any]):
        self.name = name
        self.counters = list(counters)

    def names(self) -> list[str]:
        return [c if isinstance(c, str) else c.name for c in self.counters]

    def __repr__(self) -> str:
        return f"<daqlab.MeasurementGroup {self.name}: {', '.join(self.names())}>"


_KINDS = {"axis": Axis, "counter": Counter, "mca": Mca}


def device_proxy(client, name: str, kind: str | None = None) -> Device:
    """The proxy of device ``name`` (NotFoundError listing the known ones of that kind)."""
    info = client.call(P.OP_DEVICE_INFO, device=name)
    if kind is not None and info["kind"] != kind:
        known = [d["name"] for d in client.call(P.OP_DEVICES_LIST)["devices"] if d["kind"] == kind]
        from .errors import NotFoundError

        raise NotFoundError(f"{name!r} is a {info['kind']}, not a {kind}; {kind}s: {', '.join(known)}")
    return _KINDS[info["kind"]](client, name)
