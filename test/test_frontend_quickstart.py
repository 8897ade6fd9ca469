"""The quickstart notebook as a user runs it: *Run → Run All Cells* in JupyterLab (Chromium driven by
Playwright, a real daqlab server, this tree's extension). While it runs, the live image changes between
two screenshots, the hit-rate chart gains points and the DAQ panel's counters rise; afterwards a ROI
drawn with the mouse arrives in Python. Screenshots in test/artifacts/."""
from __future__ import annotations

import ast
import re
import shutil
import time

import numpy as np

from conftest import ROOT
from test_frontend import ARTIFACTS, Lab, browser, cell_output, daq, lab, open_notebook, pixels, run_cell  # noqa: F401 (fixtures)

QUICKSTART = ROOT / "notebooks" / "00-quickstart.ipynb"


def rises(read, seconds: float = 20.0) -> tuple[int, int]:
    """Poll an integer until it grows (returns the first and the larger value) or time runs out."""
    first = read()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.4)
        now = read()
        if now > first:
            return first, now
    return first, read()


def test_quickstart_run_all(lab, daq, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(QUICKSTART, lab.root / "quickstart.ipynb")
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        open_notebook(page, lab, "quickstart.ipynb", reset=True)
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()

        # the powder acquisition, live: the picture changes
        live = page.locator(".daqlab-liveimage").first
        page.wait_for_function("() => parseFloat(document.querySelector('.daqlab-li-fps')?.textContent) > 0", timeout=60000)
        stage = live.locator(".daqlab-li-stage")
        a = pixels(stage.screenshot(path=str(ARTIFACTS / "quickstart-live-1.png")))
        time.sleep(1.2)
        b = pixels(stage.screenshot(path=str(ARTIFACTS / "quickstart-live-2.png")))
        assert np.any(a != b, axis=2).mean() > 0.001, "the live image did not change"

        # the DAQ panel's counters rise while it acquires
        page.locator(".jp-SideBar [data-id='daqlab-panel']").click()
        acquired = "#daqlab-panel [data-detector='sim-eiger-500k'] [data-field='acquired']"
        page.wait_for_function(f"() => /^\\d+$/.test(document.querySelector(\"{acquired}\")?.textContent)", timeout=30000)
        n1, n2 = rises(lambda: int(page.locator(acquired).inner_text()))
        assert n2 > n1, f"the panel's counters did not rise: {n1} then {n2}"
        page.locator("#daqlab-panel").screenshot(path=str(ARTIFACTS / "quickstart-panel.png"))

        # the smx section: the hit-rate chart gains points
        points = "() => Number(document.querySelector('.daqlab-hitrate')?.dataset.points ?? 0)"
        page.wait_for_function(f"() => ({points})() > 0", timeout=90000)
        p1, p2 = rises(lambda: int(page.evaluate(points)))
        assert p2 > p1, f"the hit-rate chart did not gain points: {p1} then {p2}"
        page.locator(".daqlab-hitrate").first.screenshot(path=str(ARTIFACTS / "quickstart-hitrate.png"))

        # every cell ran (the last one plots): no errors, no broken widgets
        page.wait_for_function("() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell')].every("
                               "c => /\\[\\d+\\]/.test(c.querySelector('.jp-InputPrompt')?.textContent ?? ''))", timeout=120000)
        text = page.locator(".jp-Notebook").inner_text()
        assert "Error displaying widget" not in text and "Traceback" not in text, text[-2000:]

        # a ROI drawn with the mouse on the first image arrives in Python
        live.scroll_into_view_if_needed()
        box = stage.bounding_box()
        x0, y0 = box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.3
        page.mouse.move(x0, y0)
        page.keyboard.down("Shift")
        page.mouse.down()
        for k in range(1, 6):
            page.mouse.move(x0 + 30 * k, y0 + 20 * k)
        page.mouse.up()
        page.keyboard.up("Shift")
        live.locator(".daqlab-li-roi").first.wait_for(timeout=5000)
        time.sleep(1.0)
        rois_cell = next(i for i in range(page.locator(".jp-Notebook .jp-Cell").count())
                         if "ROIs drawn so far" in page.locator(".jp-Notebook .jp-Cell").nth(i).locator(".jp-InputArea").inner_text())
        run_cell(page, rois_cell)
        page.wait_for_function(f"document.querySelectorAll('.jp-Notebook .jp-Cell')[{rois_cell}]"
                               ".querySelector('.jp-OutputArea')?.innerText.includes('[[')", timeout=30000)
        rois = ast.literal_eval(cell_output(page, rois_cell).split("ROIs drawn so far:", 1)[1].strip())
        assert len(rois) == 1 and rois[0][2] >= 10 and rois[0][3] >= 20, rois
        page.screenshot(path=str(ARTIFACTS / "quickstart.png"), full_page=True)
        assert not [e for e in errors if "daqlab" in e.lower()], errors
    except BaseException:
        page.screenshot(path=str(ARTIFACTS / "failure-quickstart.png"))
        raise
    finally:
        page.close()
