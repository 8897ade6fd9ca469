"""Volume3D in a real browser (same set-up as test_frontend.py: a real daqlab server, JupyterLab
with this tree's extension, Debian's Chromium — WebGL2 by SwiftShader — driven by Playwright):
a known slice value at a known screen position, MIP / isosurface / threshold / cut plane / abs-phase
each change the picture, a PNG screenshot reaches Python, a server stream renders with its full
resolution slice read by the browser. Screenshots land in test/artifacts/."""
from __future__ import annotations

import io
import json
import re
import time

import numpy as np

from test_frontend import ARTIFACTS, browser, cell_output, daq, lab, Lab, open_notebook, run_cell, write_notebook  # noqa: F401 (fixtures)

SETUP = """import io, numpy as np
from PIL import Image
from daqlab.widgets import Volume3D
z, y, x = np.meshgrid(np.arange(32), np.arange(48), np.arange(64), indexing="ij")
r = np.sqrt((z - 16.0) ** 2 + (y - 24.0) ** 2 + (x - 32.0) ** 2)
vol = (100 * np.exp(-(r / 9) ** 2)).astype(np.float32)
vol[20, 4:10, 40:48] = 100.0   # a bright block and a mid-grey block in slice z = 20
vol[20, 36:42, 6:14] = 50.0
w = Volume3D(vol, colormap="gray", vmin=0.0, vmax=100.0, view="z", slice_z=20, height=240)
display(w)
print("READY")"""

CELLS = [
    SETUP,
    "w.slice_z = None; w.view = '3d'; print('MIP')",                    # 1
    "w.mode = 'iso'; w.threshold = 30.0; print('ISO30')",               # 2
    "w.threshold = 80.0; print('ISO80')",                               # 3
    "w.slice_x = 40; print('CUT')",                                     # 4
    "shot = w.screenshot(); print('ASKED')",                            # 5
    "png = shot.result(timeout=0); im = Image.open(io.BytesIO(png)); "  # 6
    "print('PNG', png[:8] == b'\\x89PNG\\r\\n\\x1a\\n', im.size, len(np.unique(np.asarray(im.convert('L')))))",
    # 7: a complex volume: amplitude a sphere, phase a ramp along x
    """cz, cy, cx = np.meshgrid(np.arange(24), np.arange(24), np.arange(24), indexing="ij")
amp = (np.sqrt((cz - 12) ** 2 + (cy - 12) ** 2 + (cx - 12) ** 2) < 8).astype(np.float32)
cvol = (amp * np.exp(1j * (cx - 12) / 4)).astype(np.complex64)
c = Volume3D(cvol, colormap="viridis", height=200, mode="mip")
display(c)
print("COMPLEX")""",
    "c.complex_mode = 'phase'; print('PHASE')",                         # 8
    "print('STATE', {'threshold': w.threshold, 'mode': w.mode})",       # 9
    # 10: a server stream (sim-camera frames, frame index = z), read by the browser
    """import daqlab
acq = daqlab.connect().detector("sim-camera").prepare(acquisition={"nb_frames": 8, "expo_time": 0.01}, scan={"name": "vol"})
acq.start(); acq.wait(progress=False)
s = Volume3D(acq, height=200, slice_z=3)
display(s)
print("STREAM", s.shape)""",
    # 11: a cut plane across the frames: one column of every frame, read by the browser from the server
    "s.slice_x = 500; sx = s.slice('x', 500); print('SX', list(sx.shape), float(sx.sum()), sx.ravel()[:4].tolist())",
]

VOLUME_JS = "(i) => document.querySelectorAll('.daqlab-volume3d')[i]"


def run(page, index: int, text: str, timeout=60000) -> str:
    run_cell(page, index)
    page.wait_for_function(f"document.querySelectorAll('.jp-Notebook .jp-Cell')[{index}]"
                           f".querySelector('.jp-OutputArea')?.innerText.includes({json.dumps(text)})", timeout=timeout)
    return cell_output(page, index)


def renders(page, i: int) -> int:
    return int(page.evaluate(f"({VOLUME_JS})({i}).dataset.renders ?? '0'"))


