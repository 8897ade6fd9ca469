"""A few worker processes that read HDF5 for the viewer's requests, each request with a deadline.

Processes, not threads: h5py runs every HDF5 call under one process-wide lock, so in threads a
single long call (millions of chunks to visit, a slow filter, a file that blocks) would stall
every other user's request; and a thread cannot be stopped. A worker whose request outlasts its
deadline is killed (its memory freed) and replaced, and the request is answered 504; the
others keep being served by the other workers. At most `size` requests read at once, at most
`max_in_flight` wait or read (more → `Busy`, 503).
"""
from __future__ import annotations

import asyncio
import multiprocessing
import threading
import time

from . import worker

#: how long a new worker process may take to import h5py and friends (not counted in a request's time)
STARTUP_S = 60.0


class Busy(Exception):
    """Too many requests are waiting already."""


class Timeout(Exception):
    """The request outlasted its deadline (its worker was killed)."""


class WorkerDied(Exception):
    """The worker process ended while reading (a crash in HDF5 or a filter, or killed)."""


class _Worker:
    """A worker process, started and ready (its imports done) when the constructor returns."""

    def __init__(self, ctx):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=worker.main, args=(child,), daemon=True, name="daqlab-h5-worker")
        self.proc.start()
        child.close()
        if not self.conn.poll(STARTUP_S) or self.conn.recv() != "ready":
            self.kill()
            raise RuntimeError(f"an HDF5 reading process did not start within {STARTUP_S} s")

    def kill(self) -> None:
        try:
            self.proc.kill()
            threading.Thread(target=self.proc.join, args=(10,), daemon=True).start()  # reap it
        except Exception:
            pass
        self.conn.close()

    def alive(self) -> bool:
        return self.proc.is_alive()


class ReadPool:
    def __init__(self, size: int, max_in_flight: int):
        self.size = size
        self.max_in_flight = max_in_flight
        self._ctx = multiprocessing.get_context("spawn")  # never fork a Jupyter server with threads
        self._idle: list[_Worker] = []
        self._live = 0
        self._in_flight = 0
        self._freed: asyncio.Condition | None = None

    async def _acquire(self, deadline: float) -> _Worker:
        """An idle worker, or a new one while fewer than `size` live; else wait for one until
        `deadline` (Timeout)."""
        if self._freed is None:
            self._freed = asyncio.Condition()
        async with self._freed:
            while True:
                while self._idle:
                    w = self._idle.pop()
                    if w.alive():
                        return w
                    self._live -= 1
                    w.kill()
                if self._live < self.size:
                    self._live += 1
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Timeout()
                try:
                    await asyncio.wait_for(self._freed.wait(), left)
                except asyncio.TimeoutError:
                    raise Timeout() from None
        try:  # a new worker, started outside the lock
            return await asyncio.get_running_loop().run_in_executor(None, _Worker, self._ctx)
        except BaseException:
            await self._release(None)
            raise

    async def prestart(self, n: int = 1) -> None:
        """Start `n` workers ahead of the first request (so the first view does not wait for
        h5py to be imported)."""
        try:
            for _ in range(n):
                w = await self._acquire(time.monotonic())
                await self._release(w)
        except (Timeout, RuntimeError):
            pass  # busy already, or the start failed: requests start workers as they need them

    async def _release(self, w: _Worker | None) -> None:
        async with self._freed:
            if w is None:
                self._live -= 1
            else:
                self._idle.append(w)
            self._freed.notify()

    async def run(self, job: tuple, timeout_s: float):
        """`worker.run_job(*job, timeout_s)` in a worker process: waits at most `timeout_s` for
        a worker, then reads for at most `timeout_s` (Timeout otherwise, the worker killed)."""
        if self._in_flight >= self.max_in_flight:
            raise Busy(f"{self._in_flight} reads in progress")
        self._in_flight += 1
        try:
            w = await self._acquire(time.monotonic() + timeout_s)
            ok = False
            try:
                w.conn.send((*job, timeout_s))
                # the worker stops itself at the deadline where it can; else it is killed a bit later
                left = timeout_s + 0.5
                # the blocking recv waits in a thread; killing the worker ends it (EOF)
                result = await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(None, w.conn.recv), left)
                ok = True
                return result
            except asyncio.TimeoutError:
                raise Timeout() from None
            except (EOFError, OSError):
                raise WorkerDied() from None
            finally:
                if not ok:
                    w.kill()
                await self._release(w if ok else None)
        finally:
            self._in_flight -= 1

    def close(self) -> None:
        for w in self._idle:
            w.kill()
        self._idle.clear()
