"""Jupyter server handlers of the HDF5 viewer: `<base_url>daqlab/h5/{meta,attrs,data,nxdefault}`.

Every request names `file` (relative to the Jupyter server's root directory; anything that
resolves outside it is refused with 403) and `path` (an HDF5 path, default `/`). Links and
virtual-dataset sources are followed only inside the root (`confine.py`, 403 otherwise), and
every response is bounded (`limits.py`). Files are opened read-only without HDF5 file locking
(so files still being written by the daqlab server can be read) on a small thread pool, so a
slow read never blocks the server's loop; a read that outlasts READ_TIMEOUT_S is answered 504
and told to stop, and past MAX_IN_FLIGHT admitted requests new ones get 503, so one slow file
cannot leave every user's viewer waiting.
"""
from __future__ import annotations

import asyncio
import json
import os
import stat
import time
from concurrent.futures import ThreadPoolExecutor

import h5py
import numpy as np
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

from . import limits, reader
from .confine import Files, Forbidden, ReadTimeout, SelectionError

_POOL = ThreadPoolExecutor(max_workers=limits.WORKERS, thread_name_prefix="daqlab-h5")
#: requests submitted to the pool and not finished (a timed-out read counts until its thread is
#: free again); only touched on the event loop
_in_flight = 0


def resolve_file(root_dir: str, rel: str | None) -> str:
    """The absolute real path of `rel` under `root_dir`; 400/403/404 with a reason otherwise."""
    if not rel:
        raise web.HTTPError(400, reason="file: missing (a path relative to the Jupyter root directory)")
    root = os.path.realpath(root_dir)
    full = os.path.realpath(os.path.join(root, rel.lstrip("/")))
    if os.path.commonpath([root, full]) != root:
        raise web.HTTPError(403, reason=f"file: {rel!r} is outside the Jupyter root directory")
    try:
        mode = os.stat(full).st_mode  # stat, never open: a FIFO must not block
    except OSError:
        raise web.HTTPError(404, reason=f"file: {rel!r} does not exist") from None
    if stat.S_ISDIR(mode):
        raise web.HTTPError(400, reason=f"file: {rel!r} is a directory, not an HDF5 file")
    if not stat.S_ISREG(mode):
        raise web.HTTPError(400, reason=f"file: {rel!r} is not a regular file")
    return full


class _H5Handler(APIHandler):
    """Shared parameter parsing, pool and error mapping; subclasses implement
    `work(fs, f, path, args)` (run on the pool: no handler methods there).
    Reading a file is reading contents: a user whose Jupyter authorizer refuses `contents:read`
    (JupyterHub scopes) is refused here too."""

    auth_resource = "contents"
    #: query arguments `work` gets besides file and path
    ARGS: tuple[str, ...] = ()

    def _root(self) -> str:
        return self.settings.get("server_root_dir") or self.contents_manager.root_dir

    def _int_arg(self, name: str) -> int | None:
        v = self.get_query_argument(name, None)
        if v in (None, ""):
            return None
        try:
            return int(v)
        except ValueError:
            raise SelectionError(name, f"{v!r} is not an integer") from None

    def work(self, fs: Files, f: h5py.File, path: str, args: dict):  # pragma: no cover - abstract
        raise NotImplementedError

    def _fail(self, status: int, message: str, field: str | None = None) -> None:
        self.set_status(status)
        body = {"error": message, "status": status}
        if field:
            body["field"] = field
        self.finish(json.dumps(body))

    @web.authenticated
    @authorized
    async def get(self):
        global _in_flight
        root = self._root()
        full = resolve_file(root, self.get_query_argument("file", None))
        path = self.get_query_argument("path", "/") or "/"
        try:
            args = {name: self.get_query_argument(name, None) for name in self.ARGS}
            if "max_pixels" in args:
                args["max_pixels"] = self._int_arg("max_pixels")
        except SelectionError as e:
            return self._fail(400, str(e), e.field)
        if _in_flight >= limits.MAX_IN_FLIGHT:
            return self._fail(503, f"the HDF5 viewer is busy ({_in_flight} reads in progress): try again shortly")
        fs = Files(root, deadline=time.monotonic() + limits.READ_TIMEOUT_S)

        def run():
            try:
                return self.work(fs, fs.open(full, "file"), path, args)
            finally:
                fs.close()

        def done(_):
            global _in_flight
            _in_flight -= 1

        _in_flight += 1
        fut = asyncio.get_running_loop().run_in_executor(_POOL, run)
        fut.add_done_callback(done)
        try:
            result = await asyncio.wait_for(asyncio.shield(fut), limits.READ_TIMEOUT_S)
        except (asyncio.TimeoutError, ReadTimeout):
            fs.cancelled = True  # the thread stops at its next step
            return self._fail(504, f"path: reading {path} of {self.get_query_argument('file')} took longer than "
                                   f"{limits.READ_TIMEOUT_S:g} s", "path")
        except Forbidden as e:
            return self._fail(403, str(e), e.field)
        except SelectionError as e:
            return self._fail(400, str(e), e.field)
        except Exception as e:  # a broken file or filter: say so, keep serving
            self.log.exception("daqlab h5: %s %s failed", full, path)
            return self._fail(500, f"reading {path} failed: {type(e).__name__}: {e}")
        if isinstance(result, tuple):  # (header, array): binary
            header, data = result
            self._send_binary(header, data)
        else:
            self.finish(reader.dumps(result))

    def write_error(self, status_code: int, **kwargs):
        # tornado's HTTPError reason as JSON, like our 400s (APIHandler already does JSON: keep the reason)
        reason = self._reason
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": reason, "status": status_code}))

    def _send_binary(self, header: dict, data: np.ndarray) -> None:
        """u32 LE header length, JSON header padded with spaces so the payload starts on an
        8-byte boundary (the browser views it as a typed array without copying), payload."""
        h = json.dumps(header).encode()
        h += b" " * ((-(4 + len(h))) % 8)
        self.write(len(h).to_bytes(4, "little") + h)
        self.write(data.tobytes())
        self.finish(set_content_type="application/octet-stream")


class MetaHandler(_H5Handler):
    def work(self, fs, f, path, args):
        return reader.meta(fs, f, path)


class AttrsHandler(_H5Handler):
    def work(self, fs, f, path, args):
        path, obj = reader.resolve(fs, f, path)
        return {"path": path, "attrs": reader.attrs_of(obj, full=True, fs=fs)}


class NxDefaultHandler(_H5Handler):
    def work(self, fs, f, path, args):
        return reader.nxdefault(fs, f, path)


class DataHandler(_H5Handler):
    ARGS = ("format", "select", "max_pixels")

    def work(self, fs, f, path, args):
        _, ds = reader.resolve(fs, f, path)
        if not isinstance(ds, h5py.Dataset):
            raise SelectionError("path", f"{path} is a group, not a dataset")
        fmt = args["format"] or "bin"
        if fmt == "json":
            return reader.read_json(ds, args["select"], fs)
        if fmt != "bin":
            raise SelectionError("format", f"{fmt!r} is not one of bin, json")
        return reader.read_selection(ds, args["select"], args["max_pixels"], fs)


ROUTES = [("meta", MetaHandler), ("attrs", AttrsHandler), ("data", DataHandler), ("nxdefault", NxDefaultHandler)]
