"""LiveImage in headless Chromium (Playwright), through the Jupyter proxy (jupyter-server-proxy,
`proxy/<port>/ws`) and direct (`ws://…:port/ws`):

- frame rate for 1 Mpx (sim-camera, uint16) and 4 Mpx (sim-eiger-4m, uint32) frames drawn at full
  resolution (a canvas large enough that the view asks for binning 1), and fitted into a 480 px canvas
  (the view asks for the binning the canvas can show);
- latency from a frame leaving the simulator (its acquisition time on the wire) to being drawn, at 10 Hz;

with the image tools shown (axes, q rings, the levels histogram, a horizontal profile, a ROI with statistics).

Frames travel as the LiveImage asks: bslz4 (bitshuffle + LZ4 chunks, decoded in the page; the
default) or raw pixels ("none"), and are drawn by the renderer it picks: WebGL on a GPU, the CPU
renderer (2D canvas) where WebGL is software — as in headless Chromium here. Each default is measured
beside its alternative in the same run. Each figure is printed beside a reference measured in
the same run and the same page: a raw WebSocket subscriber with the same subscription (latest,
window 1, same compression, ack on arrival) that decodes nothing and draws nothing — the rate and
latency the transport alone allows. Headless Chromium draws WebGL with
SwiftShader (CPU), on this machine's 2 cores shared with the server, JupyterLab and the kernel.
Playwright sets each case up and reads its figures; while the figures are taken no DevTools session
is attached (see Browser: DevTools' per-message instrumentation would dominate everything).

    .venv/bin/python bench/liveimage.py            # about 4 minutes
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "test"), str(ROOT / "kernel-bridge")]
from conftest import ServerProcess  # noqa: E402
from test_frontend import CHROMIUM, CHROMIUM_FLAGS, Lab, open_notebook, run_cell, write_notebook  # noqa: E402
from record import Recorder, slug  # noqa: E402  (bench/record.py: this script's folder is on sys.path)

SECONDS = 6

# the image tools are shown in every case (a live profile, a ROI with statistics, axes, rings, the levels
# histogram); this case hides what can be hidden, to measure what they cost in the same run
TOOLS_OFF = {"profile": "off", "rois": [], "show_axes": False, "rings": "off"}

CASES = [
    # label, detector, frame period (s), LiveImage height (px): tall enough for binning 1, or 480 (fitted),
    # LiveImage options beyond the defaults (renderer "auto", compression "bslz4"): each default is also
    # measured against its alternative in the same run
    ("1 Mpx uint16, full resolution", "sim-camera", 0.01, 1100, {}),
    ("1 Mpx uint16, full resolution", "sim-camera", 0.01, 1100, {"compression": "none"}),
    ("1 Mpx uint16, full resolution", "sim-camera", 0.01, 1100, {"renderer": "webgl"}),
    ("1 Mpx uint16, full resolution", "sim-camera", 0.01, 1100, TOOLS_OFF),
    ("4 Mpx uint32, full resolution", "sim-eiger-4m", 0.02, 2250, {}),
    ("4 Mpx uint32, full resolution", "sim-eiger-4m", 0.02, 2250, {"compression": "none"}),
    ("4 Mpx uint32, full resolution", "sim-eiger-4m", 0.02, 2250, {"renderer": "webgl"}),
    ("4 Mpx uint32, full resolution", "sim-eiger-4m", 0.02, 2250, TOOLS_OFF),
    ("4 Mpx uint32, fitted in 480 px", "sim-eiger-4m", 0.02, 480, {}),
    ("latency at 10 Hz, 1 Mpx", "sim-camera", 0.1, 480, {}),
]

SETUP = """import daqlab
from daqlab.widgets import LiveImage
c = daqlab.connect()
acq = live = None
def show(detector, period, url, height, **options):
    global acq, live
    if acq is not None:  # the previous case stops: no frames, nothing drawn
        acq.abort()
        live.paused = True
    acq = c.detector(detector).prepare(acquisition={"nb_frames": 1000000, "expo_time": period}, scan={"name": "bench"})
    acq.start()
    # the image tools shown, as a user has them: axes, rings (the simulators' geometry), the levels
    # histogram, a live horizontal profile and a ROI with its statistics
    tools = {"profile": "horizontal", "rois": [[100, 100, 200, 200]], **options}
    live = LiveImage(acq, server_url=url, height=height, max_size=4096, auto_range=False, vmin=0, vmax=100, **tools)
    return live
