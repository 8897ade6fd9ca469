"""Jupyter's own file paths (`/files/...`, `/api/contents/...`, and so the file browser, downloads, `/nbconvert`,
`/view`) follow the same decision as the HDF5 endpoints: the daqlab server's, for the user Jupyter authenticated.

Why the contents manager and not a handler: nearly every one of those paths ends in the one contents manager,
so a guard there covers them all, including paths added by other extensions that read through it; a handler in
front of `/files` alone would leave `/api/contents`, `/nbconvert` and the rest open. The contents manager is one
per server, so the user comes from the request being served (jupyter_server's ``CallContext``); a call made by
the server itself (no request) is the server's own and is not guarded. The one path that does not go through
it, `/files/` of a file-system contents manager (a static file handler on the root), gets a subclass of its
handler that asks first (:func:`guard_files_handler`).

The guard wraps the instance the server created (an async contents manager, jupyter_server 2's default) when
``$DAQLAB_JUPYTER_SECRET`` is set. A file the user may not read is answered as a missing one (404, Jupyter's
own wording); directory listings leave out entries the user may not read, so a listing never tells which
other proposals exist; writes, renames, copies and checkpoints into such paths are refused the same way.
"""
from __future__ import annotations

import asyncio
import contextvars
import functools
import os

from tornado import web

from .access import Undecided, may_read

#: entries of one listing asked about at once
_CONCURRENT = 16
#: inside a guarded get: the contents manager's own look-ups of a listing's entries (filtered once, after)
_INNER: contextvars.ContextVar[bool] = contextvars.ContextVar("daqlab_contents_inner", default=False)


def _current_user():
    try:
        from jupyter_server import CallContext
    except ImportError:  # jupyter_server < 2.10: no way to know the user here
        return None
    handler = CallContext.get(CallContext.JUPYTER_HANDLER)
    return None if handler is None else handler.current_user


class _Guard:
    def __init__(self, cm):
        self.cm = cm

    def full_path(self, path: str) -> str:
        rel = (path or "").strip("/")
        return os.path.realpath(os.path.join(self.cm.root_dir, *rel.split("/")) if rel else self.cm.root_dir)

    async def readable(self, user, path: str) -> bool:
        try:
            return await may_read(user, self.full_path(path))
        except Undecided as e:
            raise web.HTTPError(503, str(e)) from None

    async def require(self, path: str) -> None:
        user = _current_user()
        if user is not None and not await self.readable(user, path):
            raise web.HTTPError(404, f"No such file or directory: {path}")

    async def listing(self, model: dict) -> dict:
        """A directory's model less the entries the current user may not read."""
        user = _current_user()
        if user is None or model.get("type") != "directory" or not isinstance(model.get("content"), list):
            return model
        gate = asyncio.Semaphore(_CONCURRENT)

        async def ok(entry) -> bool:
            async with gate:
                return await self.readable(user, entry["path"])

        entries = model["content"]
        keep = await asyncio.gather(*(ok(e) for e in entries))
        return {**model, "content": [e for e, k in zip(entries, keep) if k]}


def guard_contents(cm, log) -> bool:
    """Guard this contents manager's paths (True), or say why not (False: a synchronous manager)."""
    from jupyter_server.services.contents.manager import AsyncContentsManager

    if not isinstance(cm, AsyncContentsManager):
        log.warning("daqlab: %s is not an async contents manager: /files and /api/contents are NOT guarded by "
                    "the daqlab access rules (use jupyter_server's default AsyncLargeFileManager)", type(cm).__name__)
        return False
    g = _Guard(cm)

    def wrap(name: str, *path_args: int, path_kw: str | tuple[str, ...] = ()):
        original = getattr(cm, name)

        @functools.wraps(original)
        async def guarded(*args, **kwargs):
            if _INNER.get():
                return await original(*args, **kwargs)
            for i in path_args:
                if i < len(args) and isinstance(args[i], str):
                    await g.require(args[i])
            for kw in (path_kw,) if isinstance(path_kw, str) else path_kw:
                if isinstance(kwargs.get(kw), str):
                    await g.require(kwargs[kw])
            token = _INNER.set(True)
            try:
                out = await original(*args, **kwargs)
            finally:
                _INNER.reset(token)
            return await g.listing(out) if name == "get" and isinstance(out, dict) else out

        setattr(cm, name, guarded)

    def wrap_exists(name: str):
        original = getattr(cm, name)

        @functools.wraps(original)
        async def exists(path="", *args, **kwargs):
            if not await original(path, *args, **kwargs):
                return False
            user = None if _INNER.get() else _current_user()
            return user is None or await g.readable(user, path)

        setattr(cm, name, exists)

    wrap_exists("file_exists")
    wrap_exists("dir_exists")
    wrap("get", 0, path_kw="path")
    wrap("save", 1, path_kw="path")
    wrap("delete_file", 0, path_kw="path")
    wrap("rename_file", 0, 1, path_kw=("old_path", "new_path"))
    wrap("copy", 0, 1, path_kw=("from_path", "to_path"))
    wrap("new", 1, path_kw="path")
    wrap("new_untitled", 0, path_kw="path")
    wrap("create_checkpoint", 0, path_kw="path")
    wrap("list_checkpoints", 0, path_kw="path")
    wrap("restore_checkpoint", 1, path_kw="path")
    wrap("delete_checkpoint", 1, path_kw="path")
    log.info("daqlab: /files and /api/contents follow the daqlab server's access rules")
    return True


def guard_files_handler(web_app, handler_class, log) -> bool:
    """Put a guarded subclass of the `/files/` handler class in its routes (True when one was found)."""
    from tornado.routing import Router

    class GuardedFileHandler(handler_class):
        async def get(self, path, **kwargs):
            user = self.current_user
            root = getattr(self, "root", None)
            if user is not None and root:
                try:
                    ok = await may_read(user, os.path.realpath(os.path.join(root, path)))
                except Undecided as e:
                    raise web.HTTPError(503, str(e)) from None
                if not ok:
                    raise web.HTTPError(404)  # as the static handler answers a missing file
            return await super().get(path, **kwargs)

    found = 0

    def walk(router) -> None:
        nonlocal found
        for rule in getattr(router, "rules", []):
            if rule.target is handler_class:
                rule.target = GuardedFileHandler
                found += 1
            elif isinstance(rule.target, Router):
                walk(rule.target)

    walk(web_app.default_router)
    walk(web_app.wildcard_router)
    if not found:
        log.warning("daqlab: the /files handler (%s) was not found: /files is NOT guarded", handler_class.__name__)
    return bool(found)
