"""The extension's own UI in a real browser (same set-up as test_frontend.py): the command palette's
daqlab entries, the live monitor (LiveImage + HitRate in the main area, no notebook, no kernel) with
the default colormap from the settings, and the reconnect command. Screenshots in test/artifacts/."""
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


def test_palette_live_monitor_and_default_colormap(lab, daq, browser):
    import daqlab

    ARTIFACTS.mkdir(exist_ok=True)
    settings = Path(lab.env["JUPYTER_CONFIG_DIR"]) / "lab" / "user-settings" / "@daqlab" / "jupyterlab"
    settings.mkdir(parents=True, exist_ok=True)
    # no notebook has told the panel where the server is: the setting does (else it tries npm start's port 8765)
    (settings / "plugin.jupyterlab-settings").write_text(json.dumps({"colormap": "gray", "serverUrl": f"proxy/{daq.port}/ws"}))
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
        page.goto(f"{lab.url}/lab?reset&token={lab.token}")
        page.wait_for_selector(".jp-SideBar [data-id='daqlab-panel']", timeout=60000)
        page.wait_for_selector(".jp-Launcher", timeout=60000)
        time.sleep(2)  # the palette takes keys only once the shell has settled (a key pressed earlier is lost)
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
        monitor.locator(".daqlab-liveimage .daqlab-li-status").filter(has_text=acq.scan.key).wait_for(timeout=30000)
        page.wait_for_function("() => parseFloat(document.querySelector('.daqlab-monitor .daqlab-li-fps')?.textContent) > 0", timeout=30000)
        page.wait_for_function("() => Number(document.querySelector('.daqlab-monitor .daqlab-hitrate')?.dataset.points ?? 0) > 3", timeout=60000)
        assert monitor.locator(".daqlab-liveimage select[title='colormap']").input_value() == "gray"
        stage = monitor.locator(".daqlab-li-stage")
        img = pixels(stage.screenshot(path=str(ARTIFACTS / "monitor-image.png")))
        lit = img[img.sum(axis=2) > 60]
        gray = np.abs(lit[:, 0].astype(int) - lit[:, 1]) <= 2
        assert len(lit) > 1000 and gray.mean() > 0.9, f"not drawn in gray: {gray.mean():.1%}"  # the rest: mask tint, peak circles
        monitor.screenshot(path=str(ARTIFACTS / "monitor.png"))

        # reconnect: the views drop their connection and come back
        n = int(page.locator(".daqlab-monitor .daqlab-hitrate").get_attribute("data-points"))
        palette_run(page, "daqlab: Reconnect to the daqlab server")
        page.wait_for_function("() => parseFloat(document.querySelector('.daqlab-monitor .daqlab-li-fps')?.textContent) > 0", timeout=30000)
        time.sleep(1.5)
        assert monitor.locator(".daqlab-li-message").is_hidden()
        assert int(page.locator(".daqlab-monitor .daqlab-hitrate").get_attribute("data-points")) >= n
        assert not [e for e in errors if "daqlab" in e.lower()], errors
    except BaseException:
        page.screenshot(path=str(ARTIFACTS / "failure-monitor.png"))
        raise
    finally:
        page.close()
        acq.abort()
        c.close()
