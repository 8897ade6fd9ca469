"""BLISS-style step scans, run by the daqlab server on its devices.

>>> from daqlab.scanning import ascan, dscan, amesh, ct, umv, wm
>>> samy, diode, mca = c.axis("samy"), c.counter("diode"), c.mca("mca")
>>> s = ascan(samy, 0, 1, 10, 0.1, diode, mca)     # 11 points, 0.1 s each; waits, then returns the scan
>>> s.get_data()["diode"], s.cen("mca:Fe"), s.fwhm("mca:Fe")
>>> s.goto_cen("mca:Fe")                            # move samy to the centre of the peak
>>> dscan(samy, -0.5, 0.5, 10, 0.1)                # relative; samy returns to where it was
>>> amesh(samx, -1, 1, 20, samy, -1, 1, 20, 0.01, mca, backnforth=True)

Signatures and semantics follow BLISS: ``intervals`` + 1 points, relative scans go back to the
start, counters given one by one or as a :class:`MeasurementGroup`; none given: every counter and
MCA of the server. Each scan is numbered and every channel (positions, counters, the MCA spectrum,
its ROIs and dead time, time) is a stream of one scan in the server's store (``s.scan``).
Continuous scans: :func:`fscan` and :func:`fmesh` (a :class:`FlyScan`: encoder positions at each
trigger, 10 kHz ``fast_counters`` joined by trigger index).
Keywords of every scan: ``wait`` (default True), ``timeout``, ``save_dir`` (saved there in BLISS's
layout as ``scan_<n>.h5``), ``name``, ``session``, ``sample``,
``proposal``, ``client``, ``workflow`` (an ewoks graph run on the saved scan, see
:mod:`daqlab.workflows`). Ctrl-C while waiting aborts the scan (the axes stop).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from . import _protocol as P
from .devices import Axis, Device, MeasurementGroup
from .errors import FaultError, TimeoutError

__all__ = [
    "ct", "ascan", "dscan", "a2scan", "d2scan", "amesh", "dmesh", "lookupscan", "timescan", "loopscan",
    "fscan", "fmesh", "FlyScan", "StepScan", "use", "umv", "mv", "umvr", "mvr", "wm", "last_scan", "cen", "com", "peak", "fwhm", "goto_cen",
]

_default_client = None
_last: "StepScan | None" = None
_SCAN_KEYS = ("name", "session", "sample", "proposal", "save_dir", "workflow")
_FLY_KEYS = ("fast_counters", "fast_rate", "processing")


def use(client) -> None:
    """The client scans given only names (``ct(0.1)``, ``ascan("samy", ...)``) go through."""
    global _default_client
    _default_client = client


def _client_of(objs, client=None):
    """The client to use: given, else the first proxy's, else the last one used (or ``use``d),
    else one shared ``daqlab.connect()``."""
    global _default_client
    if client is None:
        client = next((c for c in (getattr(o, "_client", None) for o in objs) if c is not None), None)
    if client is not None:
        if not client.closed:
            _default_client = client
        return client
    if _default_client is None or _default_client.closed:
        from .client import connect

        _default_client = connect()
    return _default_client


def _name(obj) -> str:
    if isinstance(obj, str):
        return obj
    if isinstance(obj, Device):
        return obj.name
    name = getattr(obj, "name", None)  # a daqlab Detector, or anything named
    if isinstance(name, str):
        return name
    raise TypeError(f"{obj!r} is not a device or a device name")


def _counter_names(counters) -> list[str]:
    names: list[str] = []
    for c in counters:
        names.extend(c.names() if isinstance(c, MeasurementGroup) else [_name(c)])
    return names


def _run(type_: str, body: dict, objs: list, counters: tuple, kw: dict) -> "StepScan":
    client = _client_of([*objs, *counters], kw.pop("client", None))
    wait = kw.pop("wait", True)
    timeout = kw.pop("timeout", None)
    fly = type_ in ("fscan", "fmesh")
    unknown = set(kw) - set(_SCAN_KEYS) - (set(_FLY_KEYS) if fly else set())
    if unknown:
        raise TypeError(f"{type_}() got unexpected keyword(s) {', '.join(sorted(unknown))}")
    if "fast_counters" in kw:
        kw["fast_counters"] = [_name(c) for c in kw["fast_counters"]]
    req = {"type": type_, **body, **kw}
    names = _counter_names(counters)
    if names:
        req["counters"] = names
    status = client.call(P.OP_SCANNING_RUN, req)
    scan = (FlyScan if fly else StepScan)(client, status)
    global _last
    _last = scan
    if wait:
        scan.wait(timeout)
    return scan


def ct(count_time: float = 1.0, *counters, **kw) -> "StepScan":
    """Count for ``count_time`` seconds, once."""
    return _run("ct", {"count_time": count_time}, [], counters, kw)


def ascan(motor, start: float, stop: float, intervals: int, count_time: float, *counters, **kw) -> "StepScan":
    """``motor`` from ``start`` to ``stop`` in ``intervals`` steps (``intervals`` + 1 points)."""
    return _run("ascan", {"axes": [{"axis": _name(motor), "start": start, "stop": stop}], "intervals": intervals,
                          "count_time": count_time}, [motor], counters, kw)


def dscan(motor, start: float, stop: float, intervals: int, count_time: float, *counters, **kw) -> "StepScan":
    """As ascan, relative to the current position; the motor returns there at the end."""
    return _run("dscan", {"axes": [{"axis": _name(motor), "start": start, "stop": stop}], "intervals": intervals,
                          "count_time": count_time}, [motor], counters, kw)


def a2scan(m1, s1, e1, m2, s2, e2, intervals: int, count_time: float, *counters, **kw) -> "StepScan":
    """Two motors moving together, ``intervals`` + 1 points."""
    axes = [{"axis": _name(m1), "start": s1, "stop": e1}, {"axis": _name(m2), "start": s2, "stop": e2}]
    return _run("a2scan", {"axes": axes, "intervals": intervals, "count_time": count_time}, [m1, m2], counters, kw)


def d2scan(m1, s1, e1, m2, s2, e2, intervals: int, count_time: float, *counters, **kw) -> "StepScan":
    """As a2scan, relative; both motors return to where they were."""
    axes = [{"axis": _name(m1), "start": s1, "stop": e1}, {"axis": _name(m2), "start": s2, "stop": e2}]
    return _run("d2scan", {"axes": axes, "intervals": intervals, "count_time": count_time}, [m1, m2], counters, kw)


def amesh(m1, s1, e1, i1: int, m2, s2, e2, i2: int, count_time: float, *counters, backnforth: bool = False,
          **kw) -> "StepScan":
    """A grid: ``m1`` is the fast axis ((i1 + 1) × (i2 + 1) points); ``backnforth``: it runs both ways."""
    axes = [{"axis": _name(m1), "start": s1, "stop": e1, "intervals": i1},
            {"axis": _name(m2), "start": s2, "stop": e2, "intervals": i2}]
    return _run("amesh", {"axes": axes, "count_time": count_time, "backnforth": backnforth}, [m1, m2], counters, kw)


def dmesh(m1, s1, e1, i1: int, m2, s2, e2, i2: int, count_time: float, *counters, backnforth: bool = False,
          **kw) -> "StepScan":
    """As amesh, relative; both motors return to where they were."""
    axes = [{"axis": _name(m1), "start": s1, "stop": e1, "intervals": i1},
            {"axis": _name(m2), "start": s2, "stop": e2, "intervals": i2}]
    return _run("dmesh", {"axes": axes, "count_time": count_time, "backnforth": backnforth}, [m1, m2], counters, kw)


def lookupscan(motor_pos_list, count_time: float, *counters, **kw) -> "StepScan":
    """``motor_pos_list``: ``[(motor, positions), ...]``, every list as long; one point per entry."""
    axes = [{"axis": _name(m), "positions": [float(x) for x in pos]} for m, pos in motor_pos_list]
    return _run("lookupscan", {"axes": axes, "count_time": count_time}, [m for m, _ in motor_pos_list], counters, kw)


def timescan(count_time: float, *counters, npoints: int = 0, sleep_time: float | None = None, **kw) -> "StepScan":
    """Count again and again (``npoints`` 0: until aborted; use ``wait=False`` and ``abort()``)."""
    body: dict[str, Any] = {"count_time": count_time, "npoints": npoints}
    if sleep_time is not None:
        body["sleep_time"] = sleep_time
    return _run("timescan", body, [], counters, kw)


def loopscan(npoints: int, count_time: float, *counters, sleep_time: float | None = None, **kw) -> "StepScan":
    """Count ``npoints`` times."""
    body: dict[str, Any] = {"count_time": count_time, "npoints": npoints}
    if sleep_time is not None:
        body["sleep_time"] = sleep_time
    return _run("loopscan", body, [], counters, kw)


def fscan(motor, start: float, step: float, npoints: int, acq_time: float, *counters, scan_mode: str = "TIME",
          **kw) -> "FlyScan":
    """Fly ``motor`` at ``|step| / acq_time`` through ``npoints`` triggers ``step`` apart from
    ``start`` (its ramps lie outside the range). ``scan_mode``: "TIME" (a trigger every
    ``acq_time``) or "POSITION" (when the encoder crosses each point). Positions are the encoder at
    each trigger. ``fast_counters=["samy_interf", "i0"]`` are sampled at ``fast_rate`` (Hz, ≤ 10 000)
    beside the triggers, each sample tagged with its trigger (:meth:`FlyScan.per_trigger`).
    Detectors among the counters take one frame per trigger (refused when slower than 1/acq_time);
    ``processing=`` goes to their prepare."""
    axes = [{"axis": _name(motor), "start": start, "step": step, "npoints": npoints}]
    return _run("fscan", {"axes": axes, "acq_time": acq_time, "scan_mode": scan_mode}, [motor], counters, kw)


def fmesh(m1, s1, step1, n1: int, m2, s2, step2, n2: int, acq_time: float, *counters, scan_mode: str = "TIME",
          backnforth: bool = False, **kw) -> "FlyScan":
    """A fly mesh (daqlab's name; amesh's order): ``m1`` flies each line of ``n1`` triggers as
    :func:`fscan` does, ``m2`` steps ``n2`` rows; ``backnforth``: odd lines fly back."""
    axes = [{"axis": _name(m1), "start": s1, "step": step1, "npoints": n1},
            {"axis": _name(m2), "start": s2, "step": step2, "npoints": n2}]
    return _run("fmesh", {"axes": axes, "acq_time": acq_time, "scan_mode": scan_mode, "backnforth": backnforth},
                [m1, m2], counters, kw)


# ---------------------------------------------------------------- peak statistics
def _stats(x: np.ndarray, y: np.ndarray) -> dict:
    """Peak, centre of mass, and the centre and width at half maximum (above the minimum)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if len(x) == 0 or len(x) != len(y):
        raise ValueError(f"no data to compute a peak from ({len(x)} positions, {len(y)} values)")
    yb = y - y.min()
    k = int(np.argmax(yb))
    total = yb.sum()
    com = float((x * yb).sum() / total) if total > 0 else float(x[k])
    half = yb[k] / 2
    left, right = float(x[0]), float(x[-1])
    for i in range(k, 0, -1):  # first crossing of half maximum left of the peak, interpolated
        if yb[i - 1] <= half < yb[i] or (yb[i - 1] < half <= yb[i]):
            left = float(x[i - 1] + (half - yb[i - 1]) * (x[i] - x[i - 1]) / (yb[i] - yb[i - 1]))
            break
    for i in range(k, len(x) - 1):
        if yb[i + 1] <= half < yb[i] or (yb[i + 1] < half <= yb[i]):
            right = float(x[i] + (yb[i] - half) * (x[i + 1] - x[i]) / (yb[i] - yb[i + 1]))
            break
    return {"peak": float(x[k]), "com": com, "cen": (left + right) / 2, "fwhm": abs(right - left)}


