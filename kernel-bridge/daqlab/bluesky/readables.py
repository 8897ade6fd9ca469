"""daqlab counters and MCAs as ophyd-async readables. The server counts a counter only inside a scan, so
``trigger`` runs a one-point ``ct`` of ``count_time`` seconds on the server and keeps its values; ``read``
returns them (the hinted value is named as the device, as ophyd counters are)."""

from __future__ import annotations

import threading

import numpy as np
from bluesky.protocols import Triggerable
from ophyd_async.core import (
    Array1D,
    AsyncStatus,
    StandardReadable,
    StandardReadableFormat,
    soft_signal_r_and_setter,
    soft_signal_rw,
)

from ..devices import Device as _DeviceProxy
from ..scanning import ct
from ._threads import call

# The server runs one scan at a time: counters triggered together (diode and i0 at one point) count in turn.
_COUNTING = threading.Lock()


class _Counted(StandardReadable, Triggerable):
    def __init__(self, proxy: _DeviceProxy, count_time: float, name: str):
        self._proxy = proxy
        with self.add_children_as_readables(StandardReadableFormat.CONFIG_SIGNAL):
            self.count_time = soft_signal_rw(float, initial_value=float(count_time), units="s")
        super().__init__(name=name)

    def _count(self, seconds: float) -> dict[str, np.ndarray]:
        with _COUNTING:
            scan = ct(seconds, self._proxy.name, client=self._proxy._client)
        return {k: v[0] for k, v in scan.get_data().items()}

    @AsyncStatus.wrap
    async def trigger(self) -> None:
        values = await call(self._count, await self.count_time.get_value())
        self._store(values)

    def _store(self, values: dict[str, np.ndarray]) -> None:
        raise NotImplementedError


class DaqlabCounter(_Counted):
    """A 0D counter (``i0``, ``diode``): ``value`` (hinted, named as the device), ``count_time`` (configuration)."""

    def __init__(self, proxy: _DeviceProxy, count_time: float = 0.1, name: str = ""):
        unit = proxy.info().get("unit") or ""
        with self.add_children_as_readables(StandardReadableFormat.HINTED_SIGNAL):
            self.value, self._set_value = soft_signal_r_and_setter(float, units=unit)
        super().__init__(proxy, count_time, name)

    def set_name(self, name: str, *args, **kwargs) -> None:
        super().set_name(name, *args, **kwargs)
        self.value.set_name(name)

    def _store(self, values):
        self._set_value(float(values[self._proxy.name]))


class DaqlabMca(_Counted):
    """An MCA: ``spectrum`` (its channels), ``deadtime`` and one hinted signal per ROI the MCA had when made."""

    def __init__(self, proxy: _DeviceProxy, count_time: float = 0.1, name: str = ""):
        info = proxy.info()
        self._rois = [r["name"] for r in info.get("rois", [])]
        with self.add_children_as_readables():
            self.spectrum, self._set_spectrum = soft_signal_r_and_setter(Array1D[np.float64], units="counts")
            self.deadtime, self._set_deadtime = soft_signal_r_and_setter(float)
        self._set_roi = {}
        with self.add_children_as_readables(StandardReadableFormat.HINTED_SIGNAL):
            for roi in self._rois:
                sig, self._set_roi[roi] = soft_signal_r_and_setter(float, units="counts")
                setattr(self, f"roi_{roi}", sig)
        super().__init__(proxy, count_time, name)

    def _store(self, values):
        n = self._proxy.name
        self._set_spectrum(np.asarray(values[f"{n}:spectrum"], dtype=np.float64))
        self._set_deadtime(float(values[f"{n}:deadtime"]))
        for roi, setter in self._set_roi.items():
            setter(float(values[f"{n}:{roi}"]))
