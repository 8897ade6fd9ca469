"""Jupyter server handlers of the HDF5 viewer: `<base_url>daqlab/h5/{meta,attrs,data,nxdefault}`.

Every request names `file` (relative to the Jupyter server's root directory; anything that
resolves outside it is refused with 403) and `path` (an HDF5 path, default `/`). Files are
opened read-only without HDF5 file locking (so files still being written by the daqlab
server can be read) on a small thread pool, so a slow read never blocks the server's loop.
"""
from __future__ import annotations

import asyncio
import json
import os
from concurrent.futures import ThreadPoolExecutor

import h5py
import numpy as np
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

from . import reader
from .reader import SelectionError

_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="daqlab-h5")


def resolve_file(root_dir: str, rel: str | None) -> str:
    """The absolute path of `rel` under `root_dir`; 400/403/404 with a reason otherwise."""
    if not rel:
        raise web.HTTPError(400, reason="file: missing (a path relative to the Jupyter root directory)")
    root = os.path.realpath(root_dir)
    full = os.path.realpath(os.path.join(root, rel.lstrip("/")))
    if os.path.commonpath([root, full]) != root:
        raise web.HTTPError(403, reason=f"file: {rel!r} is outside the Jupyter root directory")
    if os.path.isdir(full):
        raise web.HTTPError(400, reason=f"file: {rel!r} is a directory, not an HDF5 file")
    if not os.path.isfile(full):
        raise web.HTTPError(404, reason=f"file: {rel!r} does not exist")
    return full


def open_h5(full: str) -> h5py.File:
    try:
        return h5py.File(full, "r", locking=False)
    except OSError as e:
        raise SelectionError("file", f"not an HDF5 file or unreadable ({e})") from None


class _H5Handler(APIHandler):
    """Shared parameter parsing and error mapping; subclasses implement `work(f, path)`.
    Reading a file is reading contents: a user whose Jupyter authorizer refuses `contents:read`
    (JupyterHub scopes) is refused here too."""

    auth_resource = "contents"

    def _file(self) -> str:
        root = self.settings.get("server_root_dir") or self.contents_manager.root_dir
        return resolve_file(root, self.get_query_argument("file", None))

    def _int_arg(self, name: str) -> int | None:
        v = self.get_query_argument(name, None)
        if v in (None, ""):
            return None
        try:
            return int(v)
        except ValueError:
            raise SelectionError(name, f"{v!r} is not an integer") from None

    def work(self, f: h5py.File, path: str):  # pragma: no cover - abstract
        raise NotImplementedError

    @web.authenticated
    @authorized
    async def get(self):
        full = self._file()
        path = self.get_query_argument("path", "/") or "/"

        def run():
            with open_h5(full) as f:
                return self.work(f, path)

        try:
            result = await asyncio.get_running_loop().run_in_executor(_POOL, run)
        except SelectionError as e:
            self.set_status(400)
            self.finish(json.dumps({"error": str(e), "field": e.field}))
            return
        except Exception as e:  # a broken file or filter: say so, keep serving
            self.log.exception("daqlab h5: %s %s failed", full, path)
            self.set_status(500)
            self.finish(json.dumps({"error": f"reading {path} failed: {type(e).__name__}: {e}"}))
            return
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
    def work(self, f, path):
        return reader.meta(f, path)


class AttrsHandler(_H5Handler):
    def work(self, f, path):
        _, obj = reader.resolve(f, path)
        return {"path": path, "attrs": reader.attrs_of(obj, full=True)}


class NxDefaultHandler(_H5Handler):
    def work(self, f, path):
        return reader.nxdefault(f, path)


class DataHandler(_H5Handler):
    def work(self, f, path):
        _, ds = reader.resolve(f, path)
        if not isinstance(ds, h5py.Dataset):
            raise SelectionError("path", f"{path} is a group, not a dataset")
        fmt = self.get_query_argument("format", "bin")
        select = self.get_query_argument("select", None)
        if fmt == "json":
            return reader.read_json(ds, select)
        if fmt != "bin":
            raise SelectionError("format", f"{fmt!r} is not one of bin, json")
        return reader.read_selection(ds, select, self._int_arg("max_pixels"))


ROUTES = [("meta", MetaHandler), ("attrs", AttrsHandler), ("data", DataHandler), ("nxdefault", NxDefaultHandler)]
