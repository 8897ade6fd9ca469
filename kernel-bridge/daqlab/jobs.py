"""Analysis jobs on the Slurm cluster the daqlab server is configured with.

>>> import daqlab
>>> job = daqlab.jobs.submit(template="azint", scan=scan, params={"npt": 1000}, cpus=2, time="00:10:00")
>>> job.state                      # PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, ...
>>> job.wait()                     # progress bar (the job's "progress <done> <total>" lines)
>>> job.logs()                     # stdout so far; job.logs("stderr"); job.logs(follow=True) prints as it comes
>>> derived = job.result           # the derived scan (daqlab.open_derived), with .source
>>> daqlab.jobs.submit(script="#!/bin/bash\\necho hi", partition="debug")
>>> daqlab.jobs.list()             # your jobs, live states

Every call goes through the daqlab server, which submits as the user your
token maps to and shows you only your own jobs (unless you are staff).
"""

from __future__ import annotations

import builtins
import os
import re
import sys
import time as _time
from typing import Any, Iterator

from . import _protocol as P
from .errors import StateError, TimeoutError

__all__ = ["submit", "list", "get", "templates", "cluster", "watch", "Job"]

_default_client = None
_PROGRESS = re.compile(r"^progress (\d+) (\d+)\s*$", re.M)


def _client(client=None, scan=None):
    """The client to use: given, else the scan's, else one shared ``daqlab.connect()``."""
    global _default_client
    if client is not None:
        return client
    if scan is not None and getattr(scan, "_client", None) is not None:
        return scan._client
    if _default_client is None or _default_client.closed:
        from .client import connect

        _default_client = connect()
    return _default_client


def _source_of(scan) -> str:
    """The master file of a scan: a live Scan (saved), a SavedScan, or a path."""
    if isinstance(scan, (str, os.PathLike)):
        return os.path.abspath(os.fspath(scan))
    path = getattr(scan, "path", None)  # SavedScan
    if isinstance(path, str) and path.endswith(".h5"):
        return path
    info = getattr(scan, "info", None)
    master = ((info or {}).get("saving") or {}).get("master") if isinstance(info, dict) else None
    if not master:
        raise ValueError(f"scan: {scan!r} is not saved; jobs run on saved scans "
                         "(prepare with saving={'enabled': True, ...}) or on a master file path")
    return master


def submit(template: str | None = None, *, script: str | None = None, scan=None, params: dict | None = None,
           name: str | None = None, partition: str | None = None, cpus: int | None = None,
           gpus: int | None = None, memory: str | int | None = None, time: str | int | None = None,
           workdir: str | None = None, env: dict | None = None, array: str | int | None = None,
           hold: bool = False, client=None, **template_params) -> "Job":
    """Submit a job made from a ``template`` (``daqlab.jobs.templates()``) or a ``script``.

    ``scan``: the saved scan a template works on (its master file becomes ``source``).
    ``params``: for the batch templates the pipeline's parameters, for a script the content
    of the JSON file whose path the job finds in ``$DAQLAB_JOB_PARAMS``. Other keywords are
    the template's own parameters (e.g. ``message=`` for ``demo``).
    Resources: ``partition``, ``cpus``, ``gpus``, ``memory`` ("4G"), ``time`` ("00:10:00"),
    ``array`` ("0-9" or a number of tasks), ``hold`` (submit held), ``workdir``, ``env``.
    A request beyond the partition's limits raises ParameterError with Slurm's reason.
    """
    c = _client(client, scan)
    req: dict[str, Any] = {}
    if template is not None:
        req["template"] = template
        tparams = dict(template_params)
        if scan is not None:
            tparams["source"] = _source_of(scan)
        if params is not None:
            tparams["params"] = params
        req["params"] = tparams
    else:
        if template_params:
            raise TypeError(f"unknown argument(s) {sorted(template_params)}: a script job takes its "
                            "parameters as params={...}")
        req["script"] = script
        if params is not None:
            req["params"] = params
    for key, value in (("name", name), ("partition", partition), ("cpus", cpus), ("gpus", gpus),
                       ("memory", memory), ("time", time), ("workdir", workdir), ("env", env),
                       ("array", array)):
        if value is not None:
            req[key] = value
    if hold:
        req["hold"] = True
    return Job(c, c._request(P.OP_JOBS_SUBMIT, req))