def canvas(page, i: int, name: str, after: int | None = None) -> np.ndarray:
    """The widget's canvas as RGB, once it has drawn again after `after` renders and settled."""
    from PIL import Image

    if after is not None:
        page.wait_for_function(f"() => Number(({VOLUME_JS})({i}).dataset.renders ?? 0) > {after}", timeout=30000)
    time.sleep(0.3)  # a draw scheduled by the same change (e.g. after a slice arrived)
    # a quick frame (fewer pixels) is followed by a full-quality one once nothing changes
    page.wait_for_function(f"() => ({VOLUME_JS})({i}).dataset.quality === 'full'", timeout=30000)
    png = page.locator(".daqlab-volume3d").nth(i).locator(".daqlab-vol-stage canvas").screenshot(path=str(ARTIFACTS / f"volume-{name}.png"))
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def differs(a: np.ndarray, b: np.ndarray, what: str, at_least=0.002) -> None:
    changed = np.any(np.abs(a - b) > 8, axis=2).mean()
    assert changed > at_least, f"{what}: only {changed:.3%} of the pixels changed"


def test_volume3d_in_jupyterlab(lab, daq, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    write_notebook(lab.root / "volume.ipynb", CELLS)
    page = browser.new_page(viewport={"width": 1100, "height": 1400})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type == "error" else None)
    try:
        open_notebook(page, lab, "volume.ipynb")
        run(page, 0, "READY")
        vol = page.locator(".daqlab-volume3d").first
        vol.locator(".daqlab-vol-stage canvas").wait_for(timeout=60000)
        assert "Error displaying widget" not in page.locator(".jp-Notebook").inner_text()

        # the 2D slice view of z = 20 at full resolution: known values at known screen positions
        page.wait_for_function(f"() => ({VOLUME_JS})(0).dataset.slicesReady === 'z20'", timeout=30000)
        img = canvas(page, 0, "slice-z20")
        at = lambda row, col: page.evaluate(f"({VOLUME_JS})(0).daqlabVolume.sliceToScreen({row}, {col})")  # noqa: E731
        for row, col, grey in [(6, 44, 255), (38, 9, 128), (40, 60, 0), (24, 32, 0)]:
            p = at(row, col)
            value = img[int(p["y"]), int(p["x"])]
            if (row, col) == (24, 32):  # the blob's centre in z = 20: 100·exp(−(4/9)²) ≈ 82 → grey ≈ 209
                grey = round(255 * 100 * np.exp(-(4 / 9) ** 2) / 100)
            assert np.all(np.abs(value - grey) <= 3), f"voxel (20, {row}, {col}) drawn as {value} at {p}, expected grey {grey}"
        # the cursor readout names the voxel and its value
        box = vol.locator(".daqlab-vol-stage canvas").bounding_box()
        p = at(6, 44)
        page.mouse.move(box["x"] + p["x"], box["y"] + p["y"])
        assert vol.locator(".daqlab-vol-readout").inner_text() == "z=20, y=6, x=44: 100"

        # 3D: maximum intensity projection, then isosurfaces at two thresholds, then a cut plane
        n = renders(page, 0)
        run(page, 1, "MIP")
        mip = canvas(page, 0, "mip", after=n)
        assert len(np.unique(mip.reshape(-1, 3), axis=0)) > 20, "the MIP is nearly uniform: nothing drawn?"
        assert (mip.sum(axis=2) > 60).mean() > 0.02, "the MIP covers almost nothing"
        # a colour bar says what the colours mean (vmin 0, vmax 100), and empty plane boxes read "off"
        bar = vol.locator(".daqlab-li-colorbar .daqlab-li-barlabels span")
        assert [bar.nth(k).inner_text() for k in range(bar.count())] == ["100", "50", "0"]
        assert vol.locator("input[data-trait='slice_y']").get_attribute("placeholder") == "off"
        assert "index of the y cut plane" in vol.locator("input[data-trait='slice_y']").get_attribute("title")
        # the axis labels sit outside the box, pushed away from its centre: none covers the middle of the picture
        cb = vol.locator(".daqlab-vol-stage canvas").bounding_box()
        for k in range(vol.locator(".daqlab-vol-axis").count()):
            lb = vol.locator(".daqlab-vol-axis").nth(k).bounding_box()
            mx, my = cb["x"] + cb["width"] / 2, cb["y"] + cb["height"] / 2
            assert not (lb["x"] < mx < lb["x"] + lb["width"] and lb["y"] < my < lb["y"] + lb["height"]), lb
        vol.screenshot(path=str(ARTIFACTS / "volume-widget-mip.png"))
        n = renders(page, 0)
        run(page, 2, "ISO30")
        iso30 = canvas(page, 0, "iso30", after=n)
        differs(mip, iso30, "mip → iso")
        n = renders(page, 0)
        run(page, 3, "ISO80")
        iso80 = canvas(page, 0, "iso80", after=n)
        differs(iso30, iso80, "threshold 30 → 80")
        # a higher threshold: a smaller surface
        assert (iso80.sum(axis=2) > 60).sum() < (iso30.sum(axis=2) > 60).sum()
        run(page, 4, "CUT")
        page.wait_for_function(f"() => ({VOLUME_JS})(0).dataset.slicesReady === 'x40'", timeout=30000)
        cut = canvas(page, 0, "cut-x40")
        differs(iso80, cut, "cut plane x = 40")

        # a screenshot goes to Python as a PNG
        run(page, 5, "ASKED")
        time.sleep(1.0)  # the browser's answer is read by the kernel between cells
        out = run(page, 6, "PNG")
        m = re.search(r"PNG (True|False) \((\d+), (\d+)\) (\d+)", out)
        assert m and m.group(1) == "True", out
        cbox = vol.locator(".daqlab-vol-stage canvas").bounding_box()
        assert (int(m.group(2)), int(m.group(3))) == (round(cbox["width"]), round(cbox["height"])), (out, cbox)
        assert int(m.group(4)) > 10, f"the PNG is nearly uniform: {out}"

        # a complex volume: amplitude and phase differ
        run(page, 7, "COMPLEX")
        cvol = page.locator(".daqlab-volume3d").nth(1)
        cvol.locator(".daqlab-vol-stage canvas").wait_for(timeout=30000)
        page.wait_for_function(f"() => Number(({VOLUME_JS})(1).dataset.firstPictureMs ?? -1) >= 0", timeout=30000)
        amp = canvas(page, 1, "complex-abs")
        assert cvol.locator("select[title='complex_mode']").is_visible()
        n = renders(page, 1)
        run(page, 8, "PHASE")
        phase = canvas(page, 1, "complex-phase", after=n)
        differs(amp, phase, "abs → phase", at_least=0.01)

        # the toolbar sets traits in Python
        vol.locator("select[title='mode']").select_option("composite")
        thr = vol.locator("input[data-trait='threshold']")
        thr.fill("42.5")
        thr.press("Enter")
        time.sleep(0.5)
        state = eval(run(page, 9, "STATE").split("STATE", 1)[1].strip())
        assert state == {"threshold": 42.5, "mode": "composite"}, state

        # a server stream: the browser reads the LOD and the full-resolution slice from the server
        out = run(page, 10, "STREAM", timeout=90000)
        assert "[8, 1024, 1024]" in out, out
        svol = page.locator(".daqlab-volume3d").nth(2)
        page.wait_for_function(f"() => Number(({VOLUME_JS})(2).dataset.firstPictureMs ?? -1) >= 0", timeout=60000)
        page.wait_for_function(f"() => ({VOLUME_JS})(2).dataset.slicesReady === 'z3'", timeout=60000)
        spic = canvas(page, 2, "stream")
        assert len(np.unique(spic.reshape(-1, 3), axis=0)) > 20, "the stream volume is nearly uniform"
        assert "binned 4×" in svol.locator(".daqlab-vol-status").inner_text()
        out = run(page, 11, "SX")
        shape, total, first = re.search(r"SX (\[.*?\]) (\S+) (\[.*?\])", out).groups()
        page.wait_for_function(f"() => ({VOLUME_JS})(2).dataset.slicesReady?.includes('x500')", timeout=60000)
        got = page.evaluate(f"({VOLUME_JS})(2).daqlabVolume.slice(2)")
        assert [got["rows"], got["cols"]] == json.loads(shape) and got["index"] == 500, got
        assert got["sum"] == float(total) and got["first"] == json.loads(first), (got, out)
        page.screenshot(path=str(ARTIFACTS / "volume-notebook.png"), full_page=True)
        assert not [e for e in errors if "daqlab" in e.lower() or "webgl" in e.lower()], errors
        assert not [c for c in console if "THREE" in c or "shader" in c.lower()], console
    except BaseException:
        page.screenshot(path=str(ARTIFACTS / "volume-failure.png"))
        raise
    finally:
        page.close()
