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
    finally:
        context.close()