def list(all: bool = False, client=None) -> builtins.list["Job"]:  # noqa: A001 - daqlab.jobs.list()
    """Your jobs that Slurm still knows (newest first); staff may pass ``all=True``."""
    c = _client(client)
    return [Job(c, info) for info in c._request(P.OP_JOBS_LIST, {"all": all} if all else {})["jobs"]]


def get(job_id: str | int, client=None) -> "Job":
    """The job ``job_id`` ("123", or an array task "123_4")."""
    c = _client(client)
    return Job(c, c._request(P.OP_JOBS_GET, {"job": str(job_id)}))


def templates(client=None) -> builtins.list[dict]:
    """The templates the server offers, with their parameters and defaults."""
    return _client(client)._request(P.OP_JOBS_TEMPLATES)["templates"]


def cluster(client=None) -> dict:
    """Whether the server has a cluster (``configured``), how it reaches it, its partitions, and
    who you are to it (``user``, ``staff``)."""
    return _client(client)._request(P.OP_JOBS_CLUSTER)


def watch(callback, client=None):
    """Call ``callback(job_info)`` (a dict, see docs/PROTOCOL.md) on every state change of the jobs
    you may see, pushed by the server (it runs in the client's reader thread: keep it short).
    Returns a function that stops watching."""
    c = _client(client)
    remove = c.on(P.EV_JOBS_STATE, lambda msg: callback(msg["job"]))
    c._request(P.OP_JOBS_WATCH)

    def stop():
        remove()
        c._request(P.OP_JOBS_UNWATCH)

    return stop


