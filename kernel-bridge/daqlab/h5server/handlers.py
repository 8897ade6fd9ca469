"""Jupyter server handlers of the HDF5 viewer: the h5grove API that h5web reads,
`<base_url>daqlab/h5grove/{meta,attr,data,paths}` (`grove.py`), and daqlab's own
`<base_url>daqlab/h5/{meta,attrs,data,nxdefault}` (binned hyperslabs, NeXus default plot).

Every request names `file` (relative to the Jupyter server's root directory; anything that
resolves outside it is refused with 403) and `path` (an HDF5 path, default `/`). Links and
virtual-dataset sources are followed only inside the root (`confine.py`, 403 otherwise), and
every response is bounded (`limits.py`). The reading runs in a few worker processes
(`pool.py`, `worker.py`), never on the server's loop: files are opened read-only without HDF5
file locking (so files still being written by the daqlab server can be read); a read that
outlasts READ_TIMEOUT_S is answered 504 and its worker killed, and past MAX_IN_FLIGHT
requests new ones get 503, so one slow file cannot leave every user's viewer waiting.
Files in a proposal's folder are served only to whom the daqlab server says may read them
(`access.py`); a refusal is the 404 of a missing file.
"""
from __future__ import annotations

import asyncio
import json
import os
import stat

import numpy as np
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

from . import limits
from .access import Undecided, may_read
from .confine import SelectionError
from .pool import Busy, ReadPool, Timeout, WorkerDied

POOL = ReadPool(limits.WORKERS, limits.MAX_IN_FLIGHT)


def resolve_file(root_dir: str, rel: str | None) -> str:
    """The absolute real path of `rel` under `root_dir`; 400/403/404 with a reason otherwise."""
    return checked_file(rel, locate_file(root_dir, rel))


def locate_file(root_dir: str, rel: str | None) -> str:
    """The absolute real path of `rel`, confined to `root_dir` (nothing is opened or stat'ed)."""
    if not rel:
        raise web.HTTPError(400, reason="file: missing (a path relative to the Jupyter root directory)")
    root = os.path.realpath(root_dir)
    full = os.path.realpath(os.path.join(root, rel.lstrip("/")))
    if os.path.commonpath([root, full]) != root:
        raise web.HTTPError(403, reason=f"file: {rel!r} is outside the Jupyter root directory")
    return full


def not_found(rel: str) -> web.HTTPError:
    # one wording for "no such file" and "not yours to read": a refusal never tells what exists
    return web.HTTPError(404, reason=f"file: {rel!r} does not exist")


def checked_file(rel: str, full: str) -> str:
    """`full` when it is a regular file; 400/404 with a reason otherwise."""
    try:
        mode = os.stat(full).st_mode  # stat, never open: a FIFO must not block
    except OSError:
        raise not_found(rel) from None
    if stat.S_ISDIR(mode):
        raise web.HTTPError(400, reason=f"file: {rel!r} is a directory, not an HDF5 file")
    if not stat.S_ISREG(mode):
        raise web.HTTPError(400, reason=f"file: {rel!r} is not a regular file")
    return full


