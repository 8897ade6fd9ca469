"""Volume3D in headless Chromium (JupyterLab with this tree's extension, WebGL2 by SwiftShader
unless the browser finds a GPU): time to the first picture of a 512³ uint16 volume (beside a 64³
one: the fixed cost of a widget), and the frame rate while the camera orbits a 256³ volume
(beside an empty scene drawn by the same renderer, same canvas, same run).

    .venv/bin/python bench/volume.py [--frames 40]
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "test"))
from test_frontend import CHROMIUM, CHROMIUM_FLAGS, Lab, open_notebook, run_cell  # noqa: E402
from record import Recorder, slug  # noqa: E402  (bench/record.py)

SETUP = """import time, numpy as np
from daqlab.widgets import Volume3D
def volume(n):
    i = np.arange(n, dtype=np.float32) / n - 0.5
    r2 = i[:, None, None] ** 2 + i[None, :, None] ** 2 + i[None, None, :] ** 2
    return (60000 * np.exp(-r2 / 0.05)).astype(np.uint16)
v64, v256, v512 = volume(64), volume(256), volume(512)
print("READY")"""

SHOW = """t0 = time.time()
w{i} = Volume3D(v{n}, height=400, mode="{mode}")
lod_s = time.time() - t0
display(w{i})
print("SHOWN {i}", repr(t0), repr(lod_s))"""

VOL = "document.querySelectorAll('.daqlab-volume3d')[{i}]"


def wait_output(page, index: int, text: str, timeout=120000) -> str:
    page.wait_for_function(f"document.querySelectorAll('.jp-Notebook .jp-Cell')[{index}]"
                           f".querySelector('.jp-OutputArea')?.innerText.includes({json.dumps(text)})", timeout=timeout)
    return page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-OutputArea").inner_text()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=40)
    args = ap.parse_args()
    cells = [SETUP, SHOW.format(i=0, n=64, mode="mip"), SHOW.format(i=1, n=512, mode="mip"),
             SHOW.format(i=2, n=256, mode="mip")]
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        lab = Lab(Path(tmp), "ws://127.0.0.1:9/ws")  # no daqlab server needed: array sources
        try:
            nb = {"cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {}, "outputs": [],
                             "source": s} for i, s in enumerate(cells)],
                  "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
                  "nbformat": 4, "nbformat_minor": 5}
            (lab.root / "bench.ipynb").write_text(json.dumps(nb))
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
                page = browser.new_page(viewport={"width": 900, "height": 1600})
                open_notebook(page, lab, "bench.ipynb")
                run_cell(page, 0)
                wait_output(page, 0, "READY")
                renderer = page.evaluate("""() => { const c = document.createElement('canvas').getContext('webgl2');
                    const e = c && c.getExtension('WEBGL_debug_renderer_info');
                    return c ? (e ? c.getParameter(e.UNMASKED_RENDERER_WEBGL) : c.getParameter(c.RENDERER)) : 'no WebGL2'; }""")
                print(f"browser renderer: {renderer}")
                first = {}
                for i, n in [(0, 64), (1, 512)]:
                    run_cell(page, i + 1)
                    out = wait_output(page, i + 1, f"SHOWN {i}")
                    t0, lod_s = re.search(rf"SHOWN {i} (\S+) (\S+)", out).groups()
                    page.wait_for_function(f"() => {VOL.format(i=i)}?.dataset.firstPictureAt", timeout=120000)
                    at = float(page.evaluate(f"() => {VOL.format(i=i)}.dataset.firstPictureAt")) / 1000
                    view_ms = float(page.evaluate(f"() => {VOL.format(i=i)}.dataset.firstPictureMs"))
                    lod_ms = float(page.evaluate(f"() => {VOL.format(i=i)}.dataset.lodMs"))
                    page.wait_for_function(f"() => {VOL.format(i=i)}?.dataset.fullPictureAt", timeout=120000)
                    full_at = float(page.evaluate(f"() => {VOL.format(i=i)}.dataset.fullPictureAt")) / 1000
                    msg_at = float(page.evaluate(f"() => {VOL.format(i=i)}.dataset.fullLodAt")) / 1000
                    first[n] = (at - float(t0), float(lod_s), lod_ms / 1000, view_ms / 1000, full_at - float(t0), msg_at - float(t0))
                print("\ntime to first picture (cell start → first frame drawn), MIP, 400 px high canvas")
                print("(first picture: from the ≤ 64³ preview; full LOD: the 256³ level of detail drawn)")
                print("times from the start of the cell, s")
                print(f"{'volume':>10} {'first picture':>14} {'full LOD drawn':>15} {'(its message in)':>17} "
                      f"{'LOD in kernel':>14} {'view → 1st LOD in':>18} {'view → picture':>15}")
                for n, (total, lod_s, recv_s, view_s, full_s, msg_s) in first.items():
                    ref = "  (reference: a widget's fixed cost)" if n == 64 else "  (target < 2 s)"
                    print(f"{n:>7}³ {total:14.2f} {full_s:15.2f} {msg_s:17.2f} {lod_s:14.2f} {recv_s:18.2f} {view_s:15.2f}{ref}")
                rec = Recorder("volume")
                rec.figure("first_picture_512.s", first[512][0], "s", False, label="512³ MIP: cell start → first picture",
                           reference=("64³: cell start → first picture", first[64][0]), target=2)
                rec.figure("full_lod_512.s", first[512][4], "s", False, label="512³ MIP: cell start → full LOD drawn",
                           reference=("64³: cell start → full LOD drawn", first[64][4]))

                run_cell(page, 3)
                wait_output(page, 3, "SHOWN 2")
                page.wait_for_function(f"() => {VOL.format(i=2)}?.dataset.firstPictureAt", timeout=120000)
                page.locator(".daqlab-volume3d").nth(2).scroll_into_view_if_needed()
                size = page.evaluate(f"() => {{ const c = {VOL.format(i=2)}.querySelector('.daqlab-vol-stage canvas'); return [c.clientWidth, c.clientHeight]; }}")
                hooks = f"{VOL.format(i=2)}.daqlabVolume"
                n = args.frames
                empty = page.evaluate(f"() => {hooks}.emptyRate({n})")
                rows = [("empty scene", empty, "reference: the same renderer and canvas")]
                for mode in ("mip", "composite", "iso"):
                    page.evaluate(f"() => {{ const m = {VOL.format(i=2)}.querySelector(\"select[title='mode']\");"
                                  f" m.value = '{mode}'; m.dispatchEvent(new Event('change')); }}")
                    time.sleep(0.3)
                    quick = page.evaluate(f"() => {hooks}.rotate({n}, true)")
                    full = page.evaluate(f"() => {hooks}.rotate({max(5, n // 4)}, false)")
                    rows.append((f"{mode}, while rotating", quick["fps"], f"adaptive: pixel ratio {quick['pixelRatio']:.2f}, ray step {quick['step']:.1f} voxels"))
                    rows.append((f"{mode}, at rest", full["fps"], "full quality"))
                print(f"\ncamera orbit, 256³ uint16 volume, canvas {size[0]}×{size[1]} px, {n} frames (target ≥ 20 fps)")
                for name, fps, note in rows:
                    print(f"{name:>24}: {fps:7.1f} fps   {note}")
                for name, fps, note in rows[1:]:
                    rec.figure(f"orbit_256.{slug(name)}.fps", fps, "fps", True,
                               label=f"256³ orbit, {name} ({note})", reference=("empty scene, same renderer and canvas", empty),
                               target=20 if "rotating" in name else None)  # the target is on the adaptive (rotating) rate
                browser.close()
        finally:
            lab.stop()


if __name__ == "__main__":
    main()
