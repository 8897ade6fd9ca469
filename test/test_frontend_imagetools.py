"""LiveImage's image tools in a real browser (same set-up as test_frontend.py: a real daqlab server,
JupyterLab with this tree's extension, Chromium driven by Playwright), on a finished powder scan of
the EIGER 500k simulator (its geometry gives rings):

- axes in detector pixels, the colour bar titled, q rings drawn from the scan's PONI and q / 2θ / d
  in the readout;
- percentile autoscale sets the levels to the frame's percentiles; lock keeps them;
- the horizontal profile through a clicked row plots that row of the frame;
- a ROI shows its live statistics beside it (numpy's mean of the ROI);
- ← / → step through frames, Home + space play;
- the PNG button downloads a PNG, and LiveImage.save_png() writes one from Python.

Screenshots land in test/artifacts/ (liveimage-tools*.png)."""
from __future__ import annotations

import io
import re
import time

import numpy as np
import pytest

from test_frontend import ARTIFACTS, browser, cell_output, daq, lab, open_notebook, run_cell, wait_output, write_notebook  # noqa: F401 (fixtures)

FRAMES = 6


def cells(png_path: str) -> list[str]:
    return [
        f"""import daqlab
from daqlab.widgets import LiveImage
c = daqlab.connect(timeout=60)
acq = c.detector("sim-eiger-500k").prepare(acquisition={{"nb_frames": {FRAMES}, "expo_time": 0.02}},
                                          detector={{"scene": "powder", "seed": 3}}, scan={{"name": "tools"}})
acq.start(); acq.wait(progress=False)
print("KEY", acq.scan.key)""",
        # locked at a range that is plainly wrong: autoscale must set it
        "live = LiveImage(acq, height=420, max_size=2048, auto_range=False, vmin=0, vmax=1, profile='horizontal')\nlive",
        "print('STATE', {'vmin': live.vmin, 'vmax': live.vmax, 'auto': live.auto_range, 'pct': list(live.auto_percentiles), "
        "'index': live.index, 'line': list(live.profile_line), 'rois': [list(r) for r in live.rois], 'views': live._view_count})",
        f"fut = live.save_png(r'{png_path}')",
        "import os\nprint('PNG', fut.done(), os.path.getsize(r'%s') if fut.done() else -1)" % png_path,
    ]


def state_of(page) -> dict:
    """The widget's state as the kernel sees it (cell 2 prints a dict literal)."""
    return eval(rerun(page, 2, "STATE").split("STATE", 1)[1].strip().splitlines()[0])


def rerun(page, index: int, tag: str) -> str:
    """Run cell `index` again and return its new output (the prompt's execution count changes)."""
    prompt = page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-InputPrompt")
    before = prompt.inner_text()
    run_cell(page, index)
    page.wait_for_function("([i, before]) => { const t = document.querySelectorAll('.jp-Notebook .jp-Cell')[i]"
                           ".querySelector('.jp-InputPrompt').innerText; return t !== before && !t.includes('*'); }",
                           arg=[index, before], timeout=60000)
    wait_output(page, index, tag)
    return cell_output(page, index)


