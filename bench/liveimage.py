"""LiveImage in headless Chromium (Playwright), through the Jupyter proxy (jupyter-server-proxy,
`proxy/<port>/ws`) and direct (`ws://…:port/ws`):

- frame rate for 1 Mpx (sim-camera, uint16) and 4 Mpx (sim-eiger-4m, uint32) frames drawn at full
  resolution (a canvas large enough that the view asks for binning 1), and fitted into a 480 px canvas
  (the view asks for the binning the canvas can show);
- latency from a frame leaving the simulator (its acquisition time on the wire) to being drawn, at 10 Hz.

Each figure is printed beside a reference measured in the same run and the same page: a raw WebSocket
subscriber with the same subscription (latest, window 1, ack on arrival) that decodes nothing and draws
nothing — the rate and latency the transport alone allows. Headless Chromium draws WebGL with
SwiftShader (CPU), on this machine's 2 cores shared with the server, JupyterLab and the kernel.

    .venv/bin/python bench/liveimage.py            # about 3 minutes
"""
from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "test"), str(ROOT / "kernel-bridge")]
from conftest import ServerProcess  # noqa: E402
from test_frontend import CHROMIUM, CHROMIUM_FLAGS, Lab, run_cell  # noqa: E402

SECONDS = 6

CASES = [
    # label, detector, frame period (s), LiveImage height (px): tall enough for binning 1, or 480 (fitted)
    ("1 Mpx uint16, full resolution", "sim-camera", 0.01, 1100),
    ("4 Mpx uint32, full resolution", "sim-eiger-4m", 0.02, 2250),
    ("4 Mpx uint32, fitted in 480 px", "sim-eiger-4m", 0.02, 480),
    ("latency at 10 Hz, 1 Mpx", "sim-camera", 0.1, 480),
]

SETUP = """import daqlab
from daqlab.widgets import LiveImage
c = daqlab.connect()
acq = None
def show(detector, period, url, height):
    global acq
    if acq is not None:
        acq.abort()
    acq = c.detector(detector).prepare(acquisition={"nb_frames": 1000000, "expo_time": period}, scan={"name": "bench"})
    acq.start()
    return LiveImage(acq, server_url=url, height=height, max_size=4096, auto_range=False, vmin=0, vmax=100)
print("READY")"""

# The reference: the same subscription as the view, acked as soon as a message is whole, nothing decoded.
RAW_JS = """async ([url, scan, binning, seconds]) => {
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = () => fail(new Error('cannot connect ' + url)); });
  let n = 0, bytes = 0, sub = null; const lat = [];
  ws.onmessage = (ev) => {
    if (typeof ev.data === 'string') { const m = JSON.parse(ev.data); if (m.id === 1 && m.ok) sub = m.result.sub; return; }
    const view = new DataView(ev.data); const h = view.getUint32(0, true);
    const header = JSON.parse(new TextDecoder().decode(new Uint8Array(ev.data, 4, h)));
    bytes += ev.data.byteLength;
    if (header.part !== header.parts - 1) return;
    n++;
    if (header.times) lat.push(Date.now() - header.times[header.times.length - 1]);
    ws.send(JSON.stringify({ id: 2 + n, op: 'sub.ack', sub: header.sub, msg: header.msg }));
  };
  ws.send(JSON.stringify({ id: 1, op: 'subscribe', scan, stream: 'frame', mode: 'latest', binning }));
  await new Promise((r) => setTimeout(r, 1000)); n = 0; bytes = 0; lat.length = 0;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const dt = (performance.now() - t0) / 1000;
  ws.close();
  lat.sort((a, b) => a - b);
  return { rate: n / dt, mb_s: bytes / dt / 1e6, latency: lat.length ? lat[lat.length >> 1] : null };
}"""


def write_notebook(path: Path, cells: list[str]) -> None:
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {}, "outputs": [],
                     "source": src} for i, src in enumerate(cells)],
          "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
          "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))


