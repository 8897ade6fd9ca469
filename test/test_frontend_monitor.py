"""The extension's own UI in a real browser (same set-up as test_frontend.py): the command palette's
daqlab entries, the live monitor (LiveImage + HitRate in the main area, no notebook, no kernel) with
the default colormap from the settings, which an open monitor follows when it is changed in the
Settings Editor, the reconnect command, and the monitor's HitRate, Profile and RoiStats charts shown
together on smx, azint and legacy-ROI acquisitions. Screenshots in test/artifacts/."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from test_frontend import ARTIFACTS, Lab, browser, daq, lab, pixels  # noqa: F401 (fixtures)

PALETTE_ENTRIES = [
    "daqlab: Open the DAQ panel",
    "daqlab: Open a live monitor of the current scan",
    "daqlab: Insert code that opens the current scan",
    "daqlab: Reconnect to the daqlab server",
]


def palette_run(page, label: str) -> None:
    page.keyboard.press("Control+Shift+C")
    search = page.locator(".lm-CommandPalette-input")
    search.wait_for(timeout=10000)
    search.fill(label)
    page.locator(".lm-CommandPalette-item.lm-mod-active", has_text=label).wait_for(timeout=10000)
    page.keyboard.press("Enter")  # runs the active (first matching) entry


def write_settings(lab, daq) -> None:
    settings = Path(lab.env["JUPYTER_CONFIG_DIR"]) / "lab" / "user-settings" / "@daqlab" / "jupyterlab"
    settings.mkdir(parents=True, exist_ok=True)
    # no notebook has told the panel where the server is: the setting does (else it tries npm start's port 8765)
    (settings / "plugin.jupyterlab-settings").write_text(json.dumps({"colormap": "gray", "serverUrl": f"proxy/{daq.port}/ws"}))


def open_lab(page, lab) -> None:
    page.goto(f"{lab.url}/lab?reset&token={lab.token}")
    page.wait_for_selector(".jp-SideBar [data-id='daqlab-panel']", timeout=60000)
    page.wait_for_selector(".jp-Launcher", timeout=60000)
    time.sleep(2)  # the palette takes keys only once the shell has settled (a key pressed earlier is lost)


def gray_fraction(img: np.ndarray) -> tuple[int, float]:
    """How many pixels are lit, and which fraction of them is gray (R = G within 2)."""
    lit = img[img.sum(axis=2) > 60]
    return len(lit), float((np.abs(lit[:, 0].astype(int) - lit[:, 1]) <= 2).mean()) if len(lit) else 0.0


def set_colormap_in_settings_editor(page, value: str) -> None:
    """What a user does: Settings Editor → daqlab → default colormap (the form saves by itself)."""
    palette_run(page, "Settings Editor")
    entry = page.locator(".jp-PluginList-entry", has_text="daqlab").first
    entry.wait_for(timeout=30000)
    entry.click()
    select = page.locator("select[id='jp-SettingsEditor-@daqlab/jupyterlab:plugin_colormap']")
    select.wait_for(timeout=30000)
    select.select_option(value)


def test_palette_live_monitor_and_default_colormap(lab, daq, browser):
    import daqlab

    ARTIFACTS.mkdir(exist_ok=True)
    write_settings(lab, daq)
    c = daqlab.connect(daq.url)
    acq = c.detector("sim-eiger-500k").prepare(
        acquisition={"nb_frames": 3000, "expo_time": 0.05},
        detector={"scene": "serial_crystallography", "seed": 5, "hit_rate": 0.8},
        processing={"pipeline": "smx", "nb_receivers": 1}, scan={"name": "monitor"})
    acq.start()
    page = browser.new_page(viewport={"width": 1400, "height": 1300})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        open_lab(page, lab)
        # every daqlab command is in the palette
        page.keyboard.press("Control+Shift+C")
        page.locator(".lm-CommandPalette-input").fill("daqlab")
        items = page.locator(".lm-CommandPalette-item .lm-CommandPalette-itemLabel").all_inner_texts()
        for entry in PALETTE_ENTRIES:
            assert entry in items, items
        # run one from the open palette
        page.locator(".lm-CommandPalette-input").fill("daqlab: Open the DAQ panel")
        page.locator(".lm-CommandPalette-item.lm-mod-active", has_text="DAQ panel").wait_for(timeout=10000)
        page.keyboard.press("Enter")
        page.locator("#daqlab-panel").wait_for(state="visible", timeout=10000)

        # the live monitor follows the newest scan: image and hit rate, no kernel
        palette_run(page, "daqlab: Open a live monitor of the current scan")
        monitor = page.locator(".daqlab-monitor").first
        monitor.locator(f".daqlab-liveimage .daqlab-li-status[data-scan='{acq.scan.key}']").wait_for(timeout=30000)
        # the header names the scan as people know it: its name and number, not its key
        page.wait_for_function("() => /^monitor #\\d+ · frame/.test(document.querySelector('.daqlab-monitor .daqlab-li-status')?.textContent)", timeout=10000)
        page.wait_for_function("() => parseFloat(document.querySelector('.daqlab-monitor .daqlab-li-fps')?.textContent) > 0", timeout=30000)
        page.wait_for_function("() => Number(document.querySelector('.daqlab-monitor .daqlab-hitrate')?.dataset.points ?? 0) > 3", timeout=60000)
        assert monitor.locator(".daqlab-liveimage select[title='colormap']").input_value() == "gray"
        stage = monitor.locator(".daqlab-li-stage")
        lit, gray = gray_fraction(pixels(stage.screenshot(path=str(ARTIFACTS / "monitor-image.png"))))
        assert lit > 1000 and gray > 0.9, f"not drawn in gray: {gray:.1%}"  # the rest: mask tint, peak circles
        monitor.screenshot(path=str(ARTIFACTS / "monitor.png"))
        # no kernel is not a fault: ipywidgets' red "disconnected" mark must not show on the monitor's views
        assert monitor.locator(".daqlab-liveimage").count() == 1
        assert monitor.locator(".jupyter-widgets-disconnected").count() == 0, "the monitor's views look disconnected"

        # reconnect: the views drop their connection and come back
        n = int(page.locator(".daqlab-monitor .daqlab-hitrate").get_attribute("data-points"))
        palette_run(page, "daqlab: Reconnect to the daqlab server")
        page.wait_for_function("() => parseFloat(document.querySelector('.daqlab-monitor .daqlab-li-fps')?.textContent) > 0", timeout=30000)
        time.sleep(1.5)
        assert monitor.locator(".daqlab-li-message").is_hidden()
        assert int(page.locator(".daqlab-monitor .daqlab-hitrate").get_attribute("data-points")) >= n

        # the default colormap changed in the Settings Editor: the open monitor redraws in it
        set_colormap_in_settings_editor(page, "viridis")
        page.locator(".lm-TabBar-tab", has_text="Live monitor").first.click()
        page.wait_for_function("() => document.querySelector(\".daqlab-monitor .daqlab-liveimage select[title='colormap']\")?.value === 'viridis'",
                               timeout=30000)
        time.sleep(1.0)
        lit, gray = gray_fraction(pixels(stage.screenshot(path=str(ARTIFACTS / "monitor-image-viridis.png"))))
        assert lit > 1000 and gray < 0.2, f"not redrawn in viridis: {gray:.1%} of the lit pixels still gray"
        assert not [e for e in errors if "daqlab" in e.lower()], errors
    except BaseException:
        page.screenshot(path=str(ARTIFACTS / "failure-monitor.png"))
        raise
    finally:
        page.close()
        acq.abort()
        c.close()


PLOT_JS = """(kind) => { const gd = document.querySelector(`.daqlab-monitor [data-chart="${kind}"] .js-plotly-plot`);
  const ys = (gd?.data ?? []).map((t) => Array.from(t.y ?? []).filter(Number.isFinite));
  return {points: Math.max(0, ...ys.map((y) => y.length)), max: Math.max(0, ...ys.flat())}; }"""


def test_monitor_shows_hitrate_profile_and_roistats_together(lab, daq, browser):
    import daqlab

    ARTIFACTS.mkdir(exist_ok=True)
    write_settings(lab, daq)
    c = daqlab.connect(daq.url)
    page = browser.new_page(viewport={"width": 1400, "height": 1500})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    acqs = []
    try:
        open_lab(page, lab)
        palette_run(page, "daqlab: Open a live monitor of the current scan")
        monitor = page.locator(".daqlab-monitor").first
        monitor.wait_for(timeout=30000)
        charts = lambda: monitor.locator(".daqlab-monitor-chartbox").evaluate_all("(els) => els.map((e) => e.dataset.chart)")  # noqa: E731
        toggle = lambda kind: monitor.locator(f".daqlab-monitor-toggle input[data-chart='{kind}']")  # noqa: E731
        # by default the hit rate only, as before; ticking adds charts in a fixed order
        assert charts() == ["hitrate"] and toggle("hitrate").is_checked() and not toggle("profile").is_checked()
        toggle("roistats").check()
        toggle("profile").check()
        assert charts() == ["hitrate", "profile", "roistats"], charts()
        monitor.locator("[data-chart='roistats'] .daqlab-roistats").wait_for(timeout=10000)

        # smx (peak counts) on one detector and the legacy pipeline's ROI statistics on another, at once
        smx = c.detector("sim-eiger-500k").prepare(
            acquisition={"nb_frames": 300, "expo_time": 0.02},
            detector={"scene": "serial_crystallography", "seed": 5, "hit_rate": 0.8},
            processing={"pipeline": "smx", "nb_receivers": 1}, scan={"name": "monitor-smx"})
        rois = c.detector("sim-camera").prepare(
            acquisition={"nb_frames": 300, "expo_time": 0.02},
            processing={"pipeline": "legacy", "rois": [{"name": "centre", "roi": [412, 412, 200, 200]}]},
            scan={"name": "monitor-rois"})
        acqs += [smx, rois]
        smx.start()
        rois.start()
        # the charts follow the new scans that have their stream (the hit rate was on the first test's scan)
        monitor.locator(f"[data-chart='hitrate'] .daqlab-chart-status[data-scan='{smx.scan.key}']").wait_for(timeout=30000)
        monitor.locator(f"[data-chart='roistats'] .daqlab-chart-status[data-scan='{rois.scan.key}']").wait_for(timeout=30000)
        page.wait_for_function(f"() => ({PLOT_JS})('hitrate').points > 3", timeout=60000)
        page.wait_for_function(f"() => ({PLOT_JS})('roistats').points > 20", timeout=60000)
        first = {k: page.evaluate(PLOT_JS, k) for k in ("hitrate", "roistats")}
        smx.wait(progress=False)

        # then azimuthal integration on the eiger: the profile chart picks that scan up
        poni = {"dist": 0.1, "poni1": 0.0193, "poni2": 0.0386, "rot1": 0.01, "rot2": -0.005, "rot3": 0.0, "wavelength": 1e-10}
        azint = c.detector("sim-eiger-500k").prepare(
            acquisition={"nb_frames": 150, "expo_time": 0.02},
            detector={"scene": "powder", "poni": poni, "seed": 1},
            processing={"pipeline": "azint", "poni": poni, "npt": 300, "unit": "2th_deg"}, scan={"name": "monitor-azint"})
        acqs.append(azint)
        azint.start()
        page.wait_for_function(f"() => ({PLOT_JS})('profile').points === 300", timeout=60000)
        page.wait_for_function("() => Number(document.querySelector('.daqlab-monitor .daqlab-profile')?.dataset.frames ?? 0) > 1",
                               timeout=60000)
        rois.wait(progress=False)
        time.sleep(1.2)  # the charts redraw at ≤ 2 Hz
        last = {k: page.evaluate(PLOT_JS, k) for k in ("hitrate", "profile", "roistats")}
        monitor.screenshot(path=str(ARTIFACTS / "monitor-charts.png"))
        # the hit rate's x axis spans every frame plotted, not the first few points' range
        span = page.evaluate("""() => { const gd = document.querySelector('.daqlab-monitor [data-chart="hitrate"] .js-plotly-plot');
          return {range: gd._fullLayout.xaxis.range, x: Math.max(...gd.data[0].x)}; }""")
        assert span["x"] > 100 and span["range"][1] >= span["x"], span
        # the charts followed their scans to the end: every frame's point is drawn (on a loaded machine the ROI scan
        # may already have ended when `first` was read, so growth alone is not the test)
        assert last["roistats"]["points"] == len(rois.scan.streams["roi_stats"]), last["roistats"]
        assert last["hitrate"]["points"] == len(smx.scan.streams["peak_counter"]), last["hitrate"]
        for k in ("hitrate", "roistats"):
            assert last[k]["points"] >= first[k]["points"], f"{k} lost points: {first[k]} then {last[k]}"
        assert last["roistats"]["points"] >= 250, last  # a ROI sum per frame (a loaded machine may drop a few)
        assert last["roistats"]["max"] > 0 and last["profile"]["max"] > 0 and last["hitrate"]["max"] > 0, last
        assert monitor.locator("[data-chart='hitrate'] .daqlab-chart-status").get_attribute("data-scan") == smx.scan.key
        assert monitor.locator("[data-chart='roistats'] .daqlab-chart-status").get_attribute("data-scan") == rois.scan.key
        assert monitor.locator("[data-chart='profile'] .daqlab-chart-status").get_attribute("data-scan") == azint.scan.key
        assert "centre" in monitor.locator("[data-chart='roistats'] select[title='roi']").inner_text()

        # unticking removes a chart (and its connection); the others stay
        toggle("hitrate").uncheck()
        assert charts() == ["profile", "roistats"], charts()
        assert monitor.locator(".daqlab-hitrate").count() == 0
        assert not [e for e in errors if "daqlab" in e.lower() or "plotly" in e.lower()], errors
    except BaseException:
        page.screenshot(path=str(ARTIFACTS / "failure-monitor-charts.png"))
        raise
    finally:
        page.close()
        for a in acqs:
            try:
                a.abort()
            except Exception:  # noqa: BLE001 (already finished)
                pass
        c.close()
