"""One acquisition: control (start, trigger, stop, abort), status and waiting."""

from __future__ import annotations

import os
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field

from . import _protocol as P
from .errors import (DaqlabWarning, DroppedFramesWarning, FaultError, FrameRateWarning, StateError, TimeoutError,
                     public_api)

__all__ = ["Acquisition", "AcqResult"]

#: seconds between acq.status polls while waiting, in case a pushed event was missed
POLL_INTERVAL = 0.5


@dataclass(frozen=True, repr=False)
class AcqResult:
    """What ``Acquisition.wait()`` returns: how the run ended, in a few numbers.

    ``rate`` is the average acquisition rate (frames acquired / ``elapsed``), ``rate_asked``
    the one the run asked for (None when triggers pace it). ``result["state"]`` etc. read
    the complete final status (``status``) as before."""

    state: str
    reason: str | None
    nb_frames: int          #: frames asked (0: continuous, until stop())
    acquired: int
    processed: int
    saved: int
    dropped: int
    invalid: int
    scan: str               #: the scan's key
    elapsed: float | None   #: seconds from start to the end of acquisition
    rate: float | None      #: frames acquired per second, on average
    rate_asked: float | None
    warnings: tuple[str, ...] = ()
    status: dict = field(default_factory=dict, compare=False)

    @classmethod
    def from_status(cls, status: dict) -> "AcqResult":
        c = status.get("counters") or {}
        return cls(
            state=status.get("state", ""), reason=status.get("reason"), nb_frames=int(status.get("nb_frames") or 0),
            acquired=int(c.get("nb_frames_acquired") or 0), processed=int(c.get("nb_frames_processed") or 0),
            saved=int(c.get("nb_frames_saved") or 0), dropped=int(c.get("nb_frames_dropped") or 0),
            invalid=int(c.get("nb_frames_invalid") or 0), scan=status.get("scan", ""), elapsed=status.get("elapsed"),
            rate=status.get("rate_achieved"), rate_asked=status.get("rate_asked"),
            warnings=tuple(w.get("message", "") for w in status.get("warnings") or ()), status=dict(status))

    @property
    def dropped_fraction(self) -> float:
        """Dropped frames / frames acquired (0 when none were acquired)."""
        return self.dropped / self.acquired if self.acquired else 0.0

    def __getitem__(self, key: str):
        """``result["counters"]`` …: the final AcqStatus's fields."""
        return self.status[key]

    def __repr__(self) -> str:
        asked = "continuous" if self.nb_frames == 0 else str(self.nb_frames)
        parts = [f"{self.acquired}/{asked} frames", f"{self.processed} processed"]
        if self.saved:
            parts.append(f"{self.saved} saved")
        parts.append(f"{self.dropped} dropped" + (f" ({100 * self.dropped_fraction:.1f} %)" if self.dropped else ""))
        if self.invalid:
            parts.append(f"{self.invalid} invalid")
        timing = ""
        if self.elapsed is not None:
            timing = f" in {self.elapsed:.3g} s"
            if self.rate is not None:
                timing += f" ({self.rate:.4g} frames/s" + (f" of {self.rate_asked:.4g} asked" if self.rate_asked else "") + ")"
        return (f"AcqResult({self.state}{f' ({self.reason})' if self.reason else ''}: {', '.join(parts)}{timing}, "
                f"scan {self.scan!r})")

    def _repr_pretty_(self, p, cycle) -> None:  # IPython: the same one line
        p.text(repr(self))


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _warn(category: type[Warning], message: str) -> None:
    """Warn at the first frame outside the daqlab package: the user's call."""
    level, frame = 2, sys._getframe(1)  # stacklevel 2 is _warn's caller
    while frame is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == _PACKAGE_DIR:
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


_WARNING_CATEGORIES = {P.RUN_WARNING_DROPPED_FRAMES: DroppedFramesWarning, P.RUN_WARNING_FRAME_RATE: FrameRateWarning}