class StepScan:
    """A step scan the server runs: ``state`` (RUNNING, DONE, ABORTED, FAULT), ``number``, ``title``,
    ``get_data()``, peak statistics and ``goto_*``; ``scan`` is the store's :class:`daqlab.Scan`."""

    def __init__(self, client, status: dict):
        self._client = client
        self._status = status
        self._plotselect: str | None = None

    # --------------------------------------------------------- state
    def status(self) -> dict:
        self._status = self._client.call(P.OP_SCANNING_STATUS, scan=self.key)
        return self._status

    @property
    def key(self) -> str:
        return self._status["scan"]

    @property
    def number(self) -> int:
        return self._status["number"]

    @property
    def title(self) -> str:
        return self._status["title"]

    @property
    def state(self) -> str:
        return self.status()["state"]

    @property
    def channels(self) -> list[str]:
        return list(self._status["channels"])

    @property
    def scan(self):
        """The scan in the server's store (its streams, info, identity)."""
        return self._client.scans.get(self.key)

    def wait(self, timeout: float | None = None) -> "StepScan":
        """Wait for the end; FaultError if the scan ended in FAULT (its data so far stays readable).
        Ctrl-C aborts the scan (axes stopped) and re-raises."""
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while self._status["state"] == "RUNNING":
                left = 10.0 if deadline is None else max(0.0, min(10.0, deadline - time.monotonic()))
                self._status = self._client.call(P.OP_SCANNING_WAIT, {"scan": self.key, "timeout": left},
                                                 timeout=left + 10)
                if self._status["state"] == "RUNNING" and deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError(f"scan {self.number} ({self.title}) still running after {timeout} s")
        except KeyboardInterrupt:
            self.abort()
            raise
        if self._status["state"] == "FAULT":
            raise FaultError(f"scan {self.number} ({self.title}) failed: {self._status['reason']}", scan=self)
        return self

    def abort(self) -> "StepScan":
        """Abort: the axes stop (relative scans return to their start); what was measured stays."""
        self._status = self._client.call(P.OP_SCANNING_ABORT, scan=self.key, timeout=60)
        return self

    # --------------------------------------------------------- data
    def get_data(self, *names: str) -> dict[str, np.ndarray]:
        """Every channel (or those named) as numpy arrays: positions, counters, ``mca:spectrum``
        (points × channels), ``mca:<roi>``, ``mca:deadtime``, ``elapsed_time``, ``epoch``."""
        streams = self.scan.streams
        return {n: np.asarray(streams[n][:]) for n in (names or self.channels)}

    def plotselect(self, counter: str) -> "StepScan":
        """The counter the statistics use by default."""
        if counter not in self.channels:
            raise KeyError(f"{counter!r} is not a channel of scan {self.number}; channels: {', '.join(self.channels)}")
        self._plotselect = counter
        return self

    def _xy(self, counter, axis) -> tuple[str, np.ndarray, np.ndarray]:
        info = self.scan.info
        axes = info.get("axes") or []
        ax = _name(axis) if axis is not None else (axes[0] if axes else None)
        if ax is None:
            raise ValueError(f"scan {self.number} ({self.title}) moved no axis: no peak position to compute")
        cnt = _name(counter) if counter is not None else (self._plotselect or (info.get("plotselect") or {}).get("y"))
        if cnt is None:
            raise ValueError(f"scan {self.number}: name the counter")
        data = self.get_data(ax, cnt)
        if data[cnt].ndim != 1:
            raise ValueError(f"{cnt} is not a scalar channel (shape {data[cnt].shape[1:]}); pick a counter or an ROI")
        return ax, data[ax], data[cnt]

    def _stat(self, what: str, counter=None, axis=None) -> float:
        _, x, y = self._xy(counter, axis)
        return _stats(x, y)[what]

    def peak(self, counter=None, axis=None) -> float:
        """Position of the highest value."""
        return self._stat("peak", counter, axis)

    def com(self, counter=None, axis=None) -> float:
        """Centre of mass (above the minimum)."""
        return self._stat("com", counter, axis)

    def cen(self, counter=None, axis=None) -> float:
        """Centre of the full width at half maximum."""
        return self._stat("cen", counter, axis)

    def fwhm(self, counter=None, axis=None) -> float:
        """Full width at half maximum (above the minimum)."""
        return self._stat("fwhm", counter, axis)

    def _goto(self, what: str, counter, axis) -> float:
        ax, x, y = self._xy(counter, axis)
        target = _stats(x, y)[what]
        Axis(self._client, ax).move(target)
        return target

    def goto_cen(self, counter=None, axis=None) -> float:
        """Move the scanned axis to ``cen``; returns the position."""
        return self._goto("cen", counter, axis)

    def goto_peak(self, counter=None, axis=None) -> float:
        return self._goto("peak", counter, axis)

    def goto_com(self, counter=None, axis=None) -> float:
        return self._goto("com", counter, axis)

    def __repr__(self) -> str:
        s = self._status
        return (f"<daqlab.StepScan {s['number']} '{s['title']}' {s['state']} "
                f"{s['points_done']}/{s['npoints'] if s['npoints'] is not None else '∞'} points>")


