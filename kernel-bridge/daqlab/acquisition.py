"""One acquisition: control (start, trigger, stop, abort), status and waiting."""

from __future__ import annotations

import threading
import time

from . import _protocol as P
from .errors import FaultError, StateError, TimeoutError

__all__ = ["Acquisition"]

#: seconds between acq.status polls while waiting, in case a pushed event was missed
POLL_INTERVAL = 0.5


class Acquisition:
    """A prepared acquisition (from ``detector.prepare(...)``).

    ``start()``, ``trigger()``, ``stop()``, ``abort()`` return the acquisition itself,
    so ``acq.start().wait()`` reads naturally.
    """

    def __init__(self, client, status: dict, detector=None):
        self._client = client
        self._status = dict(status)
        self.uuid: str = status["uuid"]
        self._detector = detector
        self._scan_summary = status.get("scan_summary")
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
        """frames requested (0: until stopped)"""
        return int(self._status.get("nb_frames") or 0)

    @property
    def scan(self):
        """The Scan holding this acquisition's data."""
        if self._scan is None:
            from .scans import Scan

            if self._scan_summary is not None:
                self._scan = Scan(self._client, self._scan_summary)
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
        """Stop after the current frame; data taken so far is kept. Stopping another
        client's acquisition raises ``StateError`` naming its owner unless ``force=True``."""
        return self._control(P.OP_ACQ_STOP, force)

    def abort(self, force: bool = False) -> "Acquisition":
        """Stop now. Another client's acquisition only with ``force=True`` (logged)."""
        return self._control(P.OP_ACQ_ABORT, force)

    # -------------------------------------------------------------------- wait
    def wait(self, timeout: float | None = None, progress: bool = True) -> dict:
        """Wait until the acquisition is STOPPED and its processing has drained, so
        every result is in the scan (returns the final status), or FAULT (raises
        FaultError with the reason). Follows the pushed ``acq.state`` and
        ``acq.counters`` events and polls ``acq.status`` every 0.5 s as a safety net.
        ``progress`` shows a bar of frames acquired with fps, invalid and dropped."""
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
        if status["state"] == P.ACQ_FAULT:
            raise FaultError(f"detector fault on {status.get('detector')} (acquisition {self.uuid}): "
                             f"{status.get('reason') or 'no reason given'}",
                             reason=status.get("reason"), status=status)
        return status

    def __repr__(self) -> str:
        s = self._status
        c = s.get("counters") or {}
        return (f"<daqlab.Acquisition {self.uuid} on {s.get('detector')}: {s.get('state')}, "
                f"{c.get('nb_frames_acquired', 0)}/{s.get('nb_frames') or '∞'} frames, scan {s.get('scan')}>")


def _finished(status: dict) -> bool:
    """The acquisition has ended and, when the server says so, its results are all in."""
    if status["state"] == P.ACQ_IDLE:
        return True
    return status["state"] in P.ACQ_FINAL_STATES and status.get("finished", True)
