"""The step-scan widgets in a real browser (same set-up as test_frontend.py: a real daqlab server with its
simulated motors, counters and MCA, JupyterLab with this tree's extension, Chromium via Playwright):
a ScanPlot following an ascan (every point plotted, normalised by i0, cen/peak as Python computes them),
a Map2D filling with an amesh, the MCA spectrum on its energy axis with its ROI, and the DAQ panel's
scan list (title, points) opening a scan's plot. Screenshots land in test/artifacts/."""
from __future__ import annotations

import json
import re

import pytest

from test_frontend import ARTIFACTS, browser, cell_output, daq, lab, open_notebook, run_cell, wait_output, write_notebook  # noqa: F401 (fixtures)

ASCAN_POINTS = 21
MESH = (8, 6)  # points along samx (fast) and samy

CELLS = [
    # 0: the widgets, following, shown before any scan runs
    """import daqlab
from daqlab.widgets import ScanPlot, Map2D, MCA
from daqlab.scanning import ascan, amesh, _stats
c = daqlab.connect()
samx, samy, mca = c.axis("samx"), c.axis("samy"), c.mca("mca")
mca.rois.add("Fe", 6300, 6500)
sp = ScanPlot(follow=True, counters=["diode", "mca:Fe"], monitor="i0")
mp = Map2D(follow=True, counter="mca:Fe", height=360)
mc = MCA(follow=True)
display(sp, mp, mc)
print("READY")""",
    # 1: an ascan, not waited for: the views fill while it runs
    f"""s = ascan(samy, -2, 2, {ASCAN_POINTS - 1}, 0.05, "i0", "diode", mca, wait=False)
print("KEY", s.key)""",
    # 2: Python's own statistics of the normalised ROI, beside the view's
    """s.wait(60)
d = s.get_data()
ref = _stats(d["samy"], d["mca:Fe"] / d["i0"])
print("STATS", json.dumps({"ref": ref, "view": sp.stats}))""",
    # 3: a mesh
    f"""m = amesh(samx, -4, 4, {MESH[0] - 1}, samy, -4, 4, {MESH[1] - 1}, 0.02, "i0", "diode", mca, wait=False)
print("MESH", m.key)""",
]


def js_number(selector: str, field: str) -> str:
    return f"Number(document.querySelector({json.dumps(selector)})?.dataset.{field} ?? -1)"


