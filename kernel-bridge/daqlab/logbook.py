"""The e-logbook of the daqlab server: entries written by people and by software.

>>> c = daqlab.connect()
>>> c.logbook.add("sample centred, beam on", tags=["alignment"], category="comment", proposal="mx1234")
>>> c.logbook.add(fig, caption="azimuthal profile of scan 12")     # a matplotlib figure, stored as PNG
>>> c.logbook.add("**Markdown** works", format="markdown")
>>> c.logbook.search(text="beam", tags=["alignment"], category="comment", since=timedelta(hours=2))
>>> c.logbook.edit(entry, "corrected text")                          # a new version; nothing is deleted
>>> c.logbook.stats(proposal="mx1234")

daqlab writes its own notifications (scans started and ended, faults, dropped frames,
job results); BLISS's ``pyicat-plus`` writes through the ICAT+ endpoints
(``http://SERVER/icatplus/``). HTML is sanitised by the server: ``entry.html`` is safe to show.
"""

from __future__ import annotations

import base64
import io
import os
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable

from . import _protocol as P

__all__ = ["Logbook", "Entry"]

_LINKS = ("beamline", "proposal", "session", "sample", "dataset")


class Entry(dict):
    """One logbook entry (its current version): a dict with attribute access
    (``id``, ``created``, ``version``, ``type``, ``category``, ``tags``, ``content``, ``html``,
    ``text``, ``author``, ``proposal`` ..., ``attachments``)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def _repr_html_(self) -> str:
        import html

        head = (f"<div style='font-size:smaller;color:#666'>#{self['id']} v{self['version']} · "
                f"{html.escape(self['created'])} · {html.escape(self['author'])} · {self['type']}/{self['category']}"
                + (" · " + ", ".join(html.escape(t) for t in self["tags"]) if self["tags"] else "") + "</div>")
        return f"<div>{head}{self['html']}</div>"  # html: sanitised by the server

    def __repr__(self) -> str:
        text = self.get("text", "").replace("\n", " ")
        return (f"<logbook entry #{self.get('id')} v{self.get('version')} {self.get('created')} "
                f"{self.get('category')} by {self.get('author')}: {text[:60]!r}>")


def _image_bytes(obj: Any) -> tuple[bytes, str, str] | None:
    """(data, mime, name) of a figure or picture, or None when ``obj`` is none of them."""
    if hasattr(obj, "savefig"):  # matplotlib Figure
        buf = io.BytesIO()
        obj.savefig(buf, format="png", bbox_inches="tight")
        return buf.getvalue(), "image/png", "figure.png"
    if isinstance(obj, (bytes, bytearray)):
        data = bytes(obj)
        mime = "image/png" if data[:8] == b"\x89PNG\r\n\x1a\n" else "application/octet-stream"
        return data, mime, "figure.png" if mime == "image/png" else "attachment.bin"
    repr_png = getattr(obj, "_repr_png_", None)  # PIL images, IPython.display.Image, widgets that draw themselves
    if callable(repr_png):
        data = repr_png()
        if isinstance(data, (bytes, bytearray)):
            return bytes(data), "image/png", "image.png"
    return None


def _file(path: str | os.PathLike) -> dict:
    import mimetypes

    path = os.fspath(path)
    mime = mimetypes.guess_type(path)[0] or "application/octet-stream"
    with open(path, "rb") as f:
        data = f.read(P.LOGBOOK_MAX_ATTACHMENT_BYTES + 1)
    if len(data) > P.LOGBOOK_MAX_ATTACHMENT_BYTES:
        raise ValueError(f"{path}: larger than the logbook's attachment limit of {P.LOGBOOK_MAX_ATTACHMENT_BYTES} bytes")
    return {"name": os.path.basename(path), "mime": mime, "base64": base64.b64encode(data).decode("ascii")}


def _time(value: Any, field: str) -> Any:
    """ISO text for the server: datetimes, ISO strings, seconds since the epoch, or a timedelta back from now."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        value = datetime.now(timezone.utc) - value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.astimezone()
        return value.isoformat()
    if isinstance(value, (int, float, str)):
        return value
    raise TypeError(f"{field}: expected a datetime, timedelta, ISO string or seconds since the epoch, got {type(value).__name__}")


def _dataset(value: Any) -> Any:
    """A scan (anything with a ``key``) is named by its key."""
    return getattr(value, "key", value)