class FlyScan(StepScan):
    """A fly scan (fscan, fmesh): per-trigger channels as a step scan's, plus ``fast:<name>``
    channels sampled at the fast rate with ``fast:trigger`` (the trigger each sample falls in) and
    ``fast:elapsed_time``. Detector frames stay in the detector's own scan: frame k is trigger k
    (``scan.info["detectors"]``)."""

    @property
    def fast_channels(self) -> list[str]:
        return [c for c in self.channels if c.startswith("fast:") and c not in ("fast:trigger", "fast:elapsed_time")]

    def per_trigger(self, name: str, reduce: str = "mean") -> np.ndarray:
        """A fast channel reduced to one value per trigger ("mean", "sum", "count"), joined on
        ``fast:trigger``: as long as the per-trigger channels (NaN where a trigger has no sample)."""
        channel = name if name.startswith("fast:") else f"fast:{name}"
        data = self.get_data(channel, "fast:trigger")
        n = len(self.scan.streams["trigger"])
        idx = data["fast:trigger"].astype(np.int64)
        counts = np.bincount(idx, minlength=n)[:n].astype(float)
        if reduce == "count":
            return counts
        sums = np.bincount(idx, weights=data[channel].astype(float), minlength=n)[:n]
        if reduce == "sum":
            return sums
        if reduce != "mean":
            raise ValueError(f"reduce must be 'mean', 'sum' or 'count', not {reduce!r}")
        with np.errstate(invalid="ignore", divide="ignore"):
            return sums / counts

    def __repr__(self) -> str:
        return "<daqlab.FlyScan" + super().__repr__()[len("<daqlab.StepScan"):]