def measure_view(page, index: int) -> dict:
    """fps and latency of the newest LiveImage: the footer's per-second figures over SECONDS (after 2 s to settle)."""
    w = page.locator(".daqlab-liveimage").nth(index)
    page.wait_for_function(f"() => parseFloat(document.querySelectorAll('.daqlab-li-fps')[{index}]?.textContent) > 0", timeout=60000)
    time.sleep(2)
    fps, lat, busy = [], [], []
    for _ in range(SECONDS):
        time.sleep(1)
        label = w.locator(".daqlab-li-fps")
        text = label.inner_text()
        fps.append(float(text.split()[0]))
        if "latency" in text:
            lat.append(float(text.split("·")[1].split()[0]))
        ms = label.get_attribute("data-draw-ms")  # empty when no frame was drawn that second
        if ms:
            busy.append(float(ms))
    status = w.locator(".daqlab-li-status").inner_text()
    binning = int(status.split("binned ")[1].split("×")[0]) if "binned" in status else 1
    return {"fps": statistics.mean(fps), "latency": statistics.median(lat) if lat else None, "binning": binning,
            "draw_ms": statistics.median(busy) if busy else float("nan")}


def main() -> None:
    from playwright.sync_api import sync_playwright

    server = ServerProcess("--memory-budget", "3G")
    tmp = Path(tempfile.mkdtemp(prefix="bench-liveimage-"))
    lab = Lab(tmp, server.url)
    routes = {"proxy": (f"proxy/{server.port}/ws", f"ws://127.0.0.1:{lab.port}/proxy/{server.port}/ws?token={lab.token}"),
              "direct": (server.url, server.url)}
    cells = [SETUP] + [f"show({det!r}, {period}, {routes[r][0]!r}, {height})" for _, det, period, height in CASES for r in routes]
    write_notebook(lab.root / "bench.ipynb", cells)
    rows = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 2600, "height": 2400})  # wide enough for a 2070-column frame at 1:1
            page.goto(f"{lab.url}/lab/tree/bench.ipynb?reset&token={lab.token}")
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60000)
            page.wait_for_function("() => /Python 3 \\(ipykernel\\) \\| Idle/.test(document.querySelector('.jp-StatusBar-Widget')"
                                   "?.parentElement?.innerText ?? '')", timeout=60000)
            run_cell(page, 0)
            page.wait_for_function("document.querySelectorAll('.jp-Notebook .jp-Cell')[0].querySelector('.jp-OutputArea')"
                                   "?.innerText.includes('READY')", timeout=60000)
            import daqlab

            client = daqlab.connect(server.url)
            k = 0
            for label, det, period, height in CASES:
                for route, (_, raw_url) in routes.items():
                    run_cell(page, 1 + k)
                    view = measure_view(page, k)
                    # the reference runs alone: every view paused (a paused view acks nothing, costs nothing)
                    page.evaluate("() => document.querySelectorAll('.daqlab-liveimage button.daqlab-li-pause')"
                                  ".forEach((b) => b.textContent === 'pause' && b.click())")
                    scan = client.scans.last().key
                    raw = page.evaluate(RAW_JS, [raw_url, scan, view["binning"], SECONDS])
                    rows.append((label, route, view, raw, 1 / period))
                    line = (f"{label:34s} {route:6s} binning {view['binning']}  drawn {view['fps']:6.1f} fps"
                            f" ({view['draw_ms']:5.1f} ms main thread per frame)"
                            f"  raw ws {raw['rate']:6.1f} msg/s ({raw['mb_s']:6.1f} MB/s)  source {1 / period:5.0f} Hz")
                    if view["latency"] is not None:
                        line += f"  latency drawn {view['latency']:5.0f} ms  raw {raw['latency'] or float('nan'):5.0f} ms"
                    print(line, flush=True)
                    k += 1
            client.close()
            browser.close()
    finally:
        lab.stop()
        server.stop()
    targets = {"1 Mpx uint16, full resolution": 30, "4 Mpx uint32, full resolution": 10}
    print("\ntargets: 1 Mpx ≥ 30 fps, 4 Mpx ≥ 10 fps, latency median < 100 ms at 10 Hz")
    for label, route, view, raw, _ in rows:
        if label in targets:
            print(f"  {label} {route}: {view['fps']:.1f} fps ({'met' if view['fps'] >= targets[label] else 'NOT met'})")
        elif view["latency"] is not None and label.startswith("latency"):
            print(f"  {label} {route}: {view['latency']:.0f} ms ({'met' if view['latency'] < 100 else 'NOT met'})")


if __name__ == "__main__":
    main()
