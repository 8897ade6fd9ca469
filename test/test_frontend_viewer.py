"""The HDF5/NeXus viewer in a real browser (same set-up as test_frontend.py: a real daqlab server,
JupyterLab with this tree's extension and the viewer's server extension enabled by the config file
the wheel ships, Chromium driven by Playwright). A scan saved by the daqlab server (azint, frames in
a VDS over three data files) opens from the file browser with its default plot; the slider moves
through the VDS; integrate1d is a line on its q axis; a plain h5py file's 3D stack, external link
and a 64 GB (logical) dataset, of which the browser receives only the binned slice it shows.
Screenshots land in test/artifacts/."""
from __future__ import annotations

import hashlib
import shutil

import pytest

from conftest import ROOT
from h5files import HUGE_SHAPE, write_plain
from test_frontend import ARTIFACTS, Lab, browser, daq  # noqa: F401 (fixtures)

SERVER_CONFIG = ROOT / "kernel-bridge" / "jupyter-config" / "jupyter_server_config.d" / "daqlab.json"
PONI = {"dist": 0.1, "poni1": 0.0193, "poni2": 0.0386, "rot1": 0.01, "rot2": -0.005, "rot3": 0.0, "wavelength": 1e-10}
NB_FRAMES = 6

CANVAS_HASH_JS = """(c) => {
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let h = 0, colours = new Set();
  for (let i = 0; i < d.length; i += 4) {
    h = (h * 31 + d[i] * 7 + d[i + 1] * 3 + d[i + 2]) >>> 0;
    if (colours.size < 64) colours.add(d[i] << 16 | d[i + 1] << 8 | d[i + 2]);
  }
  return {hash: h, colours: colours.size, width: c.width, height: c.height};
}"""


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
    """A powder scan integrated online and saved: master + 3 data files in <root>/scan/."""
    import daqlab

    c = daqlab.connect(daq.url)
    try:
        acq = c.detector("sim-eiger-500k").prepare(
            acquisition={"nb_frames": NB_FRAMES, "expo_time": 0.01},
            detector={"scene": "serial_crystallography", "seed": 3, "hit_rate": 1.0},
            processing={"pipeline": "azint", "poni": PONI, "npt": 300, "unit": "q_nm^-1"},
            saving={"enabled": True, "base_path": str(lab.root / "scan"), "nb_frames_per_file": 2},
            scan={"name": "viewer"})
        acq.start()
        acq.wait(timeout=120, progress=False)
        return acq.scan.files[0]
    finally:
        c.close()


def open_in_browser(page, *names: str) -> None:
    """Double-click through the file browser, as a user would."""
    for name in names:
        item = page.locator(".jp-DirListing-item", has=page.locator(".jp-DirListing-itemText", has_text=name)).first
        item.wait_for(timeout=30000)
        item.dblclick()


def wait_ready(page, path: str, timeout=30000) -> None:
    page.locator(f".daqlab-h5-display[data-state='ready'][data-path='{path}']").last.wait_for(timeout=timeout)


def canvas(viewer) -> dict:
    """A hash and the number of distinct colours (up to 64) of the viewer's image."""
    return viewer.locator("canvas.daqlab-h5-image").evaluate(CANVAS_HASH_JS)