# ---------------------------------------------------------------- the last scan, BLISS style
def last_scan() -> StepScan:
    if _last is None:
        raise RuntimeError("no scan has run from this kernel yet")
    return _last


def cen(counter=None, axis=None) -> float:
    return last_scan().cen(counter, axis)


def com(counter=None, axis=None) -> float:
    return last_scan().com(counter, axis)


def peak(counter=None, axis=None) -> float:
    return last_scan().peak(counter, axis)


def fwhm(counter=None, axis=None) -> float:
    return last_scan().fwhm(counter, axis)


def goto_cen(counter=None, axis=None) -> float:
    return last_scan().goto_cen(counter, axis)


# ---------------------------------------------------------------- moving axes
def _pairs(args) -> list[tuple[Axis, float]]:
    if len(args) % 2:
        raise TypeError("give axes and positions in pairs: umv(samy, 1.2, samz, 0)")
    pairs = []
    for a, p in zip(args[::2], args[1::2]):
        if not isinstance(a, Axis):
            raise TypeError(f"{a!r} is not an axis (use client.axis(name))")
        pairs.append((a, float(p)))
    return pairs


def mv(*args, relative: bool = False, wait: bool = True) -> None:
    """Move axes together: ``mv(samy, 1.2, samz, 0)``. Every target is checked against the
    limits before any axis moves."""
    pairs = _pairs(args)
    for a, p in pairs:  # refuse before moving anything
        lo, hi = a.limits
        target = a.position + p if relative else p
        if not lo <= target <= hi:
            from .errors import ParameterError

            raise ParameterError(f"{a.name} target {target} is outside its limits [{lo}, {hi}]",
                                 fields=[{"field": "position", "message": f"{a.name}: outside the limits"}])
    for a, p in pairs:
        a.move(p, wait=False, relative=relative)
    if wait:
        for a, _ in pairs:
            a.wait_move()


def umv(*args) -> None:
    """``mv`` and show where the axes ended."""
    mv(*args)
    wm(*[a for a, _ in _pairs(args)])


def mvr(*args) -> None:
    mv(*args, relative=True)


def umvr(*args) -> None:
    mv(*args, relative=True)
    wm(*[a for a, _ in _pairs(args)])


def wm(*axes: Axis) -> dict[str, float]:
    """Print and return where the axes are (with limits and state)."""
    rows = {}
    lines = []
    for a in axes:
        i = a.info()
        rows[a.name] = i["position"]
        lines.append(f"{a.name:>10} {i['position']:>12.5g} {i['unit']:<4} {i['state']:<7} "
                     f"limits [{i['limits'][0]:g}, {i['limits'][1]:g}]")
    print("\n".join(lines))
    return rows
