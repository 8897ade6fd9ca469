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
from concurrent.futures import Future
from pathlib import Path
from urllib.parse import urlsplit

import ipywidgets as W
from traitlets import Bool, CFloat, Dict, Enum, Int, List, TraitError, Unicode, validate

from . import _protocol as P
from .client import resolve_url

__all__ = ["LiveImage", "HitRate", "Profile", "RoiStats", "Progress", "SlurmJobs", "ScanPlot", "Map2D", "MCA", "browser_url"]

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


def _source(source, stream: str, client, widget: str = "LiveImage"):
    """(client, scan key, stream name) of what a widget was given."""
    from .acquisition import Acquisition
    from .scanning import StepScan
    from .scans import Scan
    from .streams import Stream

    if isinstance(source, StepScan):
        return source._client, source.key, stream
    if isinstance(source, Acquisition):
        return source._client, source.scan.key, stream
    if isinstance(source, Scan):
        return source._client, source.key, stream
    if isinstance(source, Stream):
        return source._client, source.scan_key, source.name
    if source is None or isinstance(source, str):
        return client, source or "", stream
    raise TypeError(f"{widget} shows an Acquisition, a Scan, a Stream or a scan key, not {type(source).__name__}")


class LiveImage(W.DOMWidget):
    """A live image of a detector stream, drawn in the browser with WebGL.

    ``LiveImage(acq)`` follows that acquisition's ``frame`` stream; ``LiveImage()``
    (or ``follow=True``) shows the newest scan and switches to each new one.

    In the view: wheel to zoom, drag to pan (middle button too), double-click to fit,
    shift+drag to draw a region of interest (it is appended to ``rois`` as ``[row0, col0,
    rows, cols]`` in detector pixels; its live mean/max/sum show beside it). The toolbar sets
    the colormap, scale, rings, the profile tool and pauses; the levels row has a histogram of
    the frame with draggable min/max, the autoscale percentiles (``auto_percentiles``) and
    "lock range" (``auto_range=False``). Axes are in detector pixels (rows, columns); a scan
    with a PONI geometry gets its beam centre and q or 2θ rings labelled with the resolution.
    With ``profile`` on, a left drag on the image sets the profile line, plotted live below.
    Keyboard (click the image first): ← / → previous / next frame, space pause (live) or
    play (browsing), End back to live. ``save_png(path)`` saves the picture the view shows.
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
    colormap = Enum(["", "viridis", "magma", "inferno", "gray"], "", help="'': the JupyterLab setting's default colormap, else viridis").tag(sync=True)
    reverse = Bool(False).tag(sync=True)
    scale = Enum(["linear", "log", "sqrt"], "linear").tag(sync=True)
    auto_range = Bool(True, help="vmin/vmax follow the 1st/99.5th percentiles of each frame").tag(sync=True)
    vmin = CFloat(0.0).tag(sync=True)
    vmax = CFloat(1.0).tag(sync=True)
    paused = Bool(False).tag(sync=True)
    max_size = Int(1024, help="frames are binned on the server until both sides fit").tag(sync=True)
    renderer = Enum(["auto", "webgl", "cpu"], "auto",
                    help="auto: WebGL on a GPU, the CPU renderer (2D canvas) where WebGL would be "
                    "software-rendered (remote desktops, VMs, headless); chosen when a view is created").tag(sync=True)
    compression = Enum(["bslz4", "none"], "bslz4",
                       help="how frames travel to the browser: bitshuffle+LZ4 chunks decoded there, or raw pixels").tag(sync=True)
    height = Int(480, help="height of the image area, px").tag(sync=True)
    fps = CFloat(0.0, read_only=True, help="frames drawn per second, as the view measures it").tag(sync=True)
    rois = List(List(Int()), help="[[row0, col0, rows, cols], ...] in detector pixels").tag(sync=True)
    index = Int(-1, help="frame shown when browsing (the slider); -1: follow the newest frame").tag(sync=True)
    length = Int(0, read_only=True, help="frames in the stream, as the view knows it").tag(sync=True)
    latency = CFloat(0.0, read_only=True, help="median ms from a frame's acquisition to its drawing, over the last second").tag(sync=True)
    show_mask = Bool(True, help="tint masked pixels (NaN, gap dummies)").tag(sync=True)
    show_peaks = Bool(True, help="circle the peaks of the shown frame (`peaks_stream`, smx)").tag(sync=True)
    peaks_stream = Unicode("peaks", help="event stream of {frame_idx, x, y}; empty: no peak overlay").tag(sync=True)
    view = List(Int(), read_only=True, help="[row0, col0, rows, cols, binning] the server sent for the drawn frame").tag(sync=True)
    auto_percentiles = List(CFloat(), [1.0, 99.5], minlen=2, maxlen=2,
                            help="[low, high] percentiles of the drawn frame that vmin/vmax follow while auto_range").tag(sync=True)
    auto_scope = Enum(["frame", "view"], "frame",
                      help="what autoscale's percentiles are taken from: the whole frame (zooming in keeps the levels of the "
                      "last whole frame drawn) or the zoomed view").tag(sync=True)
    show_axes = Bool(True, help="row and column axes (detector pixels) around the image").tag(sync=True)
    rings = Enum(["off", "q", "2theta"], "q",
                 help="rings of constant q (nm⁻¹) or 2θ (°) with their resolution, and the beam centre, for a scan with a "
                 "PONI geometry; q needs the wavelength (else 2θ)").tag(sync=True)
    profile = Enum(["off", "horizontal", "vertical", "line"], "off", help="line profile tool, plotted live under the image").tag(sync=True)
    profile_line = List(CFloat(), help="[row0, col0, row1, col1] of the profile line, detector pixels; [] = through the middle").tag(sync=True)
    profile_width = Int(1, help="pixels across the profile line that are averaged").tag(sync=True)
    # views displayed (the frontend counts them): save_png() needs one
    _view_count = Int(0).tag(sync=True)

    def __init__(self, source=None, *, stream: str = "frame", client=None, follow: bool | None = None, **kwargs):
        client, scan, stream = _source(source, stream, client)
        if client is None:
            from .client import connect

            client = connect()
        kwargs.setdefault("server_url", browser_url(client.url))
        if client._token:
            kwargs.setdefault("token", client._token)
        super().__init__(scan=scan, stream=stream, follow=(not scan) if follow is None else follow, **kwargs)
        self._pngs: dict[int, tuple[Future, Path | None]] = {}
        self._next_png = 1
        self.on_msg(self._on_view_msg)

    @validate("auto_percentiles")
    def _check_percentiles(self, proposal):
        lo, hi = proposal["value"]
        if not 0 <= lo < hi <= 100:
            raise TraitError(f"auto_percentiles is [low, high] with 0 ≤ low < high ≤ 100, got {proposal['value']!r}")
        return proposal["value"]

    @validate("profile_line")
    def _check_profile_line(self, proposal):
        line = proposal["value"]
        if line and len(line) != 4:
            raise TraitError(f"profile_line is [row0, col0, row1, col1] (or [] for the middle of the frame), got {line!r}")
        return line

    @validate("profile_width")
    def _check_profile_width(self, proposal):
        if not 1 <= proposal["value"] <= 512:
            raise TraitError(f"profile_width is 1…512 pixels, got {proposal['value']}")
        return proposal["value"]

    def save_png(self, path: str | os.PathLike | None = None) -> Future:
        """Save the picture the view shows (image, overlays, axes, colour bar, profile) as a PNG.

        The view draws it, so a view must be displayed (``RuntimeError`` otherwise). Returns a
        Future of the PNG bytes, resolved when the browser answers — after the running cell ends,
        since the kernel reads widget messages between cells; the file at ``path`` is written then."""
        if not self._view_count:
            raise RuntimeError("save_png: no view of this LiveImage is displayed (display it, then call save_png in a "
                               "later cell: the picture is drawn by the browser)")
        target = Path(path) if path is not None else None
        if target is not None and not target.parent.is_dir():
            raise FileNotFoundError(f"save_png: folder {str(target.parent)!r} does not exist")
        fut: Future = Future()
        pid = self._next_png
        self._next_png += 1
        self._pngs[pid] = (fut, target)
        self.send({"type": "png", "id": pid})
        return fut

    def _on_view_msg(self, _widget, content: dict, buffers: list) -> None:
        if content.get("type") != "png":
            return
        fut, target = self._pngs.pop(int(content.get("id", -1)), (None, None))
        if fut is None or fut.done():
            return
        if content.get("error") or not buffers:
            fut.set_exception(RuntimeError(f"save_png: the view could not draw the picture: {content.get('error') or 'no data'}"))
            return
        png = bytes(buffers[0])
        if target is not None:
            target.write_bytes(png)
        fut.set_result(png)

    @validate("rois")
    def _check_rois(self, proposal):
        rois = proposal["value"]
        for r in rois:
            if len(r) != 4 or r[2] < 1 or r[3] < 1 or r[0] < 0 or r[1] < 0:
                raise TraitError(f"each ROI is [row0, col0, rows, cols] with rows, cols ≥ 1, got {r!r}")
        return rois

    @validate("index")
    def _check_index(self, proposal):
        if proposal["value"] < -1:
            raise TraitError(f"index is a frame index ≥ 0, or -1 to follow the newest frame, got {proposal['value']}")
        return proposal["value"]

    def legacy_rois(self, prefix: str = "roi") -> list[dict]:
        """The drawn ROIs as the legacy pipeline's ``rois`` parameter (named ``roi0``, ``roi1``, ...):
        ``det.prepare(..., processing={"pipeline": "legacy", "rois": live.legacy_rois()})`` and
        ``RoiStats(acq, roi=k)`` then plots their statistics."""
        return [{"name": f"{prefix}{k}", "roi": list(r)} for k, r in enumerate(self.rois)]

    def __repr__(self) -> str:
        return f"LiveImage(scan={self.scan!r}, stream={self.stream!r}, server_url={self.server_url!r})"


class _DaqWidget(W.DOMWidget):
    """What every daqlab chart/counter widget shares: the address its view connects to, the scan, follow."""

    _model_module = Unicode(MODULE_NAME).tag(sync=True)
    _view_module = Unicode(MODULE_NAME).tag(sync=True)
    _model_module_version = Unicode(MODULE_VERSION).tag(sync=True)
    _view_module_version = Unicode(MODULE_VERSION).tag(sync=True)

    server_url = Unicode(help="address the browser uses (see browser_url); a JupyterLab setting can override it").tag(sync=True)
    token = Unicode(help="token of a daqlab server started with --token").tag(sync=True)
    scan = Unicode(help="scan key; empty: the newest scan").tag(sync=True)
    follow = Bool(False, help="switch to every new scan that has this widget's stream").tag(sync=True)

    def __init__(self, client, scan: str, follow: bool | None, **kwargs):
        if client is None:
            from .client import connect

            client = connect()
        kwargs.setdefault("server_url", browser_url(client.url))
        if client._token:
            kwargs.setdefault("token", client._token)
        super().__init__(scan=scan, follow=(not scan) if follow is None else follow, **kwargs)
        self._client = client

    def __repr__(self) -> str:
        return f"{type(self).__name__}(scan={self.scan!r}, server_url={self.server_url!r})"


class _StreamChart(_DaqWidget):
    stream = Unicode().tag(sync=True)
    height = Int(320, help="height of the plot, px").tag(sync=True)
    _default_stream = ""

    def __init__(self, source=None, *, stream: str | None = None, client=None, follow: bool | None = None, **kwargs):
        client, scan, stream = _source(source, stream or self._default_stream, client, type(self).__name__)
        super().__init__(client, scan, follow, stream=stream, **kwargs)


class HitRate(_StreamChart):
    """Serial crystallography hit rate, live: peaks per frame (markers), the rolling hit
    fraction over the last ``window`` frames (line) and the hit threshold (``min_nb_peaks``),
    from the smx pipeline's ``peak_counter`` stream.

    ``HitRate(acq)`` shows that acquisition; ``HitRate()`` (or ``follow=True``) the newest
    scan with a ``peak_counter`` stream, switching to each new one. The view keeps at most
    ``max_points`` points (older ones are thinned), so a night-long run stays light.
    ``hit_fraction`` is the rolling fraction as the view computes it (updated ≤ 2 Hz).
    """

    _model_name = Unicode("HitRateModel").tag(sync=True)
    _view_name = Unicode("HitRateView").tag(sync=True)
    _default_stream = "peak_counter"
    window = Int(100, help="frames in the rolling hit fraction").tag(sync=True)
    max_points = Int(5000, help="points kept in the view; older ones are thinned beyond").tag(sync=True)
    hit_fraction = CFloat(0.0, read_only=True, help="rolling hit fraction over the last `window` frames, from the view").tag(sync=True)

    @validate("window")
    def _check_window(self, proposal):
        if proposal["value"] < 1:
            raise TraitError(f"window must be ≥ 1 frame, got {proposal['value']}")
        return proposal["value"]

    @validate("max_points")
    def _check_max_points(self, proposal):
        if proposal["value"] < 4:
            raise TraitError(f"max_points must be ≥ 4, got {proposal['value']}")
        return proposal["value"]


class Profile(_StreamChart):
    """The live azimuthal integration of a scan (azint pipeline): the last I(q) / I(2θ) curve and
    the running average of all frames so far, against the ``radial`` bin centres (axis title from
    the stream's unit). ``log_y`` puts the intensity on a log axis."""

    _model_name = Unicode("ProfileModel").tag(sync=True)
    _view_name = Unicode("ProfileView").tag(sync=True)
    _default_stream = "intensity"
    radial_stream = Unicode("radial").tag(sync=True)
    log_y = Bool(False).tag(sync=True)


class RoiStats(_StreamChart):
    """A time series of one ROI statistic of the legacy pipeline's ``roi_stats`` stream:
    ``roi`` (index in the pipeline's ``rois``) and ``statistic`` (sum, mean, std, min, max)."""

    _model_name = Unicode("RoiStatsModel").tag(sync=True)
    _view_name = Unicode("RoiStatsView").tag(sync=True)
    _default_stream = "roi_stats"
    roi = Int(0).tag(sync=True)
    statistic = Enum(["sum", "mean", "std", "min", "max"], "sum").tag(sync=True)
    max_points = Int(5000).tag(sync=True)
    log_y = Bool(False).tag(sync=True)

    @validate("roi")
    def _check_roi(self, proposal):
        if proposal["value"] < 0:
            raise TraitError(f"roi is an index ≥ 0, got {proposal['value']}")
        return proposal["value"]


class Progress(_DaqWidget):
    """A progress bar and the counters of an acquisition (acquired, processed, saved, dropped,
    invalid, fps), from the server's ``acq.counters`` events straight to the browser.

    ``Progress(acq)`` shows that acquisition; ``Progress()`` (or ``follow=True``) the newest
    one, switching to each new acquisition."""

    _model_name = Unicode("ProgressModel").tag(sync=True)
    _view_name = Unicode("ProgressView").tag(sync=True)
    acquisition = Unicode(help="acquisition uuid; empty: the newest").tag(sync=True)

    def __init__(self, acq=None, *, client=None, follow: bool | None = None, **kwargs):
        from .acquisition import Acquisition

        if isinstance(acq, Acquisition):
            client, uuid, scan = acq._client, acq.uuid, acq._status.get("scan") or ""
        elif acq is None or isinstance(acq, str):
            uuid, scan = acq or "", ""
        else:
            raise TypeError(f"Progress shows an Acquisition or an acquisition uuid, not {type(acq).__name__}")
        super().__init__(client, scan, (not uuid) if follow is None else follow, acquisition=uuid, **kwargs)

    def __repr__(self) -> str:
        return f"Progress(acquisition={self.acquisition!r}, server_url={self.server_url!r})"


from .jobs_widget import SlurmJobs  # noqa: E402 - its own module, built on the names above
def __getattr__(name: str):
    # Volume3D lives in its own module, which imports this one's constants: re-exported lazily
    if name == "Volume3D":
        from .volume import Volume3D

        return Volume3D
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__.append("Volume3D")


class _StepScanChart(_DaqWidget):
    """A view of one step scan (a StepScan, Scan, scan key, or None: the newest, following)."""

    height = Int(320, help="height of the plot, px").tag(sync=True)

    def __init__(self, source=None, *, client=None, follow: bool | None = None, **kwargs):
        client, scan, _ = _source(source, "", client, type(self).__name__)
        super().__init__(client, scan, follow, **kwargs)


class ScanPlot(_StepScanChart):
    """Counters of a step scan against its scanned motor, live (BLISS's plotselect by default).

    ``ScanPlot(ascan(samy, 0, 1, 10, 0.1))``, or ``ScanPlot()`` to follow every new step scan.
    ``x``: the channel on the x axis ('' = the scan's plotselect x: the first motor, or time);
    ``counters``: the channels to plot ([] = plotselect y); ``monitor``: divide each by this channel;
    ``log_y``, ``derivative``, ``markers`` (peak and cen lines). ``stats`` is what the view computed
    per curve: ``{name: {peak, peak_y, cen, fwhm, com}}``.
    """

    _model_name = Unicode("ScanPlotModel").tag(sync=True)
    _view_name = Unicode("ScanPlotView").tag(sync=True)
    x = Unicode("").tag(sync=True)
    counters = List(Unicode(), default_value=[]).tag(sync=True)
    monitor = Unicode("").tag(sync=True)
    log_y = Bool(False).tag(sync=True)
    derivative = Bool(False).tag(sync=True)
    markers = Bool(True).tag(sync=True)
    stats = Dict(read_only=True, help="peak statistics of each curve, from the view").tag(sync=True)
    selected = Int(-1, help="the point clicked in the view (-1: none); see show_frames").tag(sync=True)

    def show_frames(self, live: "LiveImage | None" = None, detector: str | None = None) -> "LiveImage":
        """Selecting a point (a click in the view, or ``selected = i``) shows that point's frame in ``live``
        (a new LiveImage when not given): the step scan's ``<detector>:image`` stream (default: its first
        detector), frame ``i``. Returns the LiveImage."""
        from . import _protocol as P

        def target() -> tuple[str, str]:
            status = self._client.call(P.OP_SCANNING_STATUS, **({"scan": self.scan} if self.scan else {}))
            images = [c for c in status["channels"] if c.endswith(":image")]
            wanted = f"{detector}:image" if detector else (images[0] if images else None)
            if wanted not in images:
                raise ValueError(f"detector: scan {status['number']} ({status['title']}) has no frames of "
                                 f"{detector or 'any detector'}; image channels: {images}")
            return status["scan"], wanted

        key, stream = target() if self.scan else ("", "")  # checked now when the scan is known
        if live is None:
            live = LiveImage(key or None, stream=stream or "frame", client=self._client, follow=not key)

        def show(change) -> None:
            if change["new"] < 0:
                return
            k, s = target()
            live.follow = False
            live.scan, live.stream, live.index = k, s, int(change["new"])

        self.observe(show, names="selected")
        return live

    @validate("counters")
    def _check_counters(self, proposal):
        if len(proposal["value"]) > 16:
            raise TraitError(f"counters: at most 16 curves, got {len(proposal['value'])}")
        return proposal["value"]


class Map2D(_StepScanChart):
    """A mesh scan (amesh/dmesh) as an image on the motors' axes, filling in live: ``counter``
    is any scalar channel (a counter, an MCA ROI such as ``mca:Fe``; '' = plotselect y).
    ``colormap`` (viridis, magma, inferno, gray), ``scale`` (linear, log), levels ``vmin``/``vmax``
    (None: the measured range)."""

    _model_name = Unicode("Map2DModel").tag(sync=True)
    _view_name = Unicode("Map2DView").tag(sync=True)
    height = Int(420, help="height of the map, px").tag(sync=True)
    counter = Unicode("").tag(sync=True)
    colormap = Enum(["viridis", "magma", "inferno", "gray"], "viridis").tag(sync=True)
    scale = Enum(["linear", "log"], "linear").tag(sync=True)
    vmin = CFloat(None, allow_none=True).tag(sync=True)
    vmax = CFloat(None, allow_none=True).tag(sync=True)


class MCA(_StepScanChart):
    """The live spectrum of a step scan's MCA on its energy axis (the calibration in the stream
    info), with its ROIs as bands: the newest point's, or with ``sum=True`` the sum so far."""

    _model_name = Unicode("McaModel").tag(sync=True)
    _view_name = Unicode("McaView").tag(sync=True)
    mca = Unicode("mca", help="the MCA device").tag(sync=True)
    sum = Bool(False).tag(sync=True)
    log_y = Bool(True).tag(sync=True)