class Job:
    """One Slurm job (or array, or array task) submitted through the daqlab server."""

    def __init__(self, client, info: dict):
        self._client = client
        self._info = info

    # ------------------------------------------------------------ description
    @property
    def id(self) -> str:
        return self._info["id"]

    @property
    def name(self) -> str:
        return self._info["name"]

    @property
    def user(self) -> str:
        return self._info["user"]

    @property
    def info(self) -> dict:
        """Everything the server reports (as of the last refresh)."""
        return self._info

    def refresh(self) -> "Job":
        self._info = self._client._request(P.OP_JOBS_GET, {"job": self.id})
        return self

    @property
    def state(self) -> str:
        """The job's state now: PENDING, RUNNING, SUSPENDED, COMPLETED, FAILED, CANCELLED,
        TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, ..."""
        return self.refresh()._info["state"]

    @property
    def done(self) -> bool:
        return self.state in P.JOB_FINAL_STATES

    @property
    def exit_code(self) -> int | None:
        return self.refresh()._info.get("exit_code")

    @property
    def reason(self) -> str | None:
        """Why it is pending or why it failed (Slurm's reason)."""
        return self.refresh()._info.get("reason")

    @property
    def tasks(self) -> builtins.list["Job"]:
        """The tasks of an array job (empty for a plain job)."""
        return [Job(self._client, t) for t in self._info.get("tasks") or []]

    # --------------------------------------------------------------- control
    def cancel(self) -> "Job":
        self._info = self._client._request(P.OP_JOBS_CANCEL, {"job": self.id})
        return self

    def hold(self) -> "Job":
        """Keep a pending job from starting (until ``release``)."""
        self._info = self._client._request(P.OP_JOBS_HOLD, {"job": self.id})
        return self

    def release(self) -> "Job":
        self._info = self._client._request(P.OP_JOBS_RELEASE, {"job": self.id})
        return self

    def wait(self, timeout: float | None = None, progress: bool = True, poll: float = 0.5) -> "Job":
        """Wait until the job ends (any final state; check ``state`` / ``exit_code``).
        ``progress``: a bar fed by the job's ``progress <done> <total>`` lines, with its state."""
        from .progress import _tqdm

        deadline = None if timeout is None else _time.monotonic() + timeout
        bar = _tqdm()(total=None, desc=f"job {self.id}", unit="step", leave=True,
                      dynamic_ncols=True, mininterval=0.1) if progress else None
        offset = 0
        follow = progress and not self._info.get("tasks")
        try:
            while True:
                info = self.refresh()._info
                if follow:
                    chunk = self._client._request(P.OP_JOBS_LOGS, {"job": self.id, "stream": "stdout", "offset": offset})
                    offset = chunk["offset"]
                    found = _PROGRESS.findall(chunk["data"])
                    if found and bar is not None:
                        done, total = (int(x) for x in found[-1])
                        bar.total = total
                        bar.n = done
                if bar is not None:
                    bar.set_postfix(state=info["state"], refresh=False)
                    bar.refresh()
                if info["state"] in P.JOB_FINAL_STATES:
                    return self
                if deadline is not None and _time.monotonic() > deadline:
                    raise TimeoutError(f"job {self.id} is still {info['state']} after {timeout:g} s")
                _time.sleep(poll)
        finally:
            if bar is not None:
                bar.close()

    # ------------------------------------------------------------------ logs
    def iter_logs(self, stream: str = "stdout", follow: bool = True, task: int | None = None) -> Iterator[str]:
        """Yield the job's ``stdout`` or ``stderr`` text as it grows; with ``follow``, until the
        job ends. ``task``: which task of an array."""
        job = self.id if task is None else f"{self._info.get('array_job_id') or self.id}_{task}"
        offset = 0
        while True:
            chunk = self._client._request(
                P.OP_JOBS_LOGS, {"job": job, "stream": stream, "offset": offset, "wait": 5 if follow else 0},
                timeout=self._client.timeout + 6)
            offset = chunk["offset"]
            if chunk["data"]:
                yield chunk["data"]
            if not follow or chunk["done"]:
                return

    def logs(self, stream: str = "stdout", follow: bool = False, task: int | None = None, file=None) -> str | None:
        """The job's ``stdout`` or ``stderr`` so far. ``follow=True`` prints it as it comes
        (to ``file``, default sys.stdout) until the job ends, and returns None."""
        if not follow:
            return "".join(self.iter_logs(stream, follow=False, task=task))
        out = file or sys.stdout
        for text in self.iter_logs(stream, follow=True, task=task):
            out.write(text)
            out.flush()
        return None

    # ---------------------------------------------------------------- result
    @property
    def result(self):
        """The derived scan a batch template wrote (``daqlab.open_derived``: ``.source`` is what it
        was computed from — master, template, frames, params —, ``.manifest`` the job's manifest,
        ``.open_source()`` the source scan)."""
        info = self.refresh()._info
        if info["state"] != P.JOB_COMPLETED:
            tail = ""
            if info["state"] in P.JOB_FINAL_STATES:
                err = self.logs("stderr").strip().splitlines()[-5:]
                tail = ("; stderr ends with:\n  " + "\n  ".join(err)) if err else ""
            raise StateError(f"job {self.id} is {info['state']}"
                             + (f" ({info['reason']})" if info.get("reason") else "")
                             + f" (exit code {info.get('exit_code')}): no result" + tail, state=info["state"])
        result = info.get("result") or {}
        if not result.get("master"):
            raise StateError(f"job {self.id} ({info.get('template') or 'script'}) left no derived scan"
                             + (f": {result['manifest']} is missing or incomplete" if result.get("manifest") else ""))
        from .batch import open_derived

        # from its manifest when the server could read one, so .manifest is the job's own
        return open_derived(result.get("manifest") or result["master"])

    def __repr__(self) -> str:
        i = self._info
        extra = f" exit {i['exit_code']}" if i.get("exit_code") is not None else ""
        reason = f" ({i['reason']})" if i.get("reason") else ""
        return f"<daqlab.Job {i['id']} {i['name']} {i['user']} {i['state']}{reason}{extra}>"
