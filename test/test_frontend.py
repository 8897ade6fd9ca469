"""The front end in a real browser: a real daqlab server, a real JupyterLab with this
tree's extension (dev install), jupyter-server-proxy between them, and Debian's Chromium
driven by Playwright. Screenshots land in test/artifacts/."""
from __future__ import annotations

import io
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, ServerProcess, wait_until

CHROMIUM = Path(os.environ.get("DAQLAB_CHROMIUM", "/usr/bin/chromium"))
LABEXT = ROOT / "kernel-bridge" / "daqlab" / "labextension"
ARTIFACTS = ROOT / "test" / "artifacts"
KERNEL_BRIDGE = ROOT / "kernel-bridge"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def jupyter_env(tmp: Path) -> dict:
    """Jupyter's folders in `tmp`, and this tree's daqlab first on the kernel's path."""
    env = dict(os.environ)
    for name in ("config", "data", "runtime", "ipython"):
        (tmp / name).mkdir(parents=True, exist_ok=True)
    env.update(JUPYTER_CONFIG_DIR=str(tmp / "config"), JUPYTER_DATA_DIR=str(tmp / "data"),
               JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), IPYTHONDIR=str(tmp / "ipython"),
               JUPYTER_PLATFORM_DIRS="1", MPLBACKEND="Agg",
               # the test's data dir before the venv's: a labextension linked into the venv (another
               # checkout's dev install) must not shadow this tree's
               JUPYTER_PREFER_ENV_PATH="0",
               PYTHONPATH=os.pathsep.join([str(KERNEL_BRIDGE), env.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    return env


class Lab:
    """`jupyter lab` on a free port with a random token, our extension linked as a dev install."""

    def __init__(self, tmp: Path, daq_url: str):
        if not (LABEXT / "package.json").exists():
            raise RuntimeError(f"{LABEXT} is missing: build the front end (npm run build, or scripts/setup.sh)")
        self.env = jupyter_env(tmp)
        self.env["DAQLAB_URL"] = daq_url
        # what `jupyter labextension develop` does, into this test's data dir (never the shared venv)
        link = tmp / "data" / "labextensions" / "@daqlab" / "jupyterlab"
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(LABEXT, target_is_directory=True)
        # every cell stays rendered (no windowing: off-screen outputs would read as empty), no news pop-up
        settings = tmp / "config" / "lab" / "user-settings" / "@jupyterlab"
        for ext, plugin, value in [("notebook-extension", "tracker", {"windowingMode": "none"}),
                                   ("apputils-extension", "notification", {"fetchNews": "false"})]:
            (settings / ext).mkdir(parents=True, exist_ok=True)
            (settings / ext / f"{plugin}.jupyterlab-settings").write_text(json.dumps(value))
        self.root = tmp / "notebooks"
        self.root.mkdir()
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.log_path = tmp / "lab.log"
        args = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip", "127.0.0.1", "--port", str(self.port),
                f"--ServerApp.token={self.token}", f"--ServerApp.root_dir={self.root}",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.news_url=None"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.append("--allow-root")
        self.proc = subprocess.Popen(args, env=self.env, stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT)
        if not wait_until(self._ready, timeout=60, interval=0.2):
            self.stop()
            raise RuntimeError("jupyter lab did not start:\n" + self.log)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            return True  # reported by the caller with the log
        try:
            return self.get("/api/status").status == 200
        except OSError:
            return False

    def get(self, path: str):
        req = urllib.request.Request(self.url + path, headers={"Authorization": f"token {self.token}"})
        return urllib.request.urlopen(req, timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture(scope="module")
def daq():
    """A server of our own: the test leaves an acquisition running on its detector."""
    s = ServerProcess("--memory-budget", "2G")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def lab(daq, tmp_path_factory):
    lab = Lab(tmp_path_factory.mktemp("lab"), daq.url)
    assert lab.proc.poll() is None, "jupyter lab exited:\n" + lab.log
    yield lab
    lab.stop()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the front-end tests need Debian's Chromium "
                    "(apt-get install chromium; scripts/setup.sh installs it when run as root "
                    "with DAQLAB_SETUP_FOR=test, as npm test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield b
        b.close()


def test_extension_is_installed(lab):
    out = subprocess.run([sys.executable, "-m", "jupyter", "labextension", "list"], env=lab.env,
                         capture_output=True, text=True, timeout=60)
    listing = out.stdout + out.stderr
    assert re.search(r"@daqlab/jupyterlab v0\.1\.0 .*enabled.*OK", listing), listing
    # the page config the browser gets names it too
    page = lab.get("/lab").read().decode()
    config = json.loads(re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', page, re.S).group(1))
    assert any(e["name"] == "@daqlab/jupyterlab" for e in config["federated_extensions"])


def test_proxy_reaches_the_server_and_relays_large_binary_messages(lab, daq):
    """The browser's path: <base_url>proxy/<port>/ws. A 2167×2070 uint32 frame (17.9 MB) is
    more than jupyter-server-proxy's 10 MiB message cap: it passes because the server cuts
    payloads into ≤ 8 MiB parts, and arrives identical to a direct read."""
    import daqlab

    health = json.loads(lab.get(f"/proxy/{daq.port}/health").read())
    assert health == {"ok": True}
    direct = daqlab.connect(daq.url)
    proxied = daqlab.connect(f"ws://127.0.0.1:{lab.port}/proxy/{daq.port}/ws", token=lab.token)
    try:
        acq = direct.detector("sim-eiger-4m").prepare(acquisition={"nb_frames": 2, "expo_time": 0.01},
                                                      detector={"scene": "powder", "seed": 3})
        acq.start()
        acq.wait(progress=False)
        via_proxy = proxied.scans.get(acq.scan.key).streams["frame"][1]
        assert via_proxy.nbytes > 10 * 2**20
        np.testing.assert_array_equal(via_proxy, direct.scans.get(acq.scan.key).streams["frame"][1])
    finally:
        proxied.close()
        direct.close()


NOTEBOOK_CELLS = [
    # 0: a long acquisition, viewed live
    """import daqlab
from daqlab.widgets import LiveImage
c = daqlab.connect()
acq = c.detector("sim-eiger-500k").prepare(
    acquisition={"nb_frames": 20000, "expo_time": 0.02},
    detector={"scene": "serial_crystallography", "seed": 5, "hit_rate": 0.8},
    scan={"name": "frontend-test"})
acq.start()
print("KEY", acq.scan.key)""",
    "live = LiveImage(acq, colormap='magma', scale='log')\nlive",
    # 2: an address nothing listens on: the view must say so
    "LiveImage(acq, server_url='proxy/9/ws', height=120)",
    # 3: read back what the browser sent
    "print('STATE', {'rois': live.rois, 'fps': live.fps})",
    # 4, 5: a view of the newest scan that follows the next one
    "LiveImage(height=150)",
    """acq2 = c.detector("sim-camera").prepare(acquisition={"nb_frames": 20000, "expo_time": 0.02}, scan={"name": "next"})
acq2.start()
print("KEY2", acq2.scan.key)""",
]


def open_notebook(page, lab, name: str, reset: bool = False) -> None:
    """Open `name` in JupyterLab (`reset`: a fresh workspace, other notebooks' tabs closed) and wait for an
    idle kernel: cells run before the status bar says so are silently ignored."""
    page.goto(f"{lab.url}/lab/tree/{name}?{'reset&' if reset else ''}token={lab.token}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60000)
    page.wait_for_function("() => /Python 3 \\(ipykernel\\) \\| Idle/.test(document.querySelector('.jp-StatusBar-Widget')"
                           "?.parentElement?.innerText ?? '')", timeout=60000)


def write_notebook(path: Path, cells: list[str] = NOTEBOOK_CELLS) -> None:
    """A notebook of code cells (every browser test writes its own and runs it in JupyterLab)."""
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {}, "outputs": [],
                     "source": src} for i, src in enumerate(cells)],
          "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
          "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))


def wait_output(page, index: int, text: str, timeout=60000) -> None:
    """Wait until the output of cell `index` contains `text`."""
    page.wait_for_function(f"document.querySelectorAll('.jp-Notebook .jp-Cell')[{index}]"
                           f".querySelector('.jp-OutputArea')?.innerText.includes({json.dumps(text)})", timeout=timeout)


def run_cell(page, index: int) -> None:
    """Select cell `index` and run it (Shift+Enter), as a user would."""
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    cell.locator(".jp-InputPrompt").click()
    page.keyboard.press("Shift+Enter")


def cell_output(page, index: int) -> str:
    return page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-OutputArea").inner_text()


def pixels(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def test_liveimage_and_daq_panel_in_jupyterlab(lab, daq, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    write_notebook(lab.root / "live.ipynb")
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        open_notebook(page, lab, "live.ipynb")
        run_cell(page, 0)
        page.wait_for_function("document.querySelectorAll('.jp-Notebook .jp-Cell')[0]"
                               ".querySelector('.jp-OutputArea')?.innerText.includes('KEY')", timeout=60000)
        key = re.search(r"KEY (\S+)", cell_output(page, 0)).group(1)
        run_cell(page, 1)
        run_cell(page, 2)
        live = page.locator(".daqlab-liveimage").first
        live.locator("canvas").first.wait_for(timeout=60000)
        assert "Error displaying widget" not in page.locator(".jp-Notebook").inner_text()

        # frames arrive and are drawn: fps > 0, and the picture changes
        page.wait_for_function("() => parseFloat(document.querySelector('.daqlab-li-fps')?.textContent) > 0", timeout=30000)
        fps_text = live.locator(".daqlab-li-fps").text_content()
        assert float(fps_text.split()[0]) > 0, fps_text
        stage = live.locator(".daqlab-li-stage")
        first = stage.screenshot(path=str(ARTIFACTS / "liveimage-1.png"))
        time.sleep(1.5)
        second = stage.screenshot(path=str(ARTIFACTS / "liveimage-2.png"))
        a, b = pixels(first), pixels(second)
        assert len(np.unique(a.reshape(-1, 3), axis=0)) > 5, "the image is uniform: nothing drawn?"
        changed = np.any(a != b, axis=2).mean()
        assert changed > 0.001, f"only {changed:.4%} of the pixels changed between two screenshots 1.5 s apart"
        assert live.locator(".daqlab-li-message").is_hidden()

        # the unreachable address says so
        bad = page.locator(".daqlab-liveimage").nth(1)
        bad.locator(".daqlab-li-message").filter(has_text="unreachable").wait_for(timeout=30000)
        assert "proxy/9/ws" in bad.locator(".daqlab-li-message").inner_text()

        # shift+drag draws a ROI that reaches Python
        box = stage.bounding_box()
        x0, y0 = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3
        page.mouse.move(x0, y0)
        page.keyboard.down("Shift")
        page.mouse.down()
        for k in range(1, 6):
            page.mouse.move(x0 + 40 * k, y0 + 25 * k)
        page.mouse.up()
        page.keyboard.up("Shift")
        live.locator(".daqlab-li-roi").first.wait_for(timeout=5000)
        time.sleep(0.5)
        run_cell(page, 3)
        page.wait_for_function("document.querySelectorAll('.jp-Notebook .jp-Cell')[3]"
                               ".querySelector('.jp-OutputArea')?.innerText.includes('STATE')", timeout=30000)
        state = eval(cell_output(page, 3).split("STATE", 1)[1].strip())  # a dict literal printed by the kernel
        assert len(state["rois"]) == 1, state
        r0, c0, nr, nc = state["rois"][0]
        assert nr >= 20 and nc >= 40 and r0 + nr <= 514 and c0 + nc <= 1030, state  # detector pixels (binned 2× on screen)
        assert state["fps"] > 0, state
        page.screenshot(path=str(ARTIFACTS / "notebook.png"))

        # pause freezes the picture (and the fps), resume brings frames back
        live.locator("button.daqlab-li-pause").click()
        page.wait_for_function("() => document.querySelector('.daqlab-li-fps')?.textContent.startsWith('0.0')", timeout=10000)
        p1 = pixels(stage.screenshot())
        time.sleep(1.0)
        assert np.array_equal(p1, pixels(stage.screenshot())), "the picture changed while paused"
        assert live.locator("button.daqlab-li-pause").inner_text() == "resume"
        live.locator("button.daqlab-li-pause").click()
        page.wait_for_function("() => parseFloat(document.querySelector('.daqlab-li-fps')?.textContent) > 0", timeout=10000)

        # LiveImage() shows the newest scan, then switches to the next one
        run_cell(page, 4)
        follow = page.locator(".daqlab-liveimage").nth(2)
        follow.locator(f".daqlab-li-status[data-scan='{key}']").wait_for(timeout=30000)
        run_cell(page, 5)
        page.wait_for_function("document.querySelectorAll('.jp-Notebook .jp-Cell')[5]"
                               ".querySelector('.jp-OutputArea')?.innerText.includes('KEY2')", timeout=30000)
        key2 = re.search(r"KEY2 (\S+)", cell_output(page, 5)).group(1)
        follow.locator(f".daqlab-li-status[data-scan='{key2}']").wait_for(timeout=30000)
        assert live.locator(".daqlab-li-status").get_attribute("data-scan") == key  # the first view stays on its scan

        # the DAQ panel: connected, counters rising, the scan listed; insert its code
        page.locator(".jp-SideBar [data-id='daqlab-panel']").click()
        panel = page.locator("#daqlab-panel")
        panel.locator(".daqlab-panel-status[data-state='ok']").wait_for(timeout=30000)
        acquired = panel.locator("[data-detector='sim-eiger-500k'] [data-field='acquired']")
        page.wait_for_function("() => /^\\d+$/.test(document.querySelector(\"#daqlab-panel [data-detector='sim-eiger-500k'] [data-field='acquired']\")?.textContent)", timeout=30000)
        n1 = int(acquired.inner_text())
        time.sleep(1.5)
        n2 = int(acquired.inner_text())
        assert n2 > n1, f"counters did not rise: {n1} then {n2}"
        assert panel.locator("[data-detector='sim-eiger-500k'] [data-field='state']").inner_text() == "RUNNING"
        item = panel.locator(f"li[data-key='{key}']")
        item.wait_for(timeout=10000)
        panel.screenshot(path=str(ARTIFACTS / "daq-panel.png"))
        item.locator("button.daqlab-panel-insert").click()
        page.wait_for_function(
            f"() => document.querySelector('.jp-Notebook .jp-Cell.jp-mod-active .cm-content')?.innerText.includes({json.dumps(key)})",
            timeout=10000)
        code = page.locator(".jp-Notebook .jp-Cell.jp-mod-active .cm-content").inner_text()
        assert f'scan = daqlab.connect().scans.get("{key}")' in code, code
        page.screenshot(path=str(ARTIFACTS / "jupyterlab.png"))
        assert not [e for e in errors if "daqlab" in e.lower()], errors
    except BaseException:
        page.screenshot(path=str(ARTIFACTS / "failure.png"))
        raise
    finally:
        page.close()  # the acquisition stops with the module's server
