"""A daqlab axis as an ophyd-async movable: ``set`` moves the server's axis and waits until it stops,
the readback is the server's position, read live at every ``read``/``locate``."""

from __future__ import annotations

from bluesky.protocols import Locatable, Location, Stoppable
from ophyd_async.core import AsyncStatus, StandardReadable, StandardReadableFormat, soft_signal_r_and_setter

from ..devices import Axis as _AxisProxy
from ._threads import call


class DaqlabAxis(StandardReadable, Locatable[float], Stoppable):
    """``readback`` (hinted, named as the device), ``setpoint``; ``velocity`` and ``unit`` as configuration."""

    def __init__(self, proxy: _AxisProxy, name: str = ""):
        self._proxy = proxy
        info = proxy.info()
        with self.add_children_as_readables(StandardReadableFormat.HINTED_SIGNAL):
            self.readback, self._set_readback = soft_signal_r_and_setter(
                float, initial_value=float(info["position"]), units=info.get("unit") or "")
        with self.add_children_as_readables(StandardReadableFormat.CONFIG_SIGNAL):
            self.velocity, self._set_velocity = soft_signal_r_and_setter(float, initial_value=float(info["velocity"]))
        self.setpoint, self._set_setpoint = soft_signal_r_and_setter(float, initial_value=float(info["position"]))
        super().__init__(name=name)

    def set_name(self, name: str, *args, **kwargs) -> None:
        super().set_name(name, *args, **kwargs)
        self.readback.set_name(name)  # the reading's key is the axis's name, as for ophyd motors

    async def _refresh(self) -> dict:
        info = await call(self._proxy.info)
        self._set_readback(float(info["position"]))
        self._set_velocity(float(info["velocity"]))
        return info

    async def read(self):
        await self._refresh()
        return await super().read()

    async def read_configuration(self):
        await self._refresh()
        return await super().read_configuration()

    @AsyncStatus.wrap
    async def set(self, value: float, timeout: float | None = None) -> None:
        """Move there; a target outside the limits raises ParameterError naming the axis, a fault FaultError."""
        self._set_setpoint(float(value))
        try:
            await call(self._proxy.move, float(value), True, False, timeout)
        finally:
            await self._refresh()

    async def locate(self) -> Location[float]:
        info = await self._refresh()
        if info["state"] != "MOVING":  # moved from elsewhere (a notebook, a panel): the target is where it is
            self._set_setpoint(float(info["position"]))
        return {"setpoint": await self.setpoint.get_value(), "readback": await self.readback.get_value()}

    async def stop(self, success: bool = True) -> None:
        await call(self._proxy.stop)