def test_liveimage_tools(lab, daq, browser, tmp_path):
    import daqlab
    from PIL import Image

    ARTIFACTS.mkdir(exist_ok=True)
    saved = lab.root / "saved-liveimage.png"
    write_notebook(lab.root / "tools.ipynb", cells(str(saved)))
    page = browser.new_page(viewport={"width": 1300, "height": 1300}, accept_downloads=True)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    client = daqlab.connect(daq.url)
    try:
        open_notebook(page, lab, "tools.ipynb")
        run_cell(page, 0)
        wait_output(page, 0, "KEY", timeout=120000)
        key = re.search(r"KEY (\S+)", cell_output(page, 0)).group(1)
        frames = client.scans.get(key).streams["frame"]
        rows, cols = frames.shape[-2:]
        last = frames[FRAMES - 1].astype(np.float64)
        run_cell(page, 1)
        w = page.locator(".daqlab-liveimage").first
        stage = w.locator(".daqlab-li-stage")
        w.locator(".daqlab-li-status").filter(has_text="scan ended").wait_for(timeout=30000)
        page.wait_for_function("() => document.querySelector('.daqlab-li-readout') && "
                               "document.querySelector('.daqlab-li-profile')?.dataset.samples > 0", timeout=15000)
        assert "Error displaying widget" not in page.locator(".jp-Notebook").inner_text()
        assert w.locator(".daqlab-li-profile").is_visible(), "created with profile='horizontal': the plot shows"

        # axes in detector pixels, labelled; the colour bar says what it shows
        ticks = [float(v) for v in w.locator(".daqlab-li-axis-cols").get_attribute("data-ticks").split(",")]
        assert ticks[0] == 0 and ticks[-1] <= cols and len(ticks) >= 3, ticks
        assert len(w.locator(".daqlab-li-axis-rows").get_attribute("data-ticks").split(",")) >= 3
        assert w.locator(".daqlab-li-bartitle").inner_text().startswith("frame")
        # rings of the scan's geometry, and q under the cursor
        assert int(w.locator(".daqlab-li-peaks").get_attribute("data-rings")) >= 2
        box = stage.bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.5)
        r = w.locator(".daqlab-li-readout").evaluate("e => ({...e.dataset, text: e.textContent})")
        assert float(r["q"]) > 0 and "q " in r["text"] and "Å" in r["text"], r

        # percentile autoscale: picking 0.1–99.9 % sets the levels to those percentiles of the frame
        w.locator("select.daqlab-li-percentiles").select_option("0.1,99.9")
        time.sleep(1)
        state = state_of(page)
        valid = last[last < 2**31]  # EIGER gap pixels (the dtype's largest value) are left out
        assert state["auto"] is True and state["pct"] == [0.1, 99.9], state
        lo, hi = np.percentile(valid, [0.1, 99.9])
        assert np.percentile(valid, 0.01) <= state["vmin"] <= np.percentile(valid, 1) + 1, (state, lo)
        assert np.percentile(valid, 99) - 1 <= state["vmax"] <= np.percentile(valid, 99.99) + 1, (state, hi)
        assert not w.locator(".daqlab-li-check-lock input").is_checked()
        w.locator(".daqlab-li-check-lock input").check()
        state = state_of(page)
        assert state["auto"] is False

        # the horizontal profile through a clicked row is that row of the frame (per pixel, width 1)
        row = rows // 3
        s = max(cols / box["width"], rows / box["height"])
        y = box["y"] + (row + 0.5 - rows / 2) / s + box["height"] / 2
        page.mouse.click(box["x"] + box["width"] / 2, y)
        time.sleep(0.8)
        prof = w.locator(".daqlab-li-profile").evaluate("e => ({...e.dataset})")
        assert int(prof["samples"]) == cols, prof
        state = state_of(page)
        prow = int(state["line"][0])
        assert abs(prow - row) <= 1 and state["line"][2] == state["line"][0], state
        expected = last[prow][last[prow] < 2**31].max()
        assert float(prof["max"]) == pytest.approx(expected, rel=1e-6), (prof, expected)

        # a ROI drawn with shift+drag shows its statistics beside it
        page.keyboard.down("Shift")
        page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.5, steps=4)
        page.mouse.up()
        page.keyboard.up("Shift")
        stats = w.locator(".daqlab-li-roi-stats").first
        stats.filter(has_text="mean").wait_for(timeout=5000)
        (r0, c0, nr, nc), = state_of(page)["rois"]

        def roi_expected(frame: np.ndarray) -> tuple[float, float]:
            block = frame[r0:r0 + nr, c0:c0 + nc]
            block = block[block < 2**31]
            return float(block.sum()), float(block.mean())

        def roi_shown() -> tuple[float, float]:
            d = stats.evaluate("e => ({...e.dataset})")
            return float(d["sum"]), float(d["mean"])

        assert roi_shown() == pytest.approx(roi_expected(last)), (roi_shown(), roi_expected(last))
        w.locator(".daqlab-li-roi").first.wait_for()
        w.screenshot(path=str(ARTIFACTS / "liveimage-tools.png"))

        # keyboard: ← from live is the frame before the newest, → the next one; Home + space plays
        stage.focus()
        page.keyboard.press("ArrowLeft")
        w.locator(".daqlab-li-frame").filter(has_text=f"frame {FRAMES - 2} /").wait_for(timeout=10000)
        page.keyboard.press("ArrowLeft")
        w.locator(".daqlab-li-frame").filter(has_text=f"frame {FRAMES - 3} /").wait_for(timeout=10000)
        page.keyboard.press("ArrowRight")
        w.locator(".daqlab-li-frame").filter(has_text=f"frame {FRAMES - 2} /").wait_for(timeout=10000)
        page.keyboard.press("Home")
        w.locator(".daqlab-li-frame").filter(has_text="frame 0 /").wait_for(timeout=10000)
        page.keyboard.press(" ")
        w.locator(".daqlab-li-play").filter(has_text="stop").wait_for(timeout=5000)
        w.locator(".daqlab-li-frame").filter(has_text=f"frame {FRAMES - 1} /").wait_for(timeout=15000)
        w.locator(".daqlab-li-play").filter(has_text="play").wait_for(timeout=5000)  # stopped at the last frame
        time.sleep(0.5)  # the statistics follow the drawn frame at ≤ 4 Hz
        assert roi_shown() == pytest.approx(roi_expected(last)), (roi_shown(), roi_expected(last))
        page.keyboard.press("ArrowLeft")
        w.locator(".daqlab-li-frame").filter(has_text=f"frame {FRAMES - 2} /").wait_for(timeout=10000)
        time.sleep(0.5)
        assert roi_shown() == pytest.approx(roi_expected(frames[FRAMES - 2].astype(np.float64)))

        # the PNG button downloads the picture
        with page.expect_download(timeout=15000) as dl:
            w.locator("button.daqlab-li-png").click()
        path = tmp_path / "download.png"
        dl.value.save_as(path)
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        img = Image.open(io.BytesIO(data))
        assert img.width >= box["width"] and img.height >= box["height"], img.size
        (ARTIFACTS / "liveimage-tools-download.png").write_bytes(data)

        # and from Python: save_png writes the file once the browser answers (after the cell)
        run_cell(page, 3)
        time.sleep(1.5)
        out = rerun(page, 4, "PNG")
        assert "PNG True" in out, out
        png = saved.read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and Image.open(io.BytesIO(png)).width >= box["width"]
        (ARTIFACTS / "liveimage-tools-saved.png").write_bytes(png)
        assert not errors, errors
    finally:
        page.close()
