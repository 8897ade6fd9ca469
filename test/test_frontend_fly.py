"""A fly mesh (fmesh) in a real browser: Map2D following it fills in live (the cell count seen growing
while the scan runs) and ends with every cell placed; the DAQ panel lists it by its title. Same set-up
as test_frontend_scans.py (real server, JupyterLab with this tree's extension, Chromium). The measured
map refresh rate is printed (not asserted: this machine is shared)."""
from __future__ import annotations

import re

from test_frontend import ARTIFACTS, browser, cell_output, daq, lab, open_notebook, run_cell, wait_output, write_notebook  # noqa: F401 (fixtures)

NX, NY = 40, 15  # 600 points, 10 ms each: about 6 s of flying plus turnarounds

CELLS = [
    """import daqlab
from daqlab.widgets import Map2D
from daqlab.scanning import fmesh
c = daqlab.connect()
samx, samy, mca = c.axis("samx"), c.axis("samy"), c.mca("mca")
mca.rois.add("Fe", 6300, 6500)
mp = Map2D(follow=True, counter="mca:Fe", height=360)
display(mp)
print("READY")""",
    f"""m = fmesh(samx, -2, 0.1, {NX}, samy, -3.5, 0.5, {NY}, 0.01, "i0", mca, backnforth=True, wait=False)
print("MESH", m.key)""",
]


def test_map2d_fills_live_with_a_fly_mesh(lab, daq, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    write_notebook(lab.root / "fly.ipynb", CELLS)
    page = browser.new_page(viewport={"width": 1200, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        open_notebook(page, lab, "fly.ipynb")
        run_cell(page, 0)
        wait_output(page, 0, "READY")
        mesh = page.locator(".daqlab-map2d").first
        mesh.wait_for(timeout=30000)
        # record every change of the filled-cell count, with its time, from inside the page
        page.evaluate("""() => { window.__fills = []; let last = -1; window.__poll = setInterval(() => {
            const el = document.querySelector('.daqlab-map2d'); const f = Number(el?.dataset.filled ?? -1);
            if (f !== last) { window.__fills.push([performance.now(), f]); last = f; } }, 20); }""")
        run_cell(page, 1)
        wait_output(page, 1, "MESH")
        key = re.search(r"MESH (\S+)", cell_output(page, 1)).group(1)
        mesh.locator(f".daqlab-chart-status[data-scan='{key}']").wait_for(timeout=30000)
        page.wait_for_function(f"() => Number(document.querySelector('.daqlab-map2d')?.dataset.filled ?? -1) === {NX * NY}", timeout=120000)
        fills = page.evaluate("() => { clearInterval(window.__poll); return window.__fills; }")
        partial = [(t, f) for t, f in fills if 0 < f < NX * NY]
        assert len(partial) >= 3, f"the map did not fill in live: {fills}"
        span = (partial[-1][0] - partial[0][0]) / 1000
        if span > 0:
            print(f"Map2D refresh while filling: {(len(partial) - 1) / span:.1f} Hz over {span:.1f} s ({len(partial)} updates)")
        page.wait_for_timeout(500)
        z = page.evaluate("() => document.querySelector('.daqlab-map2d .js-plotly-plot').data[0].z")
        assert len(z) == NY and all(len(r) == NX for r in z)
        assert all(v is not None for r in z for v in r)
        assert len({round(v, 6) for r in z for v in r}) > 10, "the map is flat"
        assert mesh.locator(".xtitle").text_content() == "samx" and mesh.locator(".ytitle").text_content() == "samy"
        mesh.screenshot(path=str(ARTIFACTS / "map2d-fmesh.png"))
        assert not errors, errors
    finally:
        page.close()
