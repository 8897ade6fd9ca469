"""The `daqlab` wheel carries the prebuilt JupyterLab extension: installed into a clean venv
(no Node, no source tree), JupyterLab lists it enabled (and the HDF5 viewer's server extension), next to the widget manager and
jupyter-server-proxy it depends on. Versions of the Python and JS halves are in step."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import ROOT

KERNEL_BRIDGE = ROOT / "kernel-bridge"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
PIP_FLAGS = ["--disable-pip-version-check", "-q", "--retries", "0", "--timeout", "15"]


def run(args, **kw) -> str:
    out = subprocess.run(args, capture_output=True, text=True, timeout=240, **kw)
    text = ANSI.sub("", out.stdout + out.stderr)
    assert out.returncode == 0, f"{' '.join(map(str, args))} failed ({out.returncode}):\n{text}"
    return text


def test_python_and_js_versions_in_step():
    widgets_pkg = json.loads((ROOT / "widgets" / "package.json").read_text())
    version_ts = (ROOT / "widgets" / "src" / "version.ts").read_text()
    registered = re.search(r"MODULE_VERSION = '([^']+)'", version_ts).group(1)
    assert registered == widgets_pkg["version"]
    py = (KERNEL_BRIDGE / "daqlab" / "widgets.py").read_text()
    asked = re.search(r'MODULE_VERSION = "\^([^"]+)"', py).group(1)
    assert asked.split(".")[:2] == registered.split(".")[:2], (asked, registered)
    assert re.search(r'MODULE_NAME = "([^"]+)"', py).group(1) == widgets_pkg["name"]


def test_wheel_installs_the_labextension(tmp_path):
    for tool in ("hatchling", "hatch_jupyter_builder"):
        assert subprocess.run([sys.executable, "-c", f"import {tool}"]).returncode == 0, (
            f"{tool} is missing from the venv: pip install -r scripts/requirements-dev.txt")
    # the jupyter-builder hook runs the npm build first unless the extension is already built
    run([sys.executable, "-m", "pip", "wheel", *PIP_FLAGS, "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path / "dist"), str(KERNEL_BRIDGE)])
    (wheel,) = (tmp_path / "dist").glob("daqlab-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    share = "daqlab-0.1.0.data/data/share/jupyter/labextensions/@daqlab/jupyterlab/"
    assert share + "package.json" in names and share + "install.json" in names, names
    assert any(re.match(re.escape(share) + r"static/remoteEntry\.[0-9a-f]+\.js$", n) for n in names), names

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    py = venv / "bin" / "python"
    run([str(py), "-m", "pip", "install", *PIP_FLAGS, str(wheel), "jupyterlab>=4.2,<5"])
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "JUPYTER_PATH", "VIRTUAL_ENV")}
    for d in ("config", "data", "runtime"):
        (tmp_path / d).mkdir()
    env.update(JUPYTER_CONFIG_DIR=str(tmp_path / "config"), JUPYTER_DATA_DIR=str(tmp_path / "data"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}")
    listing = run([str(venv / "bin" / "jupyter"), "labextension", "list"], env=env, cwd=tmp_path)
    assert re.search(r"@daqlab/jupyterlab v0\.1\.0 enabled\s+OK \(python, daqlab\)", listing), listing
    assert re.search(r"@jupyter-widgets/jupyterlab-manager v\S+ enabled\s+OK", listing), listing
    assert str(venv) in listing  # installed into the clean venv, not found elsewhere
    servers = run([str(venv / "bin" / "jupyter"), "server", "extension", "list"], env=env, cwd=tmp_path)
    assert re.search(r"jupyter_server_proxy\s+enabled", servers), servers
    # the HDF5 viewer's server extension: enabled by the config file the wheel installs, and importable
    assert re.search(r"daqlab\.h5server\s+enabled", servers), servers
    assert re.search(r"daqlab\.h5server\s+\S*\s*OK", servers), servers
    assert "daqlab-0.1.0.data/data/etc/jupyter/jupyter_server_config.d/daqlab.json" in names, names
    # the Python half imports from the wheel, not from the source tree
    where = run([str(py), "-c", "import daqlab.widgets as w; print(w.__file__, w.LiveImage._model_module_version.default_value)"],
                env=env, cwd=tmp_path)
    assert str(venv) in where and "^0.1.0" in where, where
