"""Peak circles land on the right spots after drops, on screen (issue 14, defect 1), and zooming does not
move the auto levels (the image tools' auto-range), in a real browser (same set-up as test_frontend.py).

An smx scan drops frames on purpose (one receiver that holds one frame, at 200 Hz), so item k of the
`frame` stream is acquisition frame f ≠ k. LiveImage browses to such an item; the overlay canvas names the
frame it circled and the circles' centres (CSS pixels): they must be where that frame's peaks are
(`peaks` events with frame_idx f), not frame k's, and the canvas must be painted there. Then the view zooms
in on a region: with auto_scope 'frame' (the default) vmin/vmax stay those of the whole frame (zoomed, from
the whole-frame `frame_stats` the server sends with the region, per detector pixel); with 'view' they follow
the region. Screenshot: test/artifacts/liveimage-peaks-after-drops.png."""
from __future__ import annotations

import json
import re
import time

import numpy as np
import pytest

from test_frontend import ARTIFACTS, browser, cell_output, daq, lab, open_notebook, run_cell, wait_output, write_notebook  # noqa: F401 (fixtures)
from test_frontend_imagetools import rerun
from test_frontend_live import round_levels, whole_frame_percentiles

CELLS = [
    """import warnings
import daqlab
from daqlab.widgets import LiveImage
c = daqlab.connect(timeout=60)
acq = c.detector("sim-eiger-500k").prepare(
    acquisition={"nb_frames": 300, "expo_time": 0.005},
    detector={"scene": "serial_crystallography", "seed": 3, "hit_rate": 1.0, "spots_per_hit": 60, "spot_intensity": 1000, "pool_size": 64},
    processing={"pipeline": "smx", "max_pending": 1, "min_nb_peaks": 5}, scan={"name": "drops"})
with warnings.catch_warnings():
    warnings.simplefilter("ignore", daqlab.DroppedFramesWarning)
    acq.start().wait(timeout=120, progress=False)
frames = acq.scan.streams["frame"].frame_indices()
k = next(k for k in range(len(frames) // 2, len(frames)) if frames[k] != k)
print("KEY", acq.scan.key, "ITEM", k, "FRAME", int(frames[k]), "DROPPED", acq.counters["nb_frames_dropped"])""",
    # max_size 512: the whole frame comes binned 3×, a zoomed region unbinned; min–max autoscale
    "live = LiveImage(acq, height=460, max_size=512, index=k, rings='off', show_axes=False, auto_percentiles=[0, 100])\nlive",
    "print('STATE', json.dumps({'vmin': live.vmin, 'vmax': live.vmax, 'view': list(live.view), 'scope': live.auto_scope}))",
    "live.auto_scope = 'view'",
]
CELLS[2] = "import json\n" + CELLS[2]


def centres_of(canvas) -> tuple[int, list[list[float]]]:
    d = canvas.evaluate("e => ({...e.dataset})")
    return int(d.get("peakFrame", -1)), json.loads(d.get("peakCentres", "[]"))


def matched(drawn: list[list[float]], expected: np.ndarray, tol: float = 1.0) -> int:
    """How many drawn centres lie within `tol` CSS px of an expected one."""
    if not len(drawn) or not len(expected):
        return 0
    d = np.asarray(drawn)[:, None, :] - expected[None, :, :]
    return int((np.hypot(d[..., 0], d[..., 1]).min(axis=1) <= tol).sum())


def state(page) -> dict:
    return json.loads(rerun(page, 2, "STATE").split("STATE", 1)[1].strip().splitlines()[0])


