"""The entry point: ``daqlab.connect()`` returns a :class:`Client`."""

from __future__ import annotations

import os
import threading
import warnings
from typing import Any, Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from . import _protocol as P
from ._connection import _DEFAULT, HEARTBEAT as _HEARTBEAT, Connection, ServerUnreachable
from .errors import ProtocolError

__all__ = ["connect", "Client", "resolve_url"]


def resolve_url(url: str | None = None, token: str | None = None) -> tuple[str, str, str | None]:
    """Complete a server address: ``(url to connect to, url for display, token)``.

    ``url`` defaults to ``$DAQLAB_URL``, else ``ws://127.0.0.1:8765``; ``ws://`` is
    assumed when no scheme is given, ``http(s)`` becomes ``ws(s)``, and the path ``/ws``
    is added when there is none. ``token`` defaults to ``$DAQLAB_TOKEN`` or a
    ``token=`` already in the URL; it is taken out of the URL and sent only in the
    ``Authorization: token …`` header (URLs end up in proxies' logs).
    """
    url = url or os.environ.get(P.URL_ENV) or P.DEFAULT_URL
    if "://" not in url:
        url = "ws://" + url
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss"):
        raise ValueError(f"daqlab URL must be ws://host:port[/path]: {url!r}")
    path = parts.path if parts.path not in ("", "/") else P.WS_PATH
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    in_url = next((v for k, v in query if k == "token"), None)
    if token is None:
        token = in_url or os.environ.get(P.TOKEN_ENV) or None
    query = [(k, v) for k, v in query if k != "token"]
    full = urlunsplit((scheme, parts.netloc, path, urlencode(query), ""))
    return full, full, token


def _new_client_id() -> str:
    """Who this client is, for the server's record of who prepared an acquisition: kept
    across reconnects, so that a reconnected client still owns its acquisitions."""
    import getpass
    import socket
    import uuid

    try:
        user = getpass.getuser()
    except Exception:
        user = "?"
    ident = f"python {user}@{socket.gethostname()} pid {os.getpid()} {uuid.uuid4().hex[:8]}"
    return "".join(c if " " <= c <= "~" else "?" for c in ident)[:128]


