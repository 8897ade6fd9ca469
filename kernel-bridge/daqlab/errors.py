"""Exceptions raised by the daqlab client, one per wire error type (docs/PROTOCOL.md)."""

from __future__ import annotations

import builtins
import functools
import inspect
import os
from typing import Any, Callable, TypeVar

from . import _protocol as P

__all__ = [
    "DaqlabError", "ParameterError", "StateError", "StreamIndexError", "IndexNoMoreThereError",
    "IndexNotYetThereError", "IndexWontBeThereError", "NotFoundError", "ProtocolError",
    "AuthError", "TimeoutError", "FaultError", "ServerError", "DataGapWarning", "error_from_body",
    "SlurmUnavailable", "LimitError", "DaqlabWarning", "DroppedFramesWarning", "FrameRateWarning", "public_api",
]


class DaqlabError(Exception):
    """Base of every error the daqlab server reports.

    ``type`` is the wire error type, ``body`` the whole error object as sent by the
    server; extra fields of the body (``state``, ``index``, ``length`` …) are also
    attributes.
    """

    type: str = "DaqlabError"

    def __init__(self, message: str = "", body: dict | None = None, **extra: Any):
        super().__init__(message)
        self.message = message
        self.body: dict = dict(body) if body else {"type": self.type, "message": message, **extra}
        for key, value in self.body.items():
            if key not in ("type", "message") and not hasattr(type(self), key):
                setattr(self, key, value)
        for key, value in extra.items():
            setattr(self, key, value)

    def __str__(self) -> str:
        return self.message


class ParameterError(DaqlabError, ValueError):
    """One or more parameters are wrong; ``fields`` lists every bad one as ``{field, message}``."""

    type = P.ERR_PARAMETER

    def __init__(self, message: str = "", body: dict | None = None, fields: list | None = None, **extra):
        body = dict(body) if body else {}
        if fields is None:
            fields = body.get("fields") or []
        self.fields: list[dict] = [dict(f) for f in fields]
        super().__init__(message, body or None, **extra)
        self.fields = [dict(f) for f in fields]

    def __str__(self) -> str:
        if not self.fields:
            return self.message
        head = self.message.split(":", 1)[0].strip() if self.message else ""
        if not head or head in {f.get("field") for f in self.fields}:
            head = "invalid parameters"
        lines = [f"{head} ({len(self.fields)} field{'s' if len(self.fields) != 1 else ''}):"]
        for f in self.fields:
            lines.append(f"  - {f.get('field') or '(params)'}: {f.get('message', '')}")
        return "\n".join(lines)


class StateError(DaqlabError):
    """The operation is not allowed in the current state (``state``)."""

    type = P.ERR_STATE


class StreamIndexError(DaqlabError, builtins.IndexError):
    """A stream index is not available; also an ``IndexError``."""

    type = "StreamIndexError"


class IndexNoMoreThereError(StreamIndexError):
    """The index existed but was trimmed from the server's memory (``index``, ``first``)."""

    type = P.ERR_INDEX_NO_MORE_THERE


class IndexNotYetThereError(StreamIndexError):
    """The index does not exist yet; the stream is still growing (``index``, ``length``)."""

    type = P.ERR_INDEX_NOT_YET_THERE


class IndexWontBeThereError(StreamIndexError):
    """The index is beyond the end of a sealed stream (``index``, ``length``)."""

    type = P.ERR_INDEX_WONT_BE_THERE


class NotFoundError(DaqlabError, KeyError):
    """Unknown detector, acquisition, scan, stream or subscription."""

    type = P.ERR_NOT_FOUND

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


class ProtocolError(DaqlabError):
    """A malformed message (either side) or a protocol mismatch."""

    type = P.ERR_PROTOCOL


class AuthError(DaqlabError, PermissionError):
    """Missing or wrong token."""

    type = P.ERR_AUTH


class TimeoutError(DaqlabError, builtins.TimeoutError):  # noqa: A001 - deliberate
    """A blocking call ran out of time (on the server or waiting for its reply)."""

    type = P.ERR_TIMEOUT


