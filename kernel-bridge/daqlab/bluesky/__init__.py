"""daqlab's detectors, axes, counters and MCAs as ophyd-async devices, for a bluesky RunEngine.

>>> from bluesky import RunEngine
>>> from bluesky.plans import count, scan
>>> from ophyd_async.plan_stubs import ensure_connected
>>> from daqlab import bluesky as dbs
>>> eiger = dbs.detector("sim-eiger-500k", name="eiger", save_dir="/data/bluesky")
>>> samy, diode = dbs.axis("samy", name="samy"), dbs.counter("diode", name="diode")
>>> RE = RunEngine()
>>> RE(ensure_connected(eiger, samy, diode))
>>> RE(scan([eiger, diode], samy, -1, 1, 11))

The devices are proxies of the server's (one registry: notebooks, panels and bluesky see the same motors).
The detector's frames never travel in events: its server acquisition saves them to HDF5 and the documents
point at the master file (stream_resource + stream_datum). Needs ``bluesky`` and ``ophyd-async`` 0.21.x
(not dependencies of daqlab: ``scripts/setup.sh`` makes ``.venv-bluesky`` with them).
"""

from __future__ import annotations

from ..devices import Axis as _AxisProxy, Counter as _CounterProxy, Mca as _McaProxy
from ._threads import client_of
from .detector import DaqlabDetector
from .movables import DaqlabAxis
from .readables import DaqlabCounter, DaqlabMca

__all__ = ["use", "detector", "axis", "counter", "mca", "DaqlabDetector", "DaqlabAxis", "DaqlabCounter", "DaqlabMca"]


def use(client) -> None:
    """The daqlab client the devices made without ``client=`` talk through (default: ``daqlab.connect()``)."""
    from ..scanning import use as _use

    _use(client)


def _proxy(cls, device: str, kind: str, client):
    c = client_of(client)
    proxy = cls(c, device)
    info = proxy.info()  # NotFoundError names an unknown device
    if info.get("kind") != kind:
        raise ValueError(f"{device} is a {info.get('kind')}, not a {kind}")
    return proxy


def axis(device: str, name: str = "", client=None) -> DaqlabAxis:
    """The server's axis ``device`` as a movable (``name`` defaults to ``device``)."""
    return DaqlabAxis(_proxy(_AxisProxy, device, "axis", client), name=name or device)


def counter(device: str, name: str = "", count_time: float = 0.1, client=None) -> DaqlabCounter:
    """The server's counter ``device`` as a readable counting ``count_time`` seconds at each trigger."""
    return DaqlabCounter(_proxy(_CounterProxy, device, "counter", client), count_time=count_time, name=name or device)


def mca(device: str, name: str = "", count_time: float = 0.1, client=None) -> DaqlabMca:
    """The server's MCA ``device``: spectrum, dead time and its ROIs (those it has now) at each trigger."""
    return DaqlabMca(_proxy(_McaProxy, device, "mca", client), count_time=count_time, name=name or device)


def detector(device: str, name: str = "", save_dir: str | None = None, expo_time: float = 0.01,
             client=None, **prepare) -> DaqlabDetector:
    """The server's detector ``device`` as an ophyd-async StandardDetector. Each bluesky run is one server
    acquisition saved under ``save_dir`` (absolute, inside the server's data roots); ``prepare`` sections
    (``detector``, ``processing``, ...) are passed to the server's prepare as they are."""
    c = client_of(client)
    if device not in c.detectors():
        raise ValueError(f"device: no detector {device!r} (the server has {', '.join(c.detectors())})")
    return DaqlabDetector(c.detector(device), save_dir=save_dir, expo_time=expo_time, prepare=prepare,
                          name=name or device)
