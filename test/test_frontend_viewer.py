"""The HDF5/NeXus viewer (h5web in our extension, fed by the server extension's h5grove API) in a
real browser (same set-up as test_frontend.py: a real daqlab server, JupyterLab with this tree's
extension and the viewer's server extension enabled by the config file the wheel ships, Chromium
driven by Playwright). A scan saved by the daqlab server (legacy pipeline with an ROI, frames in a
VDS over three data files) opens from the file browser on its default plot, the frames with
labelled pixel axes; its roi_stats is a line plot of named statistics; the DAQ panel's "view"
button opens it too. Screenshots land in test/artifacts/."""
from __future__ import annotations

import shutil

import pytest

from conftest import ROOT
from test_frontend import ARTIFACTS, Lab, browser, daq  # noqa: F401 (fixtures)

SERVER_CONFIG = ROOT / "kernel-bridge" / "jupyter-config" / "jupyter_server_config.d" / "daqlab.json"
NB_FRAMES = 6


@pytest.fixture(scope="module")
def lab(daq, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lab")
    # the server extension enabled exactly as the installed wheel enables it
    (tmp / "config" / "jupyter_server_config.d").mkdir(parents=True)
    shutil.copy(SERVER_CONFIG, tmp / "config" / "jupyter_server_config.d" / "daqlab.json")
    lab = Lab(tmp, daq.url)
    assert lab.proc.poll() is None, "jupyter lab exited:\n" + lab.log
    yield lab
    lab.stop()


@pytest.fixture(scope="module")
def saved_scan(daq, lab):
    """A scan with ROI statistics, saved: master + 3 data files in <root>/scan/."""
    import daqlab

    c = daqlab.connect(daq.url)
    try:
        acq = c.detector("sim-eiger-500k").prepare(
            acquisition={"nb_frames": NB_FRAMES, "expo_time": 0.01},
            detector={"scene": "serial_crystallography", "seed": 3, "hit_rate": 1.0},
            processing={"pipeline": "legacy", "rois": [{"name": "spot", "roi": [100, 100, 200, 200]}]},
            saving={"enabled": True, "base_path": str(lab.root / "scan"), "nb_frames_per_file": 2},
            scan={"name": "viewer"})
        acq.start()
        acq.wait(timeout=120, progress=False)
        return acq.scan.key, acq.scan.files[0]
    finally:
        c.close()


def open_in_browser(page, *names: str) -> None:
    """Double-click through the file browser, as a user would."""
    for name in names:
        item = page.locator(".jp-DirListing-item", has=page.locator(".jp-DirListing-itemText", has_text=name)).first
        item.wait_for(timeout=30000)
        item.dblclick()


def test_a_saved_master_in_h5web(lab, saved_scan, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    key, path = saved_scan
    master = path.rsplit("/", 1)[1]
    page = browser.new_page(viewport={"width": 1400, "height": 950})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{lab.url}/lab?token={lab.token}")
        open_in_browser(page, "scan", master)
        viewer = page.locator(".daqlab-h5web").last
        viewer.wait_for(timeout=30000)
        assert viewer.get_attribute("data-path") == f"scan/{master}"

        # the default plot on open: NXroot@default → entry@default → data (NXdata): the frames as a heatmap
        # on labelled pixel axes (h5web writes `name (units)`), one frame at a time (a slider for the first dim)
        viewer.get_by_text("x (pixel)").first.wait_for(timeout=60000)
        text = viewer.text_content()
        assert "y (pixel)" in text and "NX Heatmap" in text, text[:2000]
        viewer.locator("canvas").first.wait_for(timeout=20000)
        page.wait_for_timeout(1500)  # the image's texture uploaded and drawn
        viewer.screenshot(path=str(ARTIFACTS / "h5web-master.png"))

        # roi_stats: a line plot of named statistics over the frame index
        viewer.get_by_role("treeitem", name="entry").first.click()
        viewer.get_by_role("treeitem", name="roi_stats").first.click()
        viewer.get_by_text("index (frame)").first.wait_for(timeout=30000)
        text = viewer.text_content()
        assert "NX Line" in text and "spot_sum" in text, text[:2000]
        page.wait_for_timeout(1000)
        viewer.screenshot(path=str(ARTIFACTS / "h5web-roi-stats.png"))

        # the frames' VDS itself: three data files behind one dataset, a slice read through the checked sources
        viewer.get_by_role("treeitem", name="instrument").first.click()
        viewer.get_by_role("treeitem", name="detector").first.click()
        viewer.get_by_role("treeitem", name="data").last.click()
        viewer.locator("canvas").first.wait_for(timeout=20000)
        page.wait_for_timeout(1500)
        viewer.screenshot(path=str(ARTIFACTS / "h5web-vds.png"))

        # "view" in the DAQ panel's scan list opens the same master in the viewer, on its default plot
        # (the first viewer closed: JupyterLab would bring that one back)
        page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabCloseIcon").click()
        page.wait_for_function("() => document.querySelectorAll('.daqlab-h5web').length === 0", timeout=10000)
        page.locator(".jp-SideBar [data-id='daqlab-panel']").click()
        panel = page.locator("#daqlab-panel")
        panel.locator(".daqlab-panel-status[data-state='ok']").wait_for(timeout=30000)
        view = panel.locator(f"li[data-key='{key}'] button.daqlab-panel-view")
        view.wait_for(timeout=30000)
        assert view.is_enabled(), view.get_attribute("title")
        view.click()
        page.wait_for_function("() => document.querySelectorAll('.daqlab-h5web').length === 1", timeout=30000)
        second = page.locator(".daqlab-h5web").last
        assert second.get_attribute("data-path") == f"scan/{master}"
        second.get_by_text("x (pixel)").first.wait_for(timeout=60000)
        page.wait_for_timeout(1500)
        page.screenshot(path=str(ARTIFACTS / "h5web-from-daq-panel.png"))
        assert not errors, errors
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "h5web-failure.png"))
        raise
    finally:
        page.close()