class Logbook:
    """The server's e-logbook, through this client's connection (``client.logbook``)."""

    def __init__(self, client):
        self._client = client

    def add(self, content: Any = "", *, caption: str | None = None, tags: Iterable[str] | None = None,
            category: str | None = None, type: str | None = None, format: str | None = None,
            files: Iterable[str | os.PathLike] = (), beamline: str | None = None, proposal: str | None = None,
            session: str | None = None, sample: str | None = None, dataset: Any = None) -> Entry:
        """Write an entry. ``content``: text (``format`` plainText by default, or ``"html"``,
        ``"markdown"``), or a picture: a matplotlib figure (stored as PNG), PNG bytes, or anything
        with ``_repr_png_``, with an optional ``caption``. ``files``: paths to attach. ``category``:
        info, error, debug, commandline or comment (default comment); ``type``: annotation
        (default) or notification. ``dataset`` may be a scan."""
        attachments = [_file(p) for p in files]
        if not isinstance(content, str):
            picture = _image_bytes(content)
            if picture is None:
                raise TypeError(f"content: expected text, a matplotlib figure, PNG bytes or an object with _repr_png_, "
                                f"got {content.__class__.__name__}")
            data, mime, name = picture
            attachments.insert(0, {"name": name, "mime": mime, "base64": base64.b64encode(data).decode("ascii")})
            content = caption or ""
        elif caption is not None:
            raise TypeError("caption: only for a figure or picture; put the text in content")
        req: dict[str, Any] = {"content": content}
        for key, value in (("tags", list(tags) if tags is not None else None), ("category", category), ("type", type),
                           ("format", format), ("attachments", attachments or None), ("beamline", beamline),
                           ("proposal", proposal), ("session", session), ("sample", sample),
                           ("dataset", _dataset(dataset))):
            if value is not None:
                req[key] = value
        return Entry(self._client._request(P.OP_LOGBOOK_ADD, req)["entry"])

    def edit(self, entry: int | Entry, content: str | None = None, *, tags: Iterable[str] | None = None,
             category: str | None = None, format: str | None = None) -> Entry:
        """A new version of ``entry`` (what is not given is kept); earlier versions stay (``get(versions=True)``)."""
        req: dict[str, Any] = {"entry": int(entry["id"] if isinstance(entry, dict) else entry)}
        for key, value in (("content", content), ("tags", list(tags) if tags is not None else None),
                           ("category", category), ("format", format)):
            if value is not None:
                req[key] = value
        return Entry(self._client._request(P.OP_LOGBOOK_EDIT, req)["entry"])

    def get(self, entry: int, versions: bool = False) -> Entry | list[Entry]:
        """The entry, or with ``versions=True`` every version of it, oldest first."""
        reply = self._client._request(P.OP_LOGBOOK_GET, {"entry": int(entry), "versions": bool(versions)})
        return [Entry(v) for v in reply["versions"]] if versions else Entry(reply["entry"])

    def search(self, text: str | None = None, *, tags: Iterable[str] | None = None,
               category: str | Iterable[str] | None = None, type: str | None = None, since: Any = None,
               until: Any = None, limit: int = 100, before: int | None = None, **links: Any) -> list[Entry]:
        """Entries, newest first: every word of ``text``, every tag of ``tags``, any of ``category``,
        written at or after ``since`` (a datetime, ISO text, seconds since the epoch, or a timedelta back
        from now) and before ``until``; ``beamline=``, ``proposal=``, ``session=``, ``sample=``,
        ``dataset=`` narrow it down. At most ``limit`` (≤ 500); ``before=id`` pages back."""
        unknown = set(links) - set(_LINKS)
        if unknown:
            raise TypeError(f"search: unknown argument(s) {', '.join(sorted(unknown))}; links: {', '.join(_LINKS)}")
        req: dict[str, Any] = {"limit": limit}
        if isinstance(category, (list, tuple, set)):
            category = list(category)
        for key, value in (("text", text), ("tags", list(tags) if tags is not None else None), ("category", category),
                           ("type", type), ("since", _time(since, "since")), ("until", _time(until, "until")),
                           ("before", before), *((k, _dataset(v)) for k, v in links.items())):
            if value is not None:
                req[key] = value
        return [Entry(e) for e in self._client._request(P.OP_LOGBOOK_SEARCH, req)["entries"]]

    def stats(self, proposal: str | None = None) -> dict:
        """Counts for one investigation (or the whole logbook): entries by type, category and tag, attachments, first and last."""
        return self._client._request(P.OP_LOGBOOK_STATS, {"proposal": proposal} if proposal else {})

    def attachment(self, attachment: int | dict) -> bytes:
        """The bytes of an attachment (an id, or an item of ``entry.attachments``)."""
        aid = int(attachment["id"] if isinstance(attachment, dict) else attachment)
        return base64.b64decode(self._client._request(P.OP_LOGBOOK_ATTACHMENT, {"attachment": aid})["base64"])

    def on_entry(self, handler: Callable[[Entry], None]) -> Callable[[], None]:
        """Call ``handler(entry)`` for each entry written or edited from now on (in the reader thread); returns a remover."""
        return self._client.on(P.EV_LOGBOOK_ENTRY, lambda msg: handler(Entry(msg["entry"])))

    def __repr__(self) -> str:
        return f"<daqlab logbook of {self._client.url}>"