class Client:
    """A connection to a daqlab server.

    >>> import daqlab
    >>> client = daqlab.connect()             # $DAQLAB_URL or ws://127.0.0.1:8765/ws
    >>> client.detectors()
    ['sim-eiger-500k', ...]
    >>> det = client.detector('sim-eiger-500k')
    >>> acq = det.prepare(acquisition={'nb_frames': 100, 'expo_time': 0.001})
    >>> acq.start().wait()
    >>> frames = acq.scan.streams['frames'][:10]

    If the connection is lost, waiting calls raise ``ConnectionError``; the next call
    reconnects (or raises ``ConnectionError`` saying the server is unreachable).
    """

    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 10.0,
                 heartbeat: float | None = None):
        self._full_url, self.url, self._token = resolve_url(url, token)
        self.timeout = timeout
        self.heartbeat = _HEARTBEAT if heartbeat is None else heartbeat
        #: sent in ``hello``; the server records it as the owner of acquisitions this client prepares
        self.client_id = _new_client_id()
        self._handlers: list[tuple[str, Callable[[dict], None]]] = []
        self._lock = threading.Lock()
        self._closed = False
        self._conn: Connection = self._open()
        from .scans import Scans

        self.scans = Scans(self)
        from .catalogue import Catalogue

        #: proposals, samples, datasets as this client may see them (catalogue.py)
        self.catalogue = Catalogue(self)

        from .logbook import Logbook

        #: the server's e-logbook (daqlab/logbook.py)
        self.logbook = Logbook(self)

    def _open(self) -> Connection:
        conn = Connection(self._full_url, self._token, self.timeout, display_url=self.url,
                          heartbeat=self.heartbeat or None)
        try:
            info = conn.request(P.OP_HELLO, {"client": self.client_id})
        except BaseException:
            conn.close()
            raise
        if not isinstance(info, dict) or info.get("server") != "daqlab":
            conn.close()
            raise ProtocolError(f"{self.url} answered hello with {info!r}: not a daqlab server")
        if info.get("protocol") != P.PROTOCOL_VERSION:
            warnings.warn(f"daqlab server at {self.url} speaks protocol {info.get('protocol')}, "
                          f"this client {P.PROTOCOL_VERSION}: some calls may fail", stacklevel=3)
        self.server_info: dict = info
        for event, handler in self._handlers:
            conn.on(event, handler)
        return conn

    # ------------------------------------------------------------- plumbing
    @property
    def connection(self) -> Connection:
        """The live connection, reconnecting once if the previous one was lost."""
        conn = self._conn
        if conn.alive:
            return conn
        if self._closed:
            raise ConnectionError(f"this daqlab client ({self.url}) was closed: call daqlab.connect() again")
        with self._lock:
            if not self._conn.alive:
                try:
                    self._conn = self._open()
                except ServerUnreachable as exc:
                    raise ServerUnreachable(f"{exc} (the connection was lost: {conn.close_reason})") from None
            return self._conn

    def reconnect(self) -> "Client":
        """Drop the current connection and open a new one (subscriptions of the old one end)."""
        with self._lock:
            self._conn.close()
            self._closed = False
            self._conn = self._open()
        return self

    def call(self, op: str, params: dict | None = None, *, timeout: Any = _DEFAULT, **fields) -> Any:
        """Send any protocol operation and return its result (raw access), e.g.
        ``client.call("scan.get", scan=key)``. Fields may be given as ``params`` (needed
        for a field named ``timeout``) or as keywords; ``timeout`` is the client's wait."""
        return self.connection.request(op, {**(params or {}), **fields}, timeout=timeout)

    def _request(self, op: str, params: dict | None = None, **kw) -> Any:
        return self.connection.request(op, params, **kw)

    def on(self, event: str, handler: Callable[[dict], None]) -> Callable[[], None]:
        """Call ``handler(msg)`` for every pushed ``event`` (``acq.state``, ``scan.new`` … or
        ``"*"``). It runs in the reader thread: keep it short. Returns a remover; handlers
        survive reconnection."""
        entry = (event, handler)
        with self._lock:
            self._handlers.append(entry)
            self._conn.on(event, handler)

        def remove():
            with self._lock:
                if entry in self._handlers:
                    self._handlers.remove(entry)
                self._conn.off(event, handler)

        return remove

    # ---------------------------------------------------------------- API
    def detectors(self) -> list[str]:
        """Names of the detectors this server drives."""
        return list(self._request(P.OP_DETECTORS_LIST)["detectors"])

    def detector(self, name: str):
        """The detector ``name`` (NotFoundError, listing the known ones, when there is none)."""
        from .detector import Detector

        info = self._request(P.OP_DETECTOR_INFO, {"detector": name})
        return Detector(self, name, info)

    # devices (daqlab/devices.py) and step scans (daqlab/scanning.py)
    def devices(self) -> list[str]:
        """Names of the server's devices (axes, counters, MCAs); ``call("devices.list")`` describes them."""
        return [d["name"] for d in self._request(P.OP_DEVICES_LIST)["devices"]]

    def device(self, name: str):
        """The proxy of device ``name`` (an Axis, Counter or Mca)."""
        from .devices import device_proxy

        return device_proxy(self, name)

    def axis(self, name: str):
        from .devices import device_proxy

        return device_proxy(self, name, "axis")

    def counter(self, name: str):
        from .devices import device_proxy

        return device_proxy(self, name, "counter")

    def mca(self, name: str):
        from .devices import device_proxy

        return device_proxy(self, name, "mca")

    def measurement_group(self, name: str, counters: list):
        """A named set of counters to pass to scans (kept in this client)."""
        from .devices import MeasurementGroup

        return MeasurementGroup(name, counters)

    def sample(self) -> dict:
        """The simulated sample's ground truth (element grains, absorption, flux)."""
        return self._request(P.OP_SAMPLE_INFO)

    def close(self) -> None:
        """Close the connection (closing handshake)."""
        self._closed = True
        self._conn.close()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def state(self) -> str:
        """``connected``, ``unresponsive`` (the server stopped answering pings: the connection
        was dropped; the next call reconnects), ``lost`` or ``closed``."""
        return "closed" if self._closed else self._conn.state

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        info = getattr(self, "server_info", {}) or {}
        state = "closed" if self._closed else self._conn.state
        dets = ", ".join(info.get("detectors") or [])
        return (f"<daqlab.Client {self.url} {state}: server {info.get('version', '?')}, "
                f"protocol {info.get('protocol', '?')}" + (f", detectors {dets}" if dets else "") + ">")


def connect(url: str | None = None, token: str | None = None, timeout: float = 10,
            heartbeat: float | None = None) -> Client:
    """Connect to a daqlab server.

    ``url``: ``ws://host:port[/path][?query]`` (default ``$DAQLAB_URL``, else
    ``ws://127.0.0.1:8765``; ``/ws`` is added when the path is empty). ``token``:
    default ``$DAQLAB_TOKEN``. ``timeout``: seconds for connecting and for each reply.
    ``heartbeat``: seconds of silence after which the client pings the server (default
    10); after 3 silent heartbeats the server is taken for unresponsive: the connection
    is dropped and waiting calls raise ``ConnectionError`` (0: no heartbeat).
    Raises ``ConnectionError`` when the server is unreachable and ``AuthError`` when
    it refuses the token.
    """
    return Client(url, token, timeout, heartbeat)