@public_api
class Acquisition:
    """A prepared acquisition (from ``detector.prepare(...)``).

    ``start()``, ``trigger()``, ``stop()``, ``abort()`` return the acquisition itself,
    so ``acq.start().wait()`` reads naturally.
    """

    def __init__(self, client, status: dict, detector=None):
        self._client = client
        self._status = dict(status)
        # prepare's reply carries the scan as it was then: used to build `scan`, never kept in the status
        self._scan_summary = self._status.pop("scan_summary", None)
        self.uuid: str = status["uuid"]
        self._detector = detector
        self._scan = None
        self._started: bool | None = False if self._scan_summary is not None else None

    # ----------------------------------------------------------------- status
    def status(self) -> dict:
        """AcqStatus from the server: uuid, detector, state, reason, counters, nb_frames,
        scan, elapsed, fps."""
        self._status = {**self._status, **self._client._request(P.OP_ACQ_STATUS, {"uuid": self.uuid})}
        return self._status

    @property
    def detector(self):
        """The Detector object."""
        if self._detector is None:
            from .detector import Detector

            self._detector = Detector(self._client, self._status["detector"])
        return self._detector

    @property
    def state(self) -> str:
        """IDLE, PREPARED, RUNNING, STOPPED or FAULT (live)."""
        return self.status()["state"]

    @property
    def reason(self) -> str | None:
        return self.status().get("reason")

    @property
    def counters(self) -> dict:
        """The six counters (live): nb_frames_acquired, nb_frames_transferred (per receiver),
        nb_frames_processed, nb_frames_saved, nb_frames_dropped, nb_frames_invalid."""
        return dict(self.status()["counters"])

    @property
    def nb_frames(self) -> int:
        """frames requested (0: continuous, until stop())"""
        return int(self._status.get("nb_frames") or 0)

    @property
    def continuous(self) -> bool:
        """Prepared with ``nb_frames=0``: acquires until ``stop()``."""
        return self.nb_frames == 0

    @property
    def scan(self):
        """The Scan holding this acquisition's data."""
        if self._scan is None:
            from .scans import Scan

            if self._scan_summary is not None and self._started is False:
                self._scan = Scan(self._client, self._scan_summary)  # nothing has changed since prepare
            else:
                self._scan = self._client.scans.get(self._status["scan"])
        return self._scan

    # ----------------------------------------------------------------- control
    def _control(self, op: str, force: bool = False) -> "Acquisition":
        params = {"uuid": self.uuid, **({"force": True} if force else {})}
        self._status = {**self._status, **self._client._request(op, params)}
        return self

    def start(self) -> "Acquisition":
        """Start (PREPARED → RUNNING)."""
        self._control(P.OP_ACQ_START)
        self._started = True
        return self

    def trigger(self) -> "Acquisition":
        """One software trigger (trigger mode ``software``)."""
        return self._control(P.OP_ACQ_TRIGGER)

    def stop(self, force: bool = False) -> "Acquisition":
        """Stop after the current frame; data taken so far is kept. Does nothing once
        the acquisition has ended. Stopping another client's acquisition raises
        ``StateError`` naming its owner unless ``force=True`` (logged by the server)."""
        return self._end(P.OP_ACQ_STOP, force)

    def abort(self, force: bool = False) -> "Acquisition":
        """Stop now. Does nothing once the acquisition has ended. Another client's
        acquisition only with ``force=True`` (logged)."""
        return self._end(P.OP_ACQ_ABORT, force)

    def _end(self, op: str, force: bool) -> "Acquisition":
        try:
            return self._control(op, force)
        except StateError:
            # an acquisition that ended (even one a newer prepare replaced) has nothing left to stop
            if self.status()["state"] in P.ACQ_FINAL_STATES:
                return self
            raise

    # -------------------------------------------------------------------- wait
    def wait(self, timeout: float | None = None, progress: bool = True) -> AcqResult:
        """Wait until the acquisition is STOPPED and its processing has drained, so
        every result is in the scan, and return an :class:`AcqResult` (state, frames
        acquired/processed/saved/dropped, scan key, elapsed, rate); or raise FaultError
        with the reason when it ended in FAULT. Dropped frames warn
        (:class:`DroppedFramesWarning`), so does a detector slower than the asked rate
        (:class:`FrameRateWarning`). Follows the pushed ``acq.state`` and ``acq.counters``
        events and polls ``acq.status`` every 0.5 s as a safety net. ``progress`` shows
        a bar of frames acquired with the rate (``fps``), invalid and dropped."""
        cond = threading.Condition()
        seen: dict = {}

        def on_event(msg: dict) -> None:
            if msg.get("uuid") != self.uuid:
                return
            with cond:
                for key in ("state", "reason", "counters", "fps", "finished"):
                    if key in msg:
                        seen[key] = msg[key]
                cond.notify_all()

        removers = [self._client.on(P.EV_ACQ_STATE, on_event), self._client.on(P.EV_ACQ_COUNTERS, on_event)]
        deadline = None if timeout is None else time.monotonic() + timeout
        bar = None
        try:
            status = self.status()
            if status["state"] == P.ACQ_PREPARED and self._started is False:
                raise StateError(f"acquisition {self.uuid} is PREPARED but was not started: call start() first",
                                 state=status["state"])
            if progress:
                from .progress import AcqProgress

                bar = AcqProgress(status.get("nb_frames") or None, desc=f"{status.get('detector', '')}")
                bar.update(status)
            while not _finished(status):
                wait_for = POLL_INTERVAL
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError(f"acquisition {self.uuid} still {status['state']} after {timeout:g} s "
                                           f"({status['counters'].get('nb_frames_acquired')} frames acquired)")
                    wait_for = min(wait_for, left)
                with cond:
                    if not seen:
                        cond.wait(wait_for)
                    update, seen_copy = bool(seen), dict(seen)
                    seen.clear()
                if update and not _finished({**status, **seen_copy}):
                    status = {**status, **seen_copy}
                    self._status = status
                else:  # nothing pushed (or the end): ask the server
                    status = self.status()
                if bar is not None:
                    bar.update(status)
            if bar is not None:
                bar.update(status)
        finally:
            for remove in removers:
                remove()
            if bar is not None:
                bar.close()
        if self._scan is not None:
            self._scan.refresh()  # the scan as it ended (CLOSED, streams sealed with their lengths)
        if status["state"] == P.ACQ_FAULT:
            raise FaultError(f"detector fault on {status.get('detector')} (acquisition {self.uuid}): "
                             f"{status.get('reason') or 'no reason given'}",
                             reason=status.get("reason"), status=status)
        for w in status.get("warnings") or ():
            _warn(_WARNING_CATEGORIES.get(w.get("kind"), DaqlabWarning), w.get("message", ""))
        return AcqResult.from_status(status)

    def __repr__(self) -> str:
        s = self._status
        c = s.get("counters") or {}
        return (f"<daqlab.Acquisition {self.uuid} on {s.get('detector')}: {s.get('state')}, "
                f"{c.get('nb_frames_acquired', 0)}/{s.get('nb_frames') or 'continuous'} frames, scan {s.get('scan')}>")


def _finished(status: dict) -> bool:
    """The acquisition has ended and, when the server says so, its results are all in."""
    if status["state"] == P.ACQ_IDLE:
        return True
    return status["state"] in P.ACQ_FINAL_STATES and status.get("finished", True)
