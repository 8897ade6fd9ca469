"""LiveImage's second slice in a real browser (same set-up as test_frontend.py: a real daqlab
server, JupyterLab with this tree's extension, Chromium driven by Playwright):

- a finished smx scan of the Jungfrau 4M simulator browsed with the slider: the cursor readout of
  frame k equals numpy's frame k; zooming in makes the server send the visible region unbinned;
  the peak overlay circles the `peaks` of the shown frame; the mask overlay tints the module gaps;
- a running acquisition: fps and latency in the footer and in Python; a ROI drawn with the mouse
  becomes the legacy pipeline's ROI, whose statistics a RoiStats chart plots;
- the server stopped while the widgets are open: they say so, and recover when it is back;
- the CPU renderer (picked where WebGL is software, as in headless Chromium) and WebGL draw frame k alike.

Screenshots land in test/artifacts/."""
from __future__ import annotations

import re
import time

import numpy as np
import pytest

from conftest import ServerProcess
from test_frontend import ARTIFACTS, browser, cell_output, lab, Lab, open_notebook, pixels, run_cell, wait_output, write_notebook  # noqa: F401 (fixtures)

JF_FRAMES = 8
K = 5  # the frame browsed to


class Restartable:
    """A daqlab server the test can stop and start again on the same port."""

    def __init__(self):
        self.proc = ServerProcess("--memory-budget", "2G")
        self.port = self.proc.port
        self.url = self.proc.url

    def stop(self) -> None:
        self.proc.stop()

    def start(self) -> None:
        self.proc = ServerProcess("--memory-budget", "2G", "--port", str(self.port))
        assert self.proc.port == self.port


@pytest.fixture(scope="module")
def daq():
    s = Restartable()
    yield s
    s.stop()


CELLS = [
    # 0: a finished smx scan of the Jungfrau 4M (module gaps: NaN after correction)
    f"""import daqlab, numpy as np
from daqlab.widgets import LiveImage, RoiStats
c = daqlab.connect(timeout=120)  # preparing the 4M's calibration and smx geometry takes a while on 2 busy cores
jf = c.detector("sim-jungfrau-4m").prepare(
    acquisition={{"nb_frames": {JF_FRAMES}, "expo_time": 0.05}},
    detector={{"scene": "serial_crystallography", "seed": 4, "hit_rate": 1.0, "spots_per_hit": 40, "spot_intensity": 600, "pool_size": 4}},
    processing={{"pipeline": "smx", "nb_receivers": 1, "npt": 300, "cutoff_pick": 4}},
    scan={{"name": "browse"}})
jf.start(); jf.wait(progress=False)
print("JF", jf.scan.key)""",
    "browse = LiveImage(jf, height=520)\nbrowse",
    "print('VIEW', {'index': browse.index, 'view': list(browse.view), 'length': browse.length})",
    # 3: a running acquisition, 10 Hz
    """import daqlab
from daqlab.widgets import LiveImage, RoiStats
c = daqlab.connect()
acq = c.detector("sim-camera").prepare(acquisition={"nb_frames": 5000, "expo_time": 0.1}, scan={"name": "live"})
acq.start()
live = LiveImage(acq, height=300)
display(live, LiveImage(height=200))
print("LIVE", acq.scan.key)""",
    "print('LAT', {'fps': live.fps, 'latency': live.latency, 'rois': live.rois, 'legacy': live.legacy_rois()})",
    # 5: the drawn ROI to the legacy pipeline, its mean plotted
    """acq.stop()
acq3 = c.detector("sim-camera").prepare(acquisition={"nb_frames": 400, "expo_time": 0.02},
                                        processing={"pipeline": "legacy", "rois": live.legacy_rois()}, scan={"name": "rois"})
acq3.start()
RoiStats(acq3, roi=0, statistic="mean")""",
    "print('VIEW2', {'index': browse.index, 'view': list(browse.view), 'length': browse.length})",
    # 7: frame K drawn by each renderer (overlays off: the mask tint is blended differently by each)
    f"""pair = [LiveImage(jf, height=360, index={K}, renderer=r, show_mask=False, show_peaks=False) for r in ("cpu", "webgl")]
display(*pair)""",
]


