"""The chart widgets in a real browser (same set-up as test_frontend.py: a real daqlab server,
JupyterLab with this tree's extension, Chromium driven by Playwright): HitRate and Progress on a
running smx acquisition, Profile on an azint one. Screenshots land in test/artifacts/."""
from __future__ import annotations

import re
import time

from test_frontend import ARTIFACTS, browser, cell_output, daq, lab, Lab, open_notebook, run_cell, wait_output, write_notebook  # noqa: F401 (fixtures)

SMX_FRAMES = 600
POINTS_JS = "() => Number(document.querySelector('.daqlab-hitrate')?.dataset.points ?? 0)"
DRAWN_JS = "() => document.querySelectorAll('.daqlab-hitrate .scatterlayer path.point').length"
ACQUIRED_JS = "() => document.querySelector(\".daqlab-progress [data-field='acquired']\")?.textContent ?? ''"

CELLS = [
    # 0: an smx acquisition prepared, its widgets shown before it starts
    f"""import daqlab
from daqlab.widgets import HitRate, Progress, Profile
c = daqlab.connect()
acq = c.detector("sim-eiger-500k").prepare(
    acquisition={{"nb_frames": {SMX_FRAMES}, "expo_time": 0.01}},
    detector={{"scene": "serial_crystallography", "seed": 5, "hit_rate": 0.8}},
    processing={{"pipeline": "smx", "nb_receivers": 2}},
    scan={{"name": "charts-smx"}})
hr = HitRate(acq, window=50)
display(hr, Progress(acq))
print("KEY", acq.scan.key)""",
    "acq.start(); print('STARTED')",
    "print('HF', repr(hr.hit_fraction))",
    # 3: azint
    """poni = {"dist": 0.1, "poni1": 0.0193, "poni2": 0.0386, "rot1": 0.01, "rot2": -0.005, "rot3": 0.0, "wavelength": 1e-10}
acq2 = c.detector("sim-eiger-500k").prepare(
    acquisition={"nb_frames": 200, "expo_time": 0.02},
    detector={"scene": "powder", "poni": poni, "seed": 1},
    processing={"pipeline": "azint", "poni": poni, "npt": 400, "unit": "2th_deg"},
    scan={"name": "charts-azint"})
acq2.start()
Profile(acq2, log_y=True)""",
    # 4: an address nothing listens on
    "Progress(acq, server_url='proxy/9/ws')",
]