print("READY")"""

# The reference: the same subscription as the view, acked as soon as a message is whole, nothing decoded.
# It runs on its own (no await) and leaves its figures in window.__benchRaw once `seconds` have passed.
RAW_JS = """([url, scan, binning, seconds, compression]) => {
  const out = window.__benchRaw = { done: false };
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  let n = 0, bytes = 0, t0 = 0; const lat = [];
  ws.onerror = () => Object.assign(out, { done: true, error: 'cannot connect ' + url });
  ws.onopen = () => {
    ws.send(JSON.stringify({ id: 1, op: 'subscribe', scan, stream: 'frame', mode: 'latest', binning, compression }));
    setTimeout(() => { n = 0; bytes = 0; lat.length = 0; t0 = performance.now(); }, 1000);
    setTimeout(() => {
      const dt = (performance.now() - t0) / 1000;
      ws.close();
      lat.sort((a, b) => a - b);
      Object.assign(out, { done: true, rate: n / dt, mb_s: bytes / dt / 1e6, latency: lat.length ? lat[lat.length >> 1] : null });
    }, 1000 + seconds * 1000);
  };
  ws.onmessage = (ev) => {
    if (typeof ev.data === 'string') return;
    const view = new DataView(ev.data); const h = view.getUint32(0, true);
    const header = JSON.parse(new TextDecoder().decode(new Uint8Array(ev.data, 4, h)));
    bytes += ev.data.byteLength;
    if (header.part !== header.parts - 1) return;
    n++;
    if (header.times) lat.push(Date.now() - header.times[header.times.length - 1]);
    ws.send(JSON.stringify({ id: 2 + n, op: 'sub.ack', sub: header.sub, msg: header.msg }));
  };
}"""

# The LiveImage in notebook cell `cell` (JupyterLab may detach the cells scrolled out of view).
VIEW_JS = "document.querySelectorAll('.jp-Notebook .jp-Cell')[{cell}]?.querySelector('.daqlab-liveimage')"

# Once a second: the footer of the LiveImage in cell `cell` (fps · latency, main-thread ms per drawn frame).
RECORD_JS = """([cell]) => {
  clearInterval(window.__benchTimer);
  const log = window.__benchLog = [];
  window.__benchTimer = setInterval(() => {
    const label = document.querySelectorAll('.jp-Notebook .jp-Cell')[cell]?.querySelector('.daqlab-liveimage .daqlab-li-fps');
    if (label) log.push({ text: label.textContent, ms: label.dataset.drawMs || '' });
  }, 1000);
}"""


class Browser:
    """Debian Chromium started by us, driven over CDP only while setting up and reading results.

    While DevTools is attached, Chromium instruments every WebSocket message (Playwright enables the
    Network domain: each frame is base64-encoded and sent to the driver), which costs more than
    everything measured here (a bare subscriber: ~90 msg/s attached vs ~760 msg/s detached). A user's
    browser has no DevTools attached, so each measurement runs detached.
    """

    def __init__(self, playwright, tmp: Path):
        self.p = playwright
        self.proc = subprocess.Popen(
            [str(CHROMIUM), *CHROMIUM_FLAGS, "--remote-debugging-port=0", f"--user-data-dir={tmp / 'chromium'}",
             "--window-size=2600,2400", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
        for line in self.proc.stderr:  # type: ignore[union-attr]
            m = re.search(r"DevTools listening on (ws://\S+)", line)
            if m:
                self.endpoint = m.group(1)
                break
        else:
            raise RuntimeError(f"{CHROMIUM} did not start with a DevTools endpoint")
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()  # type: ignore[union-attr]
        self.browser = None

    def attach(self):
        self.browser = self.p.chromium.connect_over_cdp(self.endpoint)
        return self.browser.contexts[0].pages[0]

    def detach(self, seconds: float) -> None:
        """Let the page run `seconds` with no DevTools session."""
        self.browser.close()  # over CDP: disconnects, the browser runs on
        self.browser = None
        time.sleep(seconds)

    def stop(self) -> None:
        if self.browser is not None:
            with contextlib.suppress(Exception):
                self.browser.close()
        os.killpg(self.proc.pid, signal.SIGKILL)  # Chromium and its helper processes
        self.proc.wait()


def options_label(opts: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in opts.items()) or "defaults"


def measure_view(browser: Browser, page, cell: int):
    """fps, latency and main-thread ms per frame of the LiveImage in notebook cell `cell` over SECONDS, DevTools detached."""
    view = VIEW_JS.format(cell=cell)
    page.wait_for_function(f"() => parseFloat({view}?.querySelector('.daqlab-li-fps')?.textContent) > 0", timeout=60000)
    page.evaluate(RECORD_JS, [cell])
    browser.detach(2 + SECONDS + 0.5)
    page = browser.attach()
    log = page.evaluate("() => { clearInterval(window.__benchTimer); return window.__benchLog; }")[2:2 + SECONDS]
    fps = [float(e["text"].split()[0]) for e in log]
    lat = [float(e["text"].split("·")[1].split()[0]) for e in log if "latency" in e["text"]]
    busy = [float(e["ms"]) for e in log if e["ms"]]
    status, renderer = page.evaluate(f"() => [{view}.querySelector('.daqlab-li-status').textContent,"
                                     f" {view}.querySelector('.daqlab-li-stage').dataset.renderer]")
    binning = int(status.split("binned ")[1].split("×")[0]) if "binned" in status else 1
    return page, {"renderer": renderer,"fps": statistics.mean(fps), "latency": statistics.median(lat) if lat else None, "binning": binning,
                  "draw_ms": statistics.median(busy) if busy else float("nan")}


def measure_raw(browser: Browser, page, args: list):
    page.evaluate(RAW_JS, args)
    browser.detach(SECONDS + 1.5)
    page = browser.attach()
    page.wait_for_function("() => window.__benchRaw?.done", timeout=30000)
    raw = page.evaluate("() => window.__benchRaw")
    if raw.get("error"):
        raise RuntimeError(raw["error"])
    return page, raw


def main() -> None:
    import argparse

    from playwright.sync_api import sync_playwright

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="run the cases whose label + compression contains this text")
    ap.add_argument("--route", choices=["proxy", "direct"], help="one route only")
    ap.add_argument("--hold", type=float, default=0, help="keep each view running this many seconds more (to profile)")
    args = ap.parse_args()
    cases = [c for c in CASES if not args.only or args.only in f"{c[0]} {options_label(c[4])}"]

    server = ServerProcess("--memory-budget", "3G")
    tmp = Path(tempfile.mkdtemp(prefix="bench-liveimage-"))
    lab = Lab(tmp, server.url)
    routes = {"proxy": (f"proxy/{server.port}/ws", f"ws://127.0.0.1:{lab.port}/proxy/{server.port}/ws?token={lab.token}"),
              "direct": (server.url, server.url)}
    routes = {k: v for k, v in routes.items() if not args.route or k == args.route}
    cells = [SETUP] + [f"show({det!r}, {period}, {routes[r][0]!r}, {height}, **{opts!r})"
                       for _, det, period, height, opts in cases for r in routes]
    write_notebook(lab.root / "bench.ipynb", cells)
    rows = []
    try:
        with sync_playwright() as p, contextlib.ExitStack() as stack:
            browser = Browser(p, tmp)
            stack.callback(browser.stop)
            page = browser.attach()
            page.set_viewport_size({"width": 2600, "height": 2400})  # wide enough for a 2070-column frame at 1:1
            open_notebook(page, lab, "bench.ipynb", reset=True)
            run_cell(page, 0)
            page.wait_for_function("document.querySelectorAll('.jp-Notebook .jp-Cell')[0].querySelector('.jp-OutputArea')"
                                   "?.innerText.includes('READY')", timeout=60000)
            import daqlab

            client = daqlab.connect(server.url)
            k = 0
            for label, det, period, height, opts in cases:
                comp = opts.get("compression", "bslz4")
                for route, (_, raw_url) in routes.items():
                    run_cell(page, 1 + k)
                    page, view = measure_view(browser, page, 1 + k)
                    time.sleep(args.hold)
                    # the reference runs alone: every view paused (a paused view acks nothing, costs nothing)
                    page.evaluate("() => document.querySelectorAll('.daqlab-liveimage button.daqlab-li-pause')"
                                  ".forEach((b) => b.textContent === 'pause' && b.click())")
                    scan = client.scans.last().key
                    page, raw = measure_raw(browser, page, [raw_url, scan, view["binning"], SECONDS, comp])
                    rows.append((label, route, view, raw, options_label(opts)))
                    line = (f"{label:31s} {options_label(opts):16s} {route:6s} {view['renderer']:5s} binning {view['binning']}"
                            f"  drawn {view['fps']:6.1f} fps"
                            f" ({view['draw_ms']:5.1f} ms main thread per frame)"
                            f"  raw ws {raw['rate']:6.1f} msg/s ({raw['mb_s']:6.1f} MB/s)  source {1 / period:5.0f} Hz")
                    if view["latency"] is not None:
                        line += f"  latency drawn {view['latency']:5.0f} ms  raw {raw['latency'] or float('nan'):5.0f} ms"
                    print(line, flush=True)
                    k += 1
            client.close()
    finally:
        lab.stop()
        server.stop()
    targets = {"1 Mpx uint16, full resolution": 30, "4 Mpx uint32, full resolution": 10}
    rec = Recorder("liveimage")
    for label, route, view, raw, opts in rows:
        fid = f"{slug(label)}.{slug(opts)}.{route}"
        rec.figure(f"{fid}.fps", view["fps"], "fps", True, label=f"{label}, {opts}, {route}: frames drawn per second",
                   reference=("raw WebSocket subscriber, same subscription, msg/s", raw["rate"]),
                   target=targets.get(label) if opts == "defaults" else None)
        rec.figure(f"{fid}.draw_ms", view["draw_ms"], "ms", False, label=f"{label}, {opts}, {route}: main-thread ms per drawn frame")
        if view["latency"] is not None and raw.get("latency"):
            rec.figure(f"{fid}.latency_ms", view["latency"], "ms", False, label=f"{label}, {opts}, {route}: median latency",
                       reference=("raw WebSocket subscriber, median latency", raw["latency"]),
                       target=100 if label.startswith("latency") else None)
    print("\ntargets: 1 Mpx ≥ 30 fps, 4 Mpx ≥ 10 fps, latency median < 100 ms at 10 Hz")
    for label, route, view, raw, comp in rows:
        if label in targets and comp == "defaults":  # the alternatives are printed above for comparison
            print(f"  {label}, {route}: {view['fps']:.1f} fps ({'met' if view['fps'] >= targets[label] else 'NOT met'})")
        elif view["latency"] is not None and label.startswith("latency"):
            print(f"  {label} {route}: {view['latency']:.0f} ms ({'met' if view['latency'] < 100 else 'NOT met'})")


if __name__ == "__main__":
    main()
