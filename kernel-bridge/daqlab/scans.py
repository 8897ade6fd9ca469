"""Scans in the server's store: finding them, waiting for new ones, their streams."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Iterator

from . import _protocol as P
from .errors import NotFoundError, public_api

__all__ = ["Scans", "Scan"]


@public_api
class Scans:
    """``client.scans``: discovery of scans.

    ``search`` remembers the store's newest ``seq`` it saw, and ``wait_next`` waits
    for the first scan after it, so a scan created between the two is not missed::

        found = client.scans.search(proposal="ih-1234")
        while True:
            scan = client.scans.wait_next()   # every new scan, one after the other
    """

    def __init__(self, client):
        self._client = client
        self.seq: int | None = None  # newest seq seen by search / wait_next

    def last(self) -> "Scan | None":
        """The newest scan, or None when the store is empty."""
        summary = self._client._request(P.OP_SCANS_LAST)
        return Scan(self._client, summary) if summary else None

    def search(self, since: int | None = None, **identity) -> list["Scan"]:
        """Scans whose identity matches every given field (``name, number, session,
        proposal, sample, dataset, path``), optionally only those with seq > ``since``."""
        unknown = set(identity) - set(P.SCAN_IDENTITY_FIELDS)
        if unknown:
            raise TypeError(f"unknown identity field(s) {sorted(unknown)}; use {', '.join(P.SCAN_IDENTITY_FIELDS)}")
        params = dict(identity)
        if since is not None:
            params["since"] = since
        result = self._client._request(P.OP_SCANS_SEARCH, params)
        self.seq = result.get("seq", self.seq)
        return [Scan(self._client, s) for s in result.get("scans") or []]

    def wait_next(self, timeout: float | None = None) -> "Scan":
        """The next scan after the last one seen (by ``search``, ``wait_next``, or, at
        first use, the newest scan now), waiting up to ``timeout`` seconds (None: forever;
        TimeoutError when none comes)."""
        if self.seq is None:
            last = self.last()
            self.seq = last.seq if last is not None else 0
        params: dict = {"after": self.seq}
        if timeout is not None:
            params["timeout"] = timeout
        req_timeout = None if timeout is None else timeout + self._client.timeout
        summary = self._client._request(P.OP_SCANS_WAIT_NEXT, params, timeout=req_timeout)
        scan = Scan(self._client, summary)
        self.seq = max(self.seq, scan.seq)
        return scan

    def get(self, key: str) -> "Scan":
        """The scan with this key (NotFoundError when there is none)."""
        return Scan(self._client, self._client._request(P.OP_SCAN_GET, {"scan": key}))

    __getitem__ = get

    def __repr__(self) -> str:
        return f"<daqlab.Scans of {self._client.url}>"


@public_api
class Scan:
    """One scan: identity, info, state and named streams of arrays or events."""

    def __init__(self, client, summary: dict):
        self._client = client
        self._summary: dict = summary
        self._streams: dict = {}
        self.streams = _StreamMap(self)
        self._update_streams()

    # --------------------------------------------------------------- summary
    @property
    def key(self) -> str:
        return self._summary["key"]

    @property
    def seq(self) -> int:
        return int(self._summary.get("seq") or 0)

    @property
    def identity(self) -> dict:
        """name, number, session, proposal, sample, dataset, path"""
        return dict(self._summary.get("identity") or {})

    @property
    def name(self) -> str | None:
        return self.identity.get("name")

    @property
    def number(self) -> int | None:
        return self.identity.get("number")

    @property
    def info(self) -> dict:
        """Scan info (acquisition, detector, end_reason, user metadata …); refreshed from
        the server until the scan is CLOSED, when it no longer changes."""
        if self._summary.get("state") != P.SCAN_CLOSED:
            self.refresh()
        return self._summary.get("info") or {}

    @property
    def files(self) -> list[str]:
        """Paths of the files this scan is saved to: the master first, then the data
        files (as they are opened, while the scan runs), then the sparse file."""
        saving = self.info.get("saving") or {}
        files = [saving["master"]] if saving.get("master") else []
        files += list(saving.get("files") or [])
        if saving.get("sparse"):
            files.append(saving["sparse"])
        return files

    def open_saved(self):
        """The saved scan (:func:`daqlab.open_master` on this scan's master file)."""
        from .saved import open_master

        saving = self.info.get("saving") or {}
        if not saving.get("master"):
            raise NotFoundError(f"scan {self.key} is not saved (prepare with saving={{'enabled': True, ...}})")
        return open_master(saving["master"])

    @property
    def created(self) -> str | None:
        return self._summary.get("created")

    @property
    def summary(self) -> dict:
        """The raw ScanSummary as of the last refresh."""
        return self._summary

    @property
    def state(self) -> str:
        """CREATED, PREPARED, STARTED, STOPPED or CLOSED (refreshed from the server)."""
        return self.refresh()._summary["state"]

    def refresh(self) -> "Scan":
        """Fetch the summary (state, info, streams and their lengths) again."""
        self._summary = self._client._request(P.OP_SCAN_GET, {"scan": self.key})
        self._update_streams()
        return self

    def _update_streams(self) -> None:
        from .streams import Stream

        for info in self._summary.get("streams") or []:
            stream = self._streams.get(info["name"])
            if stream is None:
                self._streams[info["name"]] = Stream(self._client, self.key, info)
            else:
                stream._info = info

    def __getitem__(self, name: str):
        """``scan['frames']`` is ``scan.streams['frames']``."""
        return self.streams[name]

    def __repr__(self) -> str:
        ident = self.identity
        label = f"{ident.get('name', '')}#{ident.get('number', '')}" if ident else ""
        return (f"<daqlab.Scan {self.key} {label} {self._summary.get('state')} "
                f"streams: {', '.join(self._streams) or '-'}>")


class _StreamMap(Mapping):
    """``scan.streams``: name → Stream, refreshed from the server when a name is
    missing or (for a scan still open) when listed."""

    def __init__(self, scan: Scan):
        self._scan = scan

    def _maybe_refresh(self) -> None:
        if self._scan._summary.get("state") != P.SCAN_CLOSED:
            self._scan.refresh()

    def __getitem__(self, name: str):
        streams = self._scan._streams
        if name not in streams:
            self._scan.refresh()
        try:
            return streams[name]
        except KeyError:
            raise NotFoundError(f"scan {self._scan.key} has no stream {name!r}; available: "
                                f"{', '.join(sorted(streams)) or 'none'}") from None

    def __iter__(self) -> Iterator[str]:
        self._maybe_refresh()
        return iter(list(self._scan._streams))

    def __len__(self) -> int:
        self._maybe_refresh()
        return len(self._scan._streams)

    def __contains__(self, name) -> bool:
        if name not in self._scan._streams:
            self._maybe_refresh()
        return name in self._scan._streams

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{k!r}: {v!r}" for k, v in self._scan._streams.items()) + "}"