def test_saved_scan_and_plain_file_in_the_viewer(lab, saved_scan, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    write_plain(lab.root / "plain.h5")
    master = saved_scan.rsplit("/", 1)[1]
    page = browser.new_page(viewport={"width": 1400, "height": 950})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{lab.url}/lab?token={lab.token}")
        open_in_browser(page, "scan", master)
        viewer = page.locator(".daqlab-h5").last

        # the default plot on open: NXroot@default → entry@default → data (NXdata) → the frames VDS
        wait_ready(page, "/entry/data/data", timeout=60000)
        assert viewer.locator(".daqlab-h5-display").get_attribute("data-mode") == "image"
        assert viewer.locator(".daqlab-h5-display").get_attribute("data-select") == "0,0:514,0:1030"
        first = canvas(viewer)
        assert first["width"] == 1030 and first["height"] == 514 and first["colours"] >= 3, first  # counts 0…3+
        assert viewer.locator(".daqlab-h5-path").inner_text() == "/entry/data"  # the NXdata is selected
        assert "NXdata" in viewer.locator(".daqlab-h5-attrs").inner_text()
        tree = viewer.locator(".daqlab-h5-tree").inner_text()
        assert "entry" in tree and "NXentry" in tree and "integrate1d" in tree and "NXdata" in tree
        viewer.screenshot(path=str(ARTIFACTS / "h5viewer-master.png"))

        # the slider walks through the VDS: frame 3 lives in the second data file
        slider = viewer.locator(".daqlab-h5-controls input[type='range'][data-dim='0']")
        assert slider.get_attribute("max") == str(NB_FRAMES - 1)
        slider.fill("3")
        page.wait_for_function("() => document.querySelector('.daqlab-h5-display')?.dataset.select?.startsWith('3,') "
                               "&& document.querySelector('.daqlab-h5-display').dataset.state === 'ready'", timeout=20000)
        assert canvas(viewer)["hash"] != first["hash"], "the image did not change with the slider"
        viewer.screenshot(path=str(ARTIFACTS / "h5viewer-frame3.png"))

        # the VDS itself: the tree row says so, the header names its source files
        viewer.locator(".daqlab-h5-node[data-path='/entry/instrument']").click()
        viewer.locator(".daqlab-h5-node[data-path='/entry/instrument/detector']").click()
        viewer.locator(".daqlab-h5-node[data-path='/entry/instrument/detector/data']").click()
        wait_ready(page, "/entry/instrument/detector/data")
        assert "VDS" in viewer.locator(".daqlab-h5-node[data-path='/entry/instrument/detector/data']").inner_text()
        facts = viewer.locator(".daqlab-h5-facts").inner_text()
        assert "virtual dataset over" in facts and "_00000.h5" in facts, facts

        # integrate1d: a plotly line on the q axis with its units
        viewer.locator(".daqlab-h5-node[data-path='/entry/integrate1d']").click()
        wait_ready(page, "/entry/integrate1d/intensity")
        viewer.locator(".daqlab-h5-display .js-plotly-plot .scatterlayer path.js-line").first.wait_for(timeout=20000)
        npoints = page.evaluate("() => document.querySelector('.daqlab-h5-display .js-plotly-plot').data[0].x.length")
        assert npoints == 300
        nerr = page.evaluate("() => document.querySelector('.daqlab-h5-display .js-plotly-plot').data[0].error_y?.array?.length")
        assert nerr == 300  # intensity_errors (sigma) as error bars
        assert "(1/nm)" in viewer.locator(".daqlab-h5-display .xtitle").text_content()
        attrs = viewer.locator(".daqlab-h5-attrs").inner_text()
        assert "NXdata" in attrs and "intensity" in attrs  # the NXdata group's attributes
        viewer.screenshot(path=str(ARTIFACTS / "h5viewer-integrate1d.png"))

        # a plain h5py file: a 3D stack with a slider, an external link, a huge dataset
        # opened this time through the context menu: Open With → daqlab HDF5 viewer
        page.locator(".jp-BreadCrumbs-home").click()
        item = page.locator(".jp-DirListing-item", has=page.locator(".jp-DirListing-itemText", has_text="plain.h5")).first
        item.click(button="right")
        page.locator(".lm-Menu-item", has_text="Open With").hover()
        page.locator(".lm-Menu-item", has_text="daqlab HDF5 viewer").click()
        plain = page.locator(".daqlab-h5").last
        plain.locator(".daqlab-h5-node[data-path='/stack']").wait_for(timeout=30000)
        plain.locator(".daqlab-h5-node[data-path='/stack']").click()
        wait_ready(page, "/stack")
        before = canvas(plain)
        plain.locator(".daqlab-h5-controls input[type='number'][data-dim='0']").fill("4")
        page.wait_for_function("() => [...document.querySelectorAll('.daqlab-h5-display')].pop()?.dataset.select?.startsWith('4,')",
                               timeout=20000)
        wait_ready(page, "/stack")
        assert canvas(plain)["hash"] != before["hash"]

        # a long attribute is summarised until asked for
        plain.locator(".daqlab-h5-node[data-path='/group']").click()
        plain.locator(".daqlab-h5-attrs").filter(has_text="[1000 int64 values]").wait_for(timeout=10000)
        plain.locator("button.daqlab-h5-allattrs").click()
        plain.locator(".daqlab-h5-attrs").filter(has_text="997,998,999]").wait_for(timeout=10000)

        ext = plain.locator(".daqlab-h5-node[data-path='/ext']")
        assert "external.h5:/target" in ext.inner_text()
        ext.click()
        wait_ready(page, "/ext")
        assert "external link → external.h5:/target" in plain.locator(".daqlab-h5-facts").inner_text()
        plain.locator(".daqlab-h5-mode[data-mode='table']").click()
        page.wait_for_function("() => [...document.querySelectorAll('.daqlab-h5-display')].pop()?.dataset.mode === 'table'")
        wait_ready(page, "/ext")
        assert "16.5" in plain.locator(".daqlab-h5-valuetable").inner_text()  # 11 × 1.5, read through the link

        # 64 GB logical, one 4096×4096 frame shown: the browser receives it binned to 1024², ≤ 4 MiB
        received = int(plain.get_attribute("data-bytes-received"))
        plain.locator(".daqlab-h5-node[data-path='/huge']").click()
        wait_ready(page, "/huge", timeout=60000)
        plain.locator(".daqlab-h5-controls input[type='number'][data-dim='0']").fill("5")
        page.wait_for_function("() => [...document.querySelectorAll('.daqlab-h5-display')].pop()?.dataset.select?.startsWith('5,')",
                               timeout=30000)
        wait_ready(page, "/huge", timeout=60000)
        got = canvas(plain)
        assert got["width"] == 1024 and got["colours"] >= 2, got
        fetched = int(plain.get_attribute("data-bytes-received")) - received
        dataset_bytes = 4 * HUGE_SHAPE[0] * HUGE_SHAPE[1] * HUGE_SHAPE[2]
        assert fetched < 2 * (4 * 1024 * 1024 + 4096), fetched  # two binned frames (0 and 5) and metadata
        assert fetched < dataset_bytes / 5000, (fetched, dataset_bytes)
        assert "binned 4× (mean)" in plain.locator(".daqlab-h5-footer").inner_text()
        plain.screenshot(path=str(ARTIFACTS / "h5viewer-plain.png"))
        assert not errors, errors
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "h5viewer-failure.png"))
        raise
    finally:
        page.close()