class FaultError(DaqlabError):
    """The detector or a receiver failed; ``reason`` says why."""

    type = P.ERR_FAULT


class SlurmUnavailable(DaqlabError):
    """No Slurm cluster is configured on the server (``configured`` is False), or slurmctld
    cannot be reached right now (``configured`` is True: try again later)."""

    type = P.ERR_SLURM_UNAVAILABLE


class LimitError(DaqlabError):
    """A per-connection limit of the server was reached (``body['limit']``: subscriptions, requests)."""

    type = P.ERR_LIMIT


class ServerError(DaqlabError):
    """The server hit a bug (``InternalError``) or sent an unknown error type; it keeps serving."""

    type = P.ERR_INTERNAL


class DaqlabWarning(UserWarning):
    """Base of the warnings daqlab gives about a run (filter them with ``warnings.filterwarnings``)."""


class DataGapWarning(DaqlabWarning):
    """A lossless subscription skipped items the server could no longer deliver."""


class DroppedFramesWarning(DaqlabWarning):
    """Processing did not keep up and frames were dropped (``Acquisition.wait``): the
    detector cannot be slowed down, so size the receivers (README, "Sizing receivers")."""


class FrameRateWarning(DaqlabWarning):
    """The detector acquired clearly slower than the frame rate the run asked for."""


_BY_TYPE: dict[str, type[DaqlabError]] = {
    cls.type: cls
    for cls in (ParameterError, StateError, IndexNoMoreThereError, IndexNotYetThereError,
                IndexWontBeThereError, NotFoundError, ProtocolError, AuthError, TimeoutError,
                FaultError, SlurmUnavailable, LimitError, ServerError)
}


def error_from_body(body: Any, op: str | None = None) -> DaqlabError:
    """Turn a wire error body ``{type, message, …}`` into the matching exception."""
    if not isinstance(body, dict):
        return ServerError(f"malformed error from server: {body!r}", {"type": P.ERR_INTERNAL, "message": str(body)})
    etype = body.get("type")
    message = str(body.get("message") or etype or "error")
    cls = _BY_TYPE.get(etype)  # type: ignore[arg-type]
    if cls is None:
        cls = ServerError
        message = f"{etype}: {message}"
    if cls is ServerError and etype == P.ERR_INTERNAL:
        message = f"server internal error{f' in {op}' if op else ''}: {message}"
    return cls(message, body)


# ------------------------------------------------------------ short tracebacks
_F = TypeVar("_F", bound=Callable)

#: ``DAQLAB_FULL_TRACEBACKS=1`` keeps the client's internal frames in tracebacks (for debugging daqlab)
_FULL = os.environ.get("DAQLAB_FULL_TRACEBACKS", "") not in ("", "0")


def _trimmed(fn: _F) -> _F:
    """``fn`` re-raising the errors the server reports (DaqlabError) and a lost server
    (ConnectionError) from its own frame, so the traceback a user sees ends at the call they
    made: the client's internal frames (request, connection, reader) are dropped. The frame
    itself is hidden by IPython and pytest (``__tracebackhide__``)."""
    if inspect.isgeneratorfunction(fn):
        return fn

    @functools.wraps(fn)
    def call(*args, **kwargs):
        __tracebackhide__ = True  # noqa: F841 - read by IPython and pytest
        try:
            return fn(*args, **kwargs)
        except (DaqlabError, ConnectionError) as err:
            if _FULL:
                raise
            raise err.with_traceback(None)

    return call  # type: ignore[return-value]


def public_api(cls: type) -> type:
    """Class decorator: every public method and property of ``cls`` raises daqlab's errors
    with a short traceback (see ``_trimmed``)."""
    for name, attr in list(vars(cls).items()):
        if name.startswith("_") and name != "__getitem__":
            continue
        if isinstance(attr, property):
            setattr(cls, name, property(_trimmed(attr.fget) if attr.fget else None, attr.fset, attr.fdel, attr.__doc__))
        elif isinstance(attr, (staticmethod, classmethod)):
            continue
        elif inspect.isfunction(attr):
            setattr(cls, name, _trimmed(attr))
    return cls