def test_scanplot_map2d_mca_and_the_scan_list(lab, daq, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    cells = ["import json\n" + CELLS[0], *CELLS[1:]]
    write_notebook(lab.root / "scans.ipynb", cells)
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        open_notebook(page, lab, "scans.ipynb")
        run_cell(page, 0)
        wait_output(page, 0, "READY")
        plot, mesh, spectrum = (page.locator(f".daqlab-{k}").first for k in ("scanplot", "map2d", "mca"))
        plot.wait_for(timeout=30000)
        assert "Error displaying widget" not in page.locator(".jp-Notebook").inner_text()

        # ScanPlot: the ascan's points, all of them, in both curves, with peak/cen markers
        run_cell(page, 1)
        wait_output(page, 1, "KEY")
        key = re.search(r"KEY (\S+)", cell_output(page, 1)).group(1)
        plot.locator(f".daqlab-chart-status[data-scan='{key}']").wait_for(timeout=30000)
        page.wait_for_function(f"() => {js_number('.daqlab-scanplot', 'points')} === {ASCAN_POINTS}", timeout=60000)
        page.wait_for_timeout(600)  # one more redraw (≤ 4 Hz)
        assert plot.get_attribute("data-title") == f"ascan samy -2 2 {ASCAN_POINTS - 1} 0.05"
        traces = plot.locator(".scatterlayer .trace")
        assert traces.count() == 2
        for k in range(2):
            assert traces.nth(k).locator("path.point").count() == ASCAN_POINTS
        legend = plot.locator(".legend").text_content() or ""
        assert "diode / i0" in legend and "mca:Fe / i0" in legend, legend
        assert "cen" in plot.inner_text() and "peak" in plot.inner_text()
        plot.screenshot(path=str(ARTIFACTS / "scanplot-ascan.png"))

        # the view's cen/peak of mca:Fe / i0 are Python's (kernel-bridge scanning._stats)
        page.wait_for_timeout(500)
        run_cell(page, 2)
        wait_output(page, 2, "STATS")
        got = json.loads(cell_output(page, 2).split("STATS", 1)[1])
        view = got["view"]["mca:Fe / i0"]
        for k in ("peak", "cen", "fwhm", "com"):
            assert view[k] == pytest.approx(got["ref"][k], abs=1e-9), (k, view, got["ref"])

        # MCA: the newest spectrum of the scan, 4096 channels on the energy axis, the Fe ROI drawn
        page.wait_for_function(f"() => {js_number('.daqlab-mca', 'points')} === {ASCAN_POINTS}", timeout=60000)
        assert spectrum.get_attribute("data-channels") == "4096" and spectrum.get_attribute("data-rois") == "1"
        assert "energy (eV)" in (spectrum.locator(".xtitle").text_content() or "")
        assert "Fe" in (spectrum.locator(".annotation").first.text_content() or "")
        last_energy = page.evaluate("() => { const d = document.querySelector('.daqlab-mca .js-plotly-plot').data[0].x; return d[d.length - 1]; }")
        assert last_energy == pytest.approx(10 * 4095)  # the simulated MCA's calibration: 10 eV per channel
        # the log axis starts at 1 count or above: no stray "9" (0.9) tick label under 1
        low = page.evaluate("() => { const l = document.querySelector('.daqlab-mca .js-plotly-plot')._fullLayout.yaxis;"
                            " return l.type === 'log' ? l.range[0] : null; }")
        assert low is not None and low >= 0, low
        spectrum.screenshot(path=str(ARTIFACTS / "mca-spectrum.png"))

        # Map2D: the amesh fills its grid, every cell in the right place
        run_cell(page, 3)
        wait_output(page, 3, "MESH")
        mkey = re.search(r"MESH (\S+)", cell_output(page, 3)).group(1)
        mesh.locator(f".daqlab-chart-status[data-scan='{mkey}']").wait_for(timeout=30000)
        cells_n = MESH[0] * MESH[1]
        assert page.evaluate(f"() => {js_number('.daqlab-map2d', 'cells')}") in (-1, cells_n)
        page.wait_for_function(f"() => {js_number('.daqlab-map2d', 'filled')} === {cells_n}", timeout=60000)
        page.wait_for_timeout(500)
        z = page.evaluate("() => document.querySelector('.daqlab-map2d .js-plotly-plot').data[0].z")
        assert len(z) == MESH[1] and all(len(r) == MESH[0] for r in z)
        assert all(v is not None for r in z for v in r)
        assert len({round(v, 6) for r in z for v in r}) > 3, "the map is flat"
        assert mesh.locator(".heatmaplayer image").count() == 1
        assert mesh.locator(".xtitle").text_content() == "samx" and mesh.locator(".ytitle").text_content() == "samy"
        mesh.screenshot(path=str(ARTIFACTS / "map2d-amesh.png"))

        # the DAQ panel: step scans by title and points; "plot" opens the scan's plot in the main area
        page.locator(".jp-SideBar [data-id='daqlab-panel']").click()
        panel = page.locator("#daqlab-panel")
        panel.locator(".daqlab-panel-status[data-state='ok']").wait_for(timeout=30000)
        panel.locator("button.daqlab-panel-refresh").click()
        row = panel.locator(f"li.daqlab-panel-stepscan[data-key='{key}']")
        row.wait_for(timeout=30000)
        text = row.locator(".daqlab-panel-scanlabel").inner_text()
        assert f"ascan samy -2 2 {ASCAN_POINTS - 1} 0.05" in text and f"{ASCAN_POINTS}/{ASCAN_POINTS} points" in text, text
        panel.screenshot(path=str(ARTIFACTS / "daq-panel-scans.png"))
        row.locator("button.daqlab-panel-plot").click()
        opened = page.locator(".daqlab-scanplot-panel .daqlab-scanplot").first
        opened.wait_for(timeout=30000)
        page.wait_for_function(f"() => {js_number('.daqlab-scanplot-panel .daqlab-scanplot', 'points')} === {ASCAN_POINTS}", timeout=60000)
        page.wait_for_timeout(600)
        page.locator(".daqlab-scanplot-panel").first.screenshot(path=str(ARTIFACTS / "panel-scanplot.png"))
        assert not errors, errors
    finally:
        page.close()
