"""Jupyter widgets of daqlab. The views are TypeScript (widgets/ in the repository),
shipped prebuilt in this package's JupyterLab extension.

>>> from daqlab.widgets import LiveImage
>>> LiveImage(acq)                  # an Acquisition, a Scan, a Stream, a scan key, or None
LiveImage(...)

The browser reaches the daqlab server on its own (through jupyter-server-proxy on the
Jupyter server's address by default): frames go from the server to the browser, never
through the kernel. Only settings, the fps readout and ROIs travel through the kernel.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import ipywidgets as W
from traitlets import Bool, CFloat, Enum, Int, List, TraitError, Unicode, validate

from . import _protocol as P
from .client import resolve_url

__all__ = ["LiveImage", "browser_url"]

MODULE_NAME = "@daqlab/widgets"
MODULE_VERSION = "^0.1.0"  # the views register version 0.1.0 (widgets/src/version.ts)
BROWSER_URL_ENV = "DAQLAB_BROWSER_URL"
LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


def browser_url(server_url: str | None = None) -> str:
    """The address a browser uses to reach a daqlab server: ``$DAQLAB_BROWSER_URL`` if set;
    for a server on the Jupyter machine (loopback), ``proxy/<port>/ws`` — a path that the
    view resolves against the Jupyter server's base URL, so jupyter-server-proxy relays it
    with Jupyter's own origin and auth (JupyterHub and remote users need no extra port);
    otherwise the server's own ``ws://`` address."""
    if os.environ.get(BROWSER_URL_ENV):
        return os.environ[BROWSER_URL_ENV]
    _, display, _ = resolve_url(server_url)
    parts = urlsplit(display)
    if parts.hostname in LOOPBACK:
        return f"proxy/{parts.port or 80}{parts.path or P.WS_PATH}"
    return display


def _source(source, stream: str, client):
    """(client, scan key, stream name) of what LiveImage was given."""
    from .acquisition import Acquisition
    from .scans import Scan
    from .streams import Stream

    if isinstance(source, Acquisition):
        return source._client, source.scan.key, stream
    if isinstance(source, Scan):
        return source._client, source.key, stream
    if isinstance(source, Stream):
        return source._client, source.scan_key, source.name
    if source is None or isinstance(source, str):
        return client, source or "", stream
    raise TypeError(f"LiveImage shows an Acquisition, a Scan, a Stream or a scan key, not {type(source).__name__}")


class LiveImage(W.DOMWidget):
    """A live image of a detector stream, drawn in the browser with WebGL.

    ``LiveImage(acq)`` follows that acquisition's ``frame`` stream; ``LiveImage()``
    (or ``follow=True``) shows the newest scan and switches to each new one.

    In the view: wheel to zoom, drag to pan, double-click to fit, shift+drag to draw
    a region of interest (it is appended to ``rois`` as ``[row0, col0, rows, cols]`` in
    detector pixels). The toolbar sets the colormap, scale and range and pauses.
    """

    _model_name = Unicode("LiveImageModel").tag(sync=True)
    _view_name = Unicode("LiveImageView").tag(sync=True)
    _model_module = Unicode(MODULE_NAME).tag(sync=True)
    _view_module = Unicode(MODULE_NAME).tag(sync=True)
    _model_module_version = Unicode(MODULE_VERSION).tag(sync=True)
    _view_module_version = Unicode(MODULE_VERSION).tag(sync=True)

    server_url = Unicode(help="address the browser uses (see browser_url); a JupyterLab setting can override it").tag(sync=True)
    token = Unicode(help="token of a daqlab server started with --token").tag(sync=True)
    scan = Unicode(help="scan key; empty: the newest scan").tag(sync=True)
    stream = Unicode("frame").tag(sync=True)
    follow = Bool(False, help="switch to every new scan").tag(sync=True)
    colormap = Enum(["viridis", "magma", "inferno", "gray"], "viridis").tag(sync=True)
    reverse = Bool(False).tag(sync=True)
    scale = Enum(["linear", "log", "sqrt"], "linear").tag(sync=True)
    auto_range = Bool(True, help="vmin/vmax follow the 1st/99.5th percentiles of each frame").tag(sync=True)
    vmin = CFloat(0.0).tag(sync=True)
    vmax = CFloat(1.0).tag(sync=True)
    paused = Bool(False).tag(sync=True)
    max_size = Int(1024, help="frames are binned on the server until both sides fit").tag(sync=True)
    height = Int(480, help="height of the image area, px").tag(sync=True)
    fps = CFloat(0.0, read_only=True, help="frames drawn per second, as the view measures it").tag(sync=True)
    rois = List(List(Int()), help="[[row0, col0, rows, cols], ...] in detector pixels").tag(sync=True)

    def __init__(self, source=None, *, stream: str = "frame", client=None, follow: bool | None = None, **kwargs):
        client, scan, stream = _source(source, stream, client)
        if client is None:
            from .client import connect

            client = connect()
        kwargs.setdefault("server_url", browser_url(client.url))
        if client._token:
            kwargs.setdefault("token", client._token)
        super().__init__(scan=scan, stream=stream, follow=(not scan) if follow is None else follow, **kwargs)

    @validate("rois")
    def _check_rois(self, proposal):
        rois = proposal["value"]
        for r in rois:
            if len(r) != 4 or r[2] < 1 or r[3] < 1 or r[0] < 0 or r[1] < 0:
                raise TraitError(f"each ROI is [row0, col0, rows, cols] with rows, cols ≥ 1, got {r!r}")
        return rois

    def __repr__(self) -> str:
        return f"LiveImage(scan={self.scan!r}, stream={self.stream!r}, server_url={self.server_url!r})"