def test_hitrate_progress_profile_in_jupyterlab(lab, daq, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    write_notebook(lab.root / "charts.ipynb", CELLS)
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    try:
        open_notebook(page, lab, "charts.ipynb")
        run_cell(page, 0)
        wait_output(page, 0, "KEY")
        key = re.search(r"KEY (\S+)", cell_output(page, 0)).group(1)
        hitrate = page.locator(".daqlab-hitrate").first
        progress = page.locator(".daqlab-progress").first
        # both views connected and attached to the scan before it starts
        hitrate.locator(f".daqlab-chart-status[data-scan='{key}']").wait_for(timeout=30000)
        progress.locator("[data-field='state']").filter(has_text="PREPARED").wait_for(timeout=30000)
        assert "Error displaying widget" not in page.locator(".jp-Notebook").inner_text()

        run_cell(page, 1)
        # Progress: the acquired counter rises, live
        page.wait_for_function(f"() => Number(({ACQUIRED_JS})()) > 0", timeout=30000)
        n1 = int(progress.locator("[data-field='acquired']").inner_text())
        # HitRate: points are plotted, and more of them a moment later
        page.wait_for_function(f"() => ({DRAWN_JS})() > 0", timeout=30000)
        p1, d1 = page.evaluate(POINTS_JS), page.evaluate(DRAWN_JS)
        hitrate.screenshot(path=str(ARTIFACTS / "hitrate-1.png"))
        time.sleep(1.2)
        n2 = int(progress.locator("[data-field='acquired']").inner_text())
        p2, d2 = page.evaluate(POINTS_JS), page.evaluate(DRAWN_JS)
        progress.screenshot(path=str(ARTIFACTS / "progress.png"))
        assert n2 > n1, f"acquired did not rise: {n1} then {n2}"
        assert p2 > p1 and d2 > d1, f"plotted points did not grow: {p1}/{d1} then {p2}/{d2}"
        assert n1 < SMX_FRAMES
        # the threshold line (min_nb_peaks from the stream info) is drawn
        assert "min_nb_peaks" in hitrate.inner_text()

        # the end: every frame plotted, the bar full, the hit fraction back in Python
        # (a loaded machine may drop frames in processing: every event of the stream must be plotted)
        ended = hitrate.locator(".daqlab-chart-status").filter(has_text="scan ended")
        ended.wait_for(timeout=60000)
        # "(N frames)", or "(N frames, M analysed)" when frames were dropped: M is the number of events
        counted = re.search(r"scan ended \((\d+) frames(?:, (\d+) analysed)?\)", ended.inner_text())
        length = int(counted.group(2) or counted.group(1))
        assert length > SMX_FRAMES // 2, ended.inner_text()
        page.wait_for_function(f"() => document.querySelector('.daqlab-hitrate')?.dataset.frames === '{length}'", timeout=10000)
        points = page.evaluate(POINTS_JS)
        assert points == length, f"{points} points plotted for {length} peak_counter events"
        progress.locator("[data-field='state']").filter(has_text="finished").wait_for(timeout=60000)
        assert progress.locator("[data-field='acquired']").inner_text() == str(SMX_FRAMES)
        hitrate.screenshot(path=str(ARTIFACTS / "hitrate-2.png"))
        time.sleep(1.0)  # the view reports at ≤ 2 Hz
        run_cell(page, 2)
        wait_output(page, 2, "HF")
        hf = float(re.search(r"HF (\S+)", cell_output(page, 2)).group(1))
        assert 0 < hf <= 1, hf
        summary = hitrate.locator(".daqlab-chart-summary").inner_text()
        assert f"{100 * hf:.1f}%" in summary, (hf, summary)

        # Profile: a non-empty I(2θ) curve of 400 bins, the axis titled from the unit
        run_cell(page, 3)
        profile = page.locator(".daqlab-profile").first
        profile.wait_for(timeout=60000)
        page.wait_for_function("() => Number(document.querySelector('.daqlab-profile')?.dataset.points ?? 0) === 400", timeout=60000)
        page.wait_for_function("() => Number(document.querySelector('.daqlab-profile')?.dataset.frames ?? 0) > 1", timeout=60000)
        line = profile.locator(".scatterlayer .trace .js-line").first
        assert len(line.get_attribute("d") or "") > 400, "the profile line is (almost) empty"
        assert "2θ" in (profile.locator(".xtitle").text_content() or "")
        assert profile.locator(".daqlab-chart-message").is_hidden()
        profile.screenshot(path=str(ARTIFACTS / "profile.png"))

        # an unreachable server is reported
        run_cell(page, 4)
        bad = page.locator(".daqlab-progress").nth(1)
        bad.locator(".daqlab-chart-message").filter(has_text="unreachable").wait_for(timeout=30000)
        assert "proxy/9/ws" in bad.locator(".daqlab-chart-message").inner_text()
        page.screenshot(path=str(ARTIFACTS / "charts-notebook.png"), full_page=True)
        assert not [e for e in errors if "daqlab" in e.lower() or "plotly" in e.lower()], errors
    except BaseException:
        page.screenshot(path=str(ARTIFACTS / "charts-failure.png"))
        print("hitrate:", page.evaluate("() => JSON.stringify({...document.querySelector('.daqlab-hitrate')?.dataset})"),
              page.locator(".daqlab-hitrate").first.inner_text()[:300])
        print("page errors:", *errors, "console:", *console[-30:], sep="\n")
        raise
    finally:
        page.close()