def whole_frame_percentiles(frame: np.ndarray, pct) -> tuple[float, float]:
    """The server's `frame_stats` percentiles (protocol/frame-stats.ts): a fixed-stride subsample of at most
    16384 pixels, NaN and gap pixels left out, nearest rank."""
    flat = frame.ravel()
    sample = flat[::max(1, -(-flat.size // 16384))][:16384].astype(np.float64)
    keep = ~np.isnan(sample) & (sample < 2**31 if frame.dtype == np.uint32 else True)
    v = np.sort(sample[keep])
    rank = lambda p: float(v[min(len(v) - 1, max(0, round(p / 100 * (len(v) - 1))))])  # noqa: E731
    return rank(pct[0]), rank(pct[1])


def round_levels(levels) -> tuple[float, float, float]:
    """LiveImage's rounding of autoscaled levels (levels.ts roundLevels): 3 significant digits of the span, outwards."""
    lo, hi = levels
    step = 10.0 ** (np.floor(np.log10(hi - lo)) - 2)
    return float(np.floor(lo / step) * step), float(np.ceil(hi / step) * step), float(step)


def printed(page, index: int, tag: str) -> dict:
    wait_output(page, index, tag)
    return eval(cell_output(page, index).split(tag, 1)[1].strip())  # a dict literal printed by the kernel


def printed_when(page, index: int, tag: str, ready, tries: int = 5) -> dict:
    """Run cell `index` until the state it prints satisfies `ready` (the view reports some traits once a second)."""
    prompt = page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-InputPrompt")
    for _ in range(tries):
        before = prompt.inner_text()
        run_cell(page, index)
        # this run's output: the execution count shown in the prompt has changed (and is not [*])
        page.wait_for_function("([i, before]) => { const t = document.querySelectorAll('.jp-Notebook .jp-Cell')[i]"
                               ".querySelector('.jp-InputPrompt').innerText; return t !== before && !t.includes('*'); }",
                               arg=[index, before], timeout=60000)
        state = printed(page, index, tag)
        if ready(state):
            break
        time.sleep(1)
    return state


def readout_at(page, widget, x: float, y: float) -> dict:
    page.mouse.move(x, y)
    return widget.locator(".daqlab-li-readout").evaluate("e => ({...e.dataset})")


def screen_of(box: dict, rows: int, cols: int, x: float, y: float) -> tuple[float, float]:
    """Detector (column x, row y) → page coordinates, for a view fitted into the stage (what a view starts with)."""
    s = max(cols / box["width"], rows / box["height"])
    return box["x"] + (x - cols / 2) / s + box["width"] / 2, box["y"] + (y - rows / 2) / s + box["height"] / 2


def test_browse_zoom_peaks_mask_of_a_jungfrau_smx_scan(lab, daq, browser):
    import daqlab

    ARTIFACTS.mkdir(exist_ok=True)
    write_notebook(lab.root / "live2.ipynb", CELLS)
    page = browser.new_page(viewport={"width": 1300, "height": 1400})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    client = daqlab.connect(daq.url)
    try:
        open_notebook(page, lab, "live2.ipynb")
        run_cell(page, 0)
        wait_output(page, 0, "JF", timeout=120000)
        key = re.search(r"JF (\S+)", cell_output(page, 0)).group(1)
        scan = client.scans.get(key)
        frames = scan.streams["frame"]
        rows, cols = frames.shape[-2:]
        run_cell(page, 1)
        w = page.locator(".daqlab-liveimage").first
        stage = w.locator(".daqlab-li-stage")
        # the live subscription of a finished scan shows its last frame, then the scan ends
        w.locator(".daqlab-li-status").filter(has_text="scan ended").wait_for(timeout=30000)
        assert "Error displaying widget" not in page.locator(".jp-Notebook").inner_text()

        # the slider browses to frame K; the readout (a binned sum here) is numpy's frame K
        slider = w.locator("input.daqlab-li-slider")
        assert slider.get_attribute("max") == str(JF_FRAMES - 1)
        slider.fill(str(K))
        w.locator(".daqlab-li-frame").filter(has_text=f"frame {K} /").wait_for(timeout=15000)
        frame = frames[K]
        peaks = [p for p in scan.streams["peaks"][0:len(scan.streams["peaks"])] if p["frame_idx"] == K]
        assert len(peaks) >= 5, f"frame {K} has {len(peaks)} peaks: a hit was expected (hit_rate 1)"
        top = max(peaks, key=lambda p: p["intensity"])
        box = stage.bounding_box()
        time.sleep(0.5)  # the frame is drawn on the next animation frame
        r = readout_at(page, w, *screen_of(box, rows, cols, top["x"] + 0.5, top["y"] + 0.5))
        assert int(r["frame"]) == K, r
        b, r0, c0 = int(r["binning"]), int(r["row"]), int(r["col"])
        assert b > 1, f"a 4 Mpx frame in a {box['width']:.0f} px canvas should come binned: {r}"
        expected = frame[r0:r0 + b, c0:c0 + b].astype(np.float64).sum()
        assert float(r["value"]) == pytest.approx(expected, rel=1e-4), (r, expected)
        state = printed_when(page, 2, "VIEW", lambda st: st["length"] == JF_FRAMES)
        assert state["index"] == K and state["length"] == JF_FRAMES, state
        assert state["view"][:4] == [0, 0, b * (rows // b), b * (cols // b)] and state["view"][4] == b, state

        # the peak overlay: toggling it changes pixels where frame K's peaks are, and only there
        with_peaks = pixels(stage.screenshot(path=str(ARTIFACTS / "liveimage-peaks.png")))
        w.locator(".daqlab-li-check-show_peaks input").uncheck()
        time.sleep(0.3)
        without = pixels(stage.screenshot())
        diff = np.argwhere(np.any(with_peaks != without, axis=2))
        assert len(diff) > 20, "the peak overlay drew nothing"
        centres = np.array([screen_of({**box, "x": 0, "y": 0}, rows, cols, p["x"] + 0.5, p["y"] + 0.5)[::-1] for p in peaks])
        near = np.min(np.linalg.norm(diff[:, None, :] - centres[None, :, :], axis=2), axis=1)
        assert np.mean(near < 15) > 0.95, f"overlay pixels far from the peaks: {np.percentile(near, [50, 95, 100])}"
        w.locator(".daqlab-li-check-show_peaks input").check()

        # the mask overlay: module gaps (NaN after correction) are tinted, black without it
        w.locator(".daqlab-li-check-show_mask input").uncheck()
        time.sleep(0.3)
        unmasked = pixels(stage.screenshot())
        w.locator(".daqlab-li-check-show_mask input").check()
        time.sleep(0.3)
        masked = pixels(stage.screenshot(path=str(ARTIFACTS / "liveimage-mask.png")))
        tinted = np.any(masked != unmasked, axis=2)
        assert tinted.mean() > 0.002, f"only {tinted.mean():.3%} of the pixels changed with the mask overlay"
        assert masked[tinted][:, 0].mean() > masked[tinted][:, 1].mean(), "masked pixels should be tinted red/pink"

        # zoom in around the brightest peak: the visible region comes at full resolution
        cx, cy = screen_of(box, rows, cols, top["x"] + 0.5, top["y"] + 0.5)
        page.mouse.move(cx, cy)
        for _ in range(14):
            page.mouse.wheel(0, -100)
            time.sleep(0.03)
        page.wait_for_function("() => document.querySelector('.daqlab-li-status')?.textContent.includes('rows ')"
                               " && !document.querySelector('.daqlab-li-status')?.textContent.includes('binned')", timeout=15000)
        time.sleep(0.5)
        r = readout_at(page, w, cx + 1, cy + 1)
        assert r["binning"] == "1" and int(r["frame"]) == K, r
        assert float(r["value"]) == pytest.approx(float(frame[int(r["row"]), int(r["col"])]), rel=1e-6), r
        run_cell(page, 6)
        state = printed(page, 6, "VIEW2")
        r0, c0, nr, nc, vb = state["view"]
        assert vb == 1 and nr * nc < rows * cols / 4 and r0 <= top["y"] < r0 + nr and c0 <= top["x"] < c0 + nc, state
        stage.screenshot(path=str(ARTIFACTS / "liveimage-zoomed.png"))

        # still zoomed in, the next frames: autoscale on the whole frame (the default) follows each one, from
        # the whole-frame statistics the server sends with the region — not the last whole frame's levels
        for k in (K + 1, K + 2):
            slider.fill(str(k))
            w.locator(".daqlab-li-frame").filter(has_text=f"frame {k} /").wait_for(timeout=15000)
            lo, hi, step = round_levels(whole_frame_percentiles(frames[k], (1.0, 99.5)))
            page.wait_for_function(
                "([lo, hi, step]) => { const v = (n) => Number(document.querySelector(`.daqlab-liveimage input[title^='${n}:']`)?.value);"
                " return Math.abs(v('vmin') - lo) <= step && Math.abs(v('vmax') - hi) <= step; }", arg=[lo, hi, step], timeout=15000)
        assert "rows " in w.locator(".daqlab-li-status").inner_text()  # still the zoomed region
        stage.screenshot(path=str(ARTIFACTS / "liveimage-zoomed-next.png"))

        # "live" leaves browsing: index back to -1
        w.locator("button.daqlab-li-live").click()
        w.locator(".daqlab-li-frame").filter(has_text="live").wait_for(timeout=10000)

        # the CPU renderer (chosen here: headless Chromium's WebGL is SwiftShader) and WebGL draw the same picture
        assert stage.get_attribute("data-renderer") == "cpu"
        run_cell(page, 7)
        pair = page.locator(".jp-Notebook .jp-Cell").nth(7).locator(".daqlab-liveimage")
        pair.nth(1).locator(".daqlab-li-frame").filter(has_text=f"frame {K} /").wait_for(timeout=30000)
        pair.nth(0).locator(".daqlab-li-frame").filter(has_text=f"frame {K} /").wait_for(timeout=30000)
        time.sleep(1.0)  # drawn on the next animation frame, auto range applied
        stages = [pair.nth(i).locator(".daqlab-li-stage") for i in (0, 1)]
        assert [st.get_attribute("data-renderer") for st in stages] == ["cpu", "webgl"]
        cpu_px, gl_px = (pixels(st.screenshot(path=str(ARTIFACTS / f"liveimage-{name}.png"))).astype(int)
                         for st, name in zip(stages, ("cpu", "webgl")))
        assert cpu_px.shape == gl_px.shape
        differ = np.any(np.abs(cpu_px - gl_px) > 8, axis=2)
        assert cpu_px.std() > 10, "the CPU renderer drew a blank picture"
        assert differ.mean() < 0.03, f"{differ.mean():.2%} of the pixels differ between the CPU and WebGL renderers"
        assert not [e for e in errors if "daqlab" in e.lower()], errors
    except BaseException:
        page.screenshot(path=str(ARTIFACTS / "failure-live2.png"))
        raise
    finally:
        client.close()
        page.close()


def test_latency_rois_to_the_pipeline_and_server_restart(lab, daq, browser):
    import daqlab

    write_notebook(lab.root / "live3.ipynb", CELLS)
    page = browser.new_page(viewport={"width": 1300, "height": 1400})
    try:
        open_notebook(page, lab, "live3.ipynb", reset=True)  # reset: the other notebook's tab stays closed
        run_cell(page, 3)
        wait_output(page, 3, "LIVE")
        live = page.locator(".daqlab-liveimage").first
        follow = page.locator(".daqlab-liveimage").nth(1)
        # fps and latency (acquisition → drawn) in the footer, then in Python
        page.wait_for_function("() => /ms latency/.test(document.querySelector('.daqlab-li-fps')?.textContent)", timeout=30000)
        footer = live.locator(".daqlab-li-fps").inner_text()
        fps, latency = float(footer.split()[0]), float(re.search(r"([\d.]+) ms latency", footer).group(1))
        assert fps > 0 and 0 < latency < 5000, footer

        # a ROI drawn with the mouse → Python → the legacy pipeline's ROI → RoiStats plots its mean
        stage = live.locator(".daqlab-li-stage")
        box = stage.bounding_box()
        x0, y0 = box["x"] + box["width"] / 2 - 60, box["y"] + box["height"] / 2 - 40
        page.mouse.move(x0, y0)
        page.keyboard.down("Shift")
        page.mouse.down()
        for k in range(1, 6):
            page.mouse.move(x0 + 24 * k, y0 + 16 * k)
        page.mouse.up()
        page.keyboard.up("Shift")
        live.locator(".daqlab-li-roi").first.wait_for(timeout=5000)
        # a drawn ROI is numbered as in live.rois and RoiStats(roi=0)
        live.locator(".daqlab-li-roi[data-roi='0'] .daqlab-li-roi-label").filter(has_text="ROI 0").wait_for(timeout=5000)
        time.sleep(1.5)
        run_cell(page, 4)
        state = printed(page, 4, "LAT")
        assert state["fps"] > 0 and 0 < state["latency"] < 5000, state
        assert len(state["rois"]) == 1 and state["legacy"] == [{"name": "roi0", "roi": state["rois"][0]}], state
        r0, c0, nr, nc = state["rois"][0]
        assert nr >= 20 and nc >= 40 and r0 + nr <= 1024 and c0 + nc <= 1024, state
        run_cell(page, 5)
        chart = page.locator(".daqlab-roistats").first
        page.wait_for_function("() => Number(document.querySelector('.daqlab-roistats')?.dataset.points ?? 0) > 20", timeout=60000)
        n1 = int(chart.get_attribute("data-points"))
        time.sleep(1.5)
        n2 = int(chart.get_attribute("data-points"))
        assert n2 > n1 or n2 == 400, f"the RoiStats chart did not gain points: {n1} then {n2}"
        chart.screenshot(path=str(ARTIFACTS / "roistats.png"))

        # the server goes away: every view says so; it comes back on the same port: they recover
        daq.stop()
        follow.locator(".daqlab-li-message").filter(has_text=re.compile("lost the daqlab server|unreachable")).wait_for(timeout=20000)
        assert follow.locator(".daqlab-li-message").is_visible()
        page.screenshot(path=str(ARTIFACTS / "server-stopped.png"))
        daq.start()
        follow.locator(".daqlab-li-message").filter(has_text="no scan yet").wait_for(timeout=30000)
        c = daqlab.connect(daq.url)
        try:
            a = c.detector("sim-eiger-500k").prepare(acquisition={"nb_frames": 3000, "expo_time": 0.05}, scan={"name": "after-restart"})
            a.start()
            follow.locator(f".daqlab-li-status[data-scan='{a.scan.key}']").wait_for(timeout=30000)
            page.wait_for_function("() => parseFloat(document.querySelectorAll('.daqlab-li-fps')[1]?.textContent) > 0", timeout=30000)
            assert follow.locator(".daqlab-li-message").is_hidden()
            follow.screenshot(path=str(ARTIFACTS / "server-restarted.png"))
            a.abort()
        finally:
            c.close()
    except BaseException:
        page.screenshot(path=str(ARTIFACTS / "failure-live3.png"))
        raise
    finally:
        page.close()