def test_peak_circles_on_the_drawn_frames_spots_after_drops_and_zoom_keeps_the_levels(lab, daq, browser):
    import daqlab

    ARTIFACTS.mkdir(exist_ok=True)
    write_notebook(lab.root / "overlays.ipynb", CELLS)
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    client = daqlab.connect(daq.url)
    try:
        open_notebook(page, lab, "overlays.ipynb")
        run_cell(page, 0)
        wait_output(page, 0, "KEY", timeout=180000)
        m = re.search(r"KEY (\S+) ITEM (\d+) FRAME (\d+) DROPPED (\d+)", cell_output(page, 0))
        key, item, frame, dropped = m[1], int(m[2]), int(m[3]), int(m[4])
        assert dropped > 0 and frame != item, m[0]
        scan = client.scans.get(key)
        rows, cols = scan.streams["frame"].shape[-2:]
        peaks = scan.streams["peaks"].read_batch(0, None)
        by_frame: dict[int, list[dict]] = {}
        for f, p in zip(peaks.frames.tolist(), peaks.data):
            by_frame.setdefault(f, []).append(p)
        assert len(by_frame.get(frame, [])) >= 5, "the drawn frame is a hit"

        run_cell(page, 1)
        w = page.locator(".daqlab-liveimage").first
        canvas = w.locator("canvas.daqlab-li-peaks")
        page.wait_for_function(f"() => document.querySelector('canvas.daqlab-li-peaks')?.dataset.peakFrame === '{frame}'",
                               timeout=30000)
        assert f"(acquisition frame {frame})" in w.locator(".daqlab-li-frame").inner_text()
        assert "Error displaying widget" not in page.locator(".jp-Notebook").inner_text()
        time.sleep(0.5)
        got_frame, drawn = centres_of(canvas)
        assert got_frame == frame

        # where frame f's peaks are on screen: the frame fits the stage, centred (pixel i's centre at i + 0.5)
        box = w.locator(".daqlab-li-stage").bounding_box()
        s = max(cols / box["width"], rows / box["height"])

        def on_screen(ps: list[dict]) -> np.ndarray:
            return np.array([[(p["x"] + 0.5 - cols / 2) / s + box["width"] / 2,
                              (p["y"] + 0.5 - rows / 2) / s + box["height"] / 2] for p in ps])

        right = on_screen(by_frame[frame])
        assert len(drawn) == len(right), (len(drawn), len(right))
        assert matched(drawn, right) == len(right), "every circle on one of the drawn frame's peaks"
        wrong = by_frame.get(item, [])  # what a join on item position would circle
        if wrong:
            assert matched(drawn, on_screen(wrong)) < len(wrong) / 2, "not the peaks of frame k (item position)"

        # painted there: the red ring passes through (x + r, y) of every circle
        painted = canvas.evaluate("""(e, cs) => {
            const ctx = e.getContext('2d'), dpr = e.width / e.clientWidth;
            const r = Math.max(5, 3 / %f);
            return cs.map(([x, y]) => {
              const d = ctx.getImageData(Math.round((x + r) * dpr) - 1, Math.round(y * dpr) - 1, 3, 3).data;
              let a = 0; for (let i = 3; i < d.length; i += 4) a = Math.max(a, d[i]);
              return a; });
        }""" % s, drawn)
        assert min(painted) > 0, painted
        # the screenshot shows the circles on the drawn frame's spots
        w.screenshot(path=str(ARTIFACTS / "liveimage-peaks-after-drops.png"))

        # zoom in on one of its peaks: the drawn texture becomes an unbinned region, the levels stay the whole
        # frame's: since the frontend merge (frame_stats), those the server sends with the region — min–max per
        # detector pixel of the whole frame (binning 1 here, so × 1) — not the last binned levels ÷ 9
        before = state(page)
        assert before["scope"] == "frame" and before["view"][0:2] == [0, 0] and before["view"][4] == 3, before
        stage = w.locator(".daqlab-li-stage")
        px, py = right[0]
        page.mouse.move(box["x"] + px, box["y"] + py)
        for _ in range(16):
            page.mouse.wheel(0, -100)
            time.sleep(0.05)

        def settled(check) -> dict:
            deadline = time.monotonic() + 20
            st = state(page)
            while not check(st) and time.monotonic() < deadline:
                time.sleep(0.5)
                st = state(page)
            return st

        zoomed = settled(lambda st: st["view"][4] == 1 and st["view"][2] < rows / 2)
        assert zoomed["view"][4] == 1 and zoomed["view"][2] < rows / 2, ("the zoom drew an unbinned region", zoomed)
        time.sleep(0.6)  # the levels are recomputed at ≤ 4 Hz
        zoomed = state(page)
        lo, hi, step = round_levels(whole_frame_percentiles(scan.streams["frame"][item], (0.0, 100.0)))
        assert zoomed["vmin"] == pytest.approx(lo, abs=step) and zoomed["vmax"] == pytest.approx(hi, abs=step), (
            before, zoomed, (lo, hi))
        w.screenshot(path=str(ARTIFACTS / "liveimage-zoomed-levels-kept.png"))
        # asked for the view's levels, they are the drawn region's min and max
        run_cell(page, 3)
        view = settled(lambda st: st["scope"] == "view" and st["vmax"] != zoomed["vmax"])
        r0, c0, nr, nc, _ = view["view"]
        texels = scan.streams["frame"][item][r0:r0 + nr, c0:c0 + nc].astype(np.float64).ravel()
        # the levels sample at most 16,384 texels with a fixed stride, gap dummies left out (widgets' levels.ts)
        sample = texels[::-(-len(texels) // 16384)]
        sample = sample[sample < 2**31][:16384]
        assert (view["vmin"], view["vmax"]) == (sample.min(), sample.max()), (view, sample.min(), sample.max())
        assert view["vmax"] != zoomed["vmax"], "the region's levels are not the whole frame's"
        assert stage.is_visible()
        assert not errors, errors
    finally:
        page.close()
        client.close()