class _H5Handler(APIHandler):
    """Shared parameter parsing, the pool and error mapping; `KIND` names the job
    (`worker.JOBS`). Reading a file is reading contents: a user whose Jupyter authorizer
    refuses `contents:read` (JupyterHub scopes) is refused here too."""

    auth_resource = "contents"
    KIND = ""
    #: query arguments the job gets besides file and path
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

    def _args(self) -> dict:
        args = {name: self.get_query_argument(name, None) for name in self.ARGS}
        if "max_pixels" in args:
            args["max_pixels"] = self._int_arg("max_pixels")
        return args

    def _fail(self, status: int, message: str, field: str | None = None) -> None:
        self.set_status(status)
        # `message` is what h5web shows (h5grove's error body), `error` what daqlab's clients read
        body = {"error": message, "message": message, "status": status}
        if field:
            body["field"] = field
        self.finish(json.dumps(body))

    @web.authenticated
    @authorized
    async def get(self):
        root = self._root()
        rel = self.get_query_argument("file", None)
        full = locate_file(root, rel)
        # who may read it (a proposal's folder: the daqlab server's rules, access.py), before anything
        # tells whether it exists
        try:
            allowed = await may_read(self.current_user, full)
        except Undecided as e:
            return self._fail(503, f"file: {e}", "file")
        if not allowed:
            raise not_found(rel)
        full = checked_file(rel, full)
        path = self.get_query_argument("path", "/") or "/"
        try:
            args = self._args()
        except SelectionError as e:
            return self._fail(400, str(e), e.field)
        try:
            out, touched = await POOL.run((self.KIND, root, full, path, args), limits.READ_TIMEOUT_S)
            # files reached through external links and VDS sources: the same rule as the file asked for
            others = [t for t in touched if t != full]
            if others:
                try:
                    allowed = await asyncio.gather(*(may_read(self.current_user, t) for t in others))
                except Undecided as e:
                    return self._fail(503, f"file: {e}", "file")
                if not all(allowed):
                    return self._fail(403, f"path: {path} of {rel} leads (through a link or a VDS source) to a file you may not read", "path")
        except Busy as e:
            return self._fail(503, f"the HDF5 viewer is busy ({e}): try again shortly")
        except Timeout:
            out = ("error", 504, "path", f"path: reading {path} of {rel} took longer than {limits.READ_TIMEOUT_S:g} s")
        except WorkerDied:
            out = ("error", 500, None, f"reading {path} of {rel} failed: the reading process ended")
        if out[0] == "raw":
            headers = dict(out[2])
            headers.pop("Content-Length", None)  # tornado sets it
            content_type = headers.pop("Content-Type", "application/octet-stream")
            for key, value in headers.items():  # Content-Disposition of exports (npy, tiff, csv)
                self.set_header(key, value)
            self.finish(out[1], set_content_type=content_type)
        elif out[0] == "bin":
            self._send_binary(out[1], out[2])
        elif out[0] == "json":
            self.finish(out[1])
        else:
            _, status, field, message = out
            if status == 500:
                self.log.error("daqlab h5: %s %s: %s", full, path, message)
            self._fail(status, message, field)

    def write_error(self, status_code: int, **kwargs):
        # tornado's HTTPError reason as JSON, like our 400s (APIHandler already does JSON: keep the reason)
        reason = self._reason
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": reason, "message": reason, "status": status_code}))

    def _send_binary(self, header: dict, data: np.ndarray) -> None:
        """u32 LE header length, JSON header padded with spaces so the payload starts on an
        8-byte boundary (the browser views it as a typed array without copying), payload."""
        h = json.dumps(header).encode()
        h += b" " * ((-(4 + len(h))) % 8)
        self.write(len(h).to_bytes(4, "little") + h)
        self.write(data.tobytes())
        self.finish(set_content_type="application/octet-stream")


class MetaHandler(_H5Handler):
    KIND = "meta"


class AttrsHandler(_H5Handler):
    KIND = "attrs"


class NxDefaultHandler(_H5Handler):
    KIND = "nxdefault"


class DataHandler(_H5Handler):
    KIND = "data"
    ARGS = ("format", "select", "max_pixels")


ROUTES = [("meta", MetaHandler), ("attrs", AttrsHandler), ("data", DataHandler), ("nxdefault", NxDefaultHandler)]


class GroveMetaHandler(_H5Handler):
    KIND = "grove_meta"


class GroveAttrHandler(_H5Handler):
    KIND = "grove_attr"

    def _args(self) -> dict:
        return {"attr_keys": self.get_query_arguments("attr_keys", strip=False)}


class GroveDataHandler(_H5Handler):
    KIND = "grove_data"
    ARGS = ("selection", "format", "dtype", "flatten")


class GrovePathsHandler(_H5Handler):
    KIND = "grove_paths"


#: h5grove's endpoints (h5web asks `<url>/meta?file=…&path=…`; a trailing slash is accepted too)
GROVE_ROUTES = [("meta/?", GroveMetaHandler), ("attr/?", GroveAttrHandler), ("data/?", GroveDataHandler),
                ("paths/?", GrovePathsHandler)]
