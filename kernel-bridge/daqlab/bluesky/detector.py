"""A daqlab detector as an ophyd-async (0.21) ``StandardDetector``.

One bluesky stage ↔ one server acquisition: the first ``prepare`` (explicit, or the implicit one of the first
``trigger``) prepares and starts an acquisition in software-trigger mode, continuous, saving to HDF5; every
``trigger``/``kickoff`` sends the server one software trigger for the prepared number of frames; ``unstage``
stops it (the server then writes the master). The stream resource points at the master's detector dataset
(a virtual dataset over the data files) and the frame count bluesky waits on is the server's
``nb_frames_saved``, polled while frames are due.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from ophyd_async.core import (
    DetectorAcquireLogic,
    DetectorDataLogic,
    DetectorTriggerLogic,
    StandardDetector,
    StreamableDataProvider,
    StreamResourceDataProvider,
    StreamResourceInfo,
    soft_signal_r_and_setter,
    soft_signal_rw,
)

from ..acquisition import Acquisition
from ..detector import Detector as _DetectorProxy
from ._threads import call

#: how often the frame count is read from the server while frames are due (s)
POLL_S = 0.02
#: the master's detector dataset (daqlab's default NeXus names)
DATASET = "/entry/instrument/detector/data"


@dataclass
class _Run:
    """What the three logics share: the server acquisition of this stage and its frame counter."""

    proxy: _DetectorProxy
    save_dir: str | None
    prepare: dict[str, Any]
    expo_time: float
    frames_per_trigger: int = 1
    acq: Acquisition | None = None
    master: str | None = None
    scan_key: str | None = None
    due: int = 0  # frames the server owes us (saved count to reach)
    saved: Any = None  # SignalR[int]
    set_saved: Any = None
    poller: asyncio.Task | None = field(default=None, repr=False)

    def open(self) -> Acquisition:
        """Prepare and start the server acquisition (blocking: run in a thread)."""
        if not self.save_dir:
            raise ValueError("save_dir: the detector needs a folder to save into (absolute, inside the server's data roots)")
        sections = dict(self.prepare)
        acquisition = {"expo_time": self.expo_time, **sections.pop("acquisition", {}),
                       "nb_frames": 0, "trigger_mode": "software", "nb_frames_per_trigger": self.frames_per_trigger}
        saving = {"nb_frames_per_file": 1000, **sections.pop("saving", {}), "enabled": True, "base_path": self.save_dir,
                  "prefix": f"bluesky_{time.strftime('%Y%m%d_%H%M%S')}_{os.getpid()}_{id(self) % 10000:04d}"}
        acq = self.proxy.prepare(acquisition=acquisition, saving=saving, **sections)
        acq.start()
        self.acq = acq
        self.master = acq.scan.info["saving"]["master"]
        self.scan_key = acq.scan.key
        return acq

    def close(self) -> None:
        """Stop the acquisition and wait for the server's master (blocking)."""
        acq, self.acq = self.acq, None
        if acq is None:
            return
        try:
            acq.stop()
        except Exception:  # noqa: BLE001 - it may have ended on its own (fault): wait reports why
            pass
        acq.wait(timeout=120, progress=False)

    def progress(self) -> tuple[int, str, str | None]:
        """(frames saved, state, reason), from one status request (blocking)."""
        acq = self.acq
        if acq is None:
            raise RuntimeError(f"{self.proxy.name}: the acquisition was stopped while frames were due")
        st = acq.status()
        return int(st["counters"].get("nb_frames_saved", 0)), st["state"], st.get("reason")


class _Trigger(DetectorTriggerLogic):
    def __init__(self, run: _Run, expo_time):
        self._run = run
        self._expo_time = expo_time

    async def prepare_internal(self, num: int, livetime: float, deadtime: float) -> None:
        if self._run.acq is not None and num != self._run.frames_per_trigger:
            raise ValueError(f"{self._run.proxy.name}: prepared for {self._run.frames_per_trigger} frames per "
                             f"trigger in this stage, {num} asked (unstage first)")
        self._run.frames_per_trigger = max(1, num)
        self._run.expo_time = livetime if livetime > 0 else await self._expo_time.get_value()


class _Acquire(DetectorAcquireLogic):
    """``start_acquiring`` sends one software trigger and follows the saved count until it is due."""

    def __init__(self, run: _Run):
        self._run = run

    async def _follow(self) -> None:
        run = self._run
        while True:
            n, state, reason = await call(run.progress)
            if n != await run.saved.get_value():
                run.set_saved(n)
            if n >= run.due:
                return
            if state not in ("PREPARED", "RUNNING"):
                raise RuntimeError(f"{run.proxy.name}: acquisition {state} with {n} of {run.due} frames saved: {reason}")
            await asyncio.sleep(POLL_S)

    async def start_acquiring(self) -> None:
        run = self._run
        if run.acq is None:
            raise RuntimeError(f"{run.proxy.name}: not prepared")
        run.due += run.frames_per_trigger
        await call(run.acq.trigger)
        run.poller = asyncio.ensure_future(self._follow())

    async def wait_for_idle(self) -> None:
        if self._run.poller is not None:
            await self._run.poller

    async def ensure_stopped(self) -> None:
        poller, self._run.poller = self._run.poller, None
        if poller is not None and not poller.done():
            poller.cancel()


class _Data(DetectorDataLogic):
    """The master's detector dataset as one stream resource; the saved count as collections written."""

    def __init__(self, run: _Run):
        self._run = run

    async def prepare_unbounded(self, datakey_name: str) -> StreamableDataProvider:
        run = self._run
        await call(run.open)
        run.due = 0
        run.set_saved(0)
        shape = tuple(int(n) for n in run.proxy.shape)
        resource = StreamResourceInfo(
            data_key=datakey_name, shape=shape, chunk_shape=(1, *shape),
            dtype_numpy=np.dtype(run.proxy.dtype).str, parameters={"dataset": DATASET})
        return StreamResourceDataProvider(uri=f"file://localhost{run.master}", resources=[resource],
                                          mimetype="application/x-hdf5", collections_written_signal=run.saved)

    def get_hinted_fields(self, datakey_name: str) -> Sequence[str]:
        return [datakey_name]

    async def stop(self) -> None:
        await call(self._run.close)


class DaqlabDetector(StandardDetector):
    """``expo_time`` (configuration) is the exposure of each frame unless a plan's TriggerInfo names a livetime.
    ``master`` is the file of the current (or last) stage; ``scan_key`` its server scan."""

    def __init__(self, proxy: _DetectorProxy, save_dir: str | None, expo_time: float = 0.01,
                 prepare: dict[str, Any] | None = None, name: str = ""):
        self._run = _Run(proxy=proxy, save_dir=save_dir, prepare=dict(prepare or {}), expo_time=float(expo_time))
        self._run.saved, self._run.set_saved = soft_signal_r_and_setter(int, initial_value=0)
        self.expo_time = soft_signal_rw(float, initial_value=float(expo_time), units="s")
        self.add_detector_logics(_Trigger(self._run, self.expo_time), _Acquire(self._run), _Data(self._run))
        self.add_config_signals(self.expo_time)
        super().__init__(name=name)

    @property
    def master(self) -> str | None:
        return self._run.master

    @property
    def scan_key(self) -> str | None:
        return self._run.scan_key
