"""The side panels find the daqlab server on whatever port it runs (issue: DAQLAB_PORT=18765 npm start left
the DAQ panel knocking on proxy/8765). The Jupyter server names it (daqlab.labconfig, from its $DAQLAB_URL);
no setting, no notebook, a fresh browser."""
from __future__ import annotations

import json

from test_frontend import ARTIFACTS, browser, daq, lab  # noqa: F401 (fixtures)
from test_frontend_monitor import open_lab


def test_config_endpoint_names_the_server(lab, daq):
    assert daq.port != 8765
    answer = json.loads(lab.get("/daqlab/config").read())
    assert answer == {"server_url": f"proxy/{daq.port}/ws", "token": None}


def test_daq_panel_connects_in_a_fresh_browser_without_settings(lab, daq, browser):
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    try:
        open_lab(page, lab)
        page.locator(".jp-SideBar [data-id='daqlab-panel']").click()
        panel = page.locator("#daqlab-panel")
        status = panel.locator(".daqlab-panel-status")
        try:
            panel.locator(".daqlab-panel-status[data-state='ok']").wait_for(timeout=30000)
        finally:
            panel.screenshot(path=str(ARTIFACTS / "daq-panel-discovered.png"))
        assert f"proxy/{daq.port}/ws" in status.inner_text(), status.inner_text()
        panel.locator("[data-detector='sim-eiger-500k']").wait_for(timeout=10000)
        # the narrow side bar shortens a detector's name, never clips its state (IDLE, RUNNING…)
        clipped = page.evaluate("""() => {
            const p = document.querySelector('#daqlab-panel');
            const right = p.getBoundingClientRect().left + p.clientWidth;
            return [...p.querySelectorAll('.daqlab-panel-state')]
                .filter((s) => { const r = s.getBoundingClientRect(); return r.width === 0 || r.right > right + 0.5; })
                .map((s) => s.closest('[data-detector]').dataset.detector);
        }""")
        assert clipped == [], f"state clipped in the DAQ panel for {clipped}"
        assert panel.locator(".daqlab-panel-state").count() >= 4
        panel.screenshot(path=str(ARTIFACTS / "daq-panel-discovered.png"))
    finally:
        context.close()


def test_daq_panel_warns_of_dropped_frames_and_shows_no_stale_rate(lab, daq, browser):
    """Dropped frames are lost data: the panel says so in the detector's block; once the run has stopped
    the panel shows no frame rate (the last one would read as current)."""
    import daqlab

    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    c = daqlab.connect(daq.url)
    try:
        open_lab(page, lab)
        page.locator(".jp-SideBar [data-id='daqlab-panel']").click()
        panel = page.locator("#daqlab-panel")
        panel.locator(".daqlab-panel-status[data-state='ok']").wait_for(timeout=30000)
        # one receiver that may hold one frame, fed EIGER 4M frames at 200 Hz through smx: most are dropped
        acq = c.detector("sim-eiger-4m").prepare(
            acquisition={"nb_frames": 200, "expo_time": 0.005},
            processing={"pipeline": "smx", "nb_receivers": 1, "max_pending": 1},
            scan={"name": "drops"})
        acq.start()
        block = panel.locator("[data-detector='sim-eiger-4m']")
        warn = block.locator("[data-field='dropped']")
        warn.wait_for(timeout=60000)
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # wait() warns of the drops too (tested elsewhere)
            acq.wait(timeout=120)
        dropped = acq.counters["nb_frames_dropped"]
        assert dropped > 0
        page.wait_for_function(
            "n => (document.querySelector(\"#daqlab-panel [data-detector='sim-eiger-4m'] [data-field='dropped']\")"
            "?.textContent ?? '').includes(`${n} frames dropped`)", arg=dropped, timeout=30000)
        page.wait_for_function(
            "() => document.querySelector(\"#daqlab-panel [data-detector='sim-eiger-4m'] [data-field='state']\")"
            "?.textContent !== 'RUNNING'", timeout=30000)
        assert block.locator("[data-field='fps']").inner_text() == "–"
        panel.screenshot(path=str(ARTIFACTS / "daq-panel-dropped.png"))
    finally:
        c.close()
        context.close()
