"""The `daqlab` wheel carries the prebuilt JupyterLab extension: installed into a clean venv
(no Node, no source tree), JupyterLab lists it enabled (and the HDF5 viewer's server extension), next to the widget manager and
jupyter-server-proxy it depends on. Versions of the Python and JS halves are in step.

It also carries the server (daqlab/_server, bundled by kernel-bridge/hatch_build.py): the `daqlab-server`
command it installs runs it with the system's Node.js >= 20, from any folder, and the wheel's own client
acquires from it. The wheel is built and installed once for the module."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest

import simref
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


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    for tool in ("hatchling", "hatch_jupyter_builder"):
        assert subprocess.run([sys.executable, "-c", f"import {tool}"]).returncode == 0, (
            f"{tool} is missing from the venv: pip install -r scripts/requirements-dev.txt")
    out = tmp_path_factory.mktemp("dist")
    # the jupyter-builder hook runs the npm build first unless the extension is already built;
    # the custom hook (hatch_build.py) stages the server and its run-time npm packages
    t0 = time.monotonic()
    run([sys.executable, "-m", "pip", "wheel", *PIP_FLAGS, "--no-deps", "--no-build-isolation",
         "-w", str(out), str(KERNEL_BRIDGE)])
    (built,) = out.glob("daqlab-*.whl")
    print(f"wheel built in {time.monotonic() - t0:.1f} s: {built.stat().st_size / 1e6:.1f} MB")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A clean venv with the wheel (and JupyterLab) installed."""
    where = tmp_path_factory.mktemp("wheel-venv") / "venv"
    run([sys.executable, "-m", "venv", str(where)])
    run([str(where / "bin" / "python"), "-m", "pip", "install", *PIP_FLAGS, str(wheel), "jupyterlab>=4.2,<5"])
    return where


def clean_env(venv: Path, path: str | None = None) -> dict[str, str]:
    """The environment of a user of the installed wheel: no source tree on PYTHONPATH, the venv first."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "JUPYTER_PATH", "VIRTUAL_ENV", "DAQLAB_NODE")}
    env["PATH"] = path if path is not None else f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    return env


def test_wheel_installs_the_labextension(wheel, venv, tmp_path):
    names = zipfile.ZipFile(wheel).namelist()
    share = "daqlab-0.1.0.data/data/share/jupyter/labextensions/@daqlab/jupyterlab/"
    assert share + "package.json" in names and share + "install.json" in names, names
    assert any(re.match(re.escape(share) + r"static/remoteEntry\.[0-9a-f]+\.js$", n) for n in names), names

    py = venv / "bin" / "python"
    env = clean_env(venv)
    for d in ("config", "data", "runtime"):
        (tmp_path / d).mkdir()
    env.update(JUPYTER_CONFIG_DIR=str(tmp_path / "config"), JUPYTER_DATA_DIR=str(tmp_path / "data"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
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


# ---- the server in the wheel: `daqlab-server` ---------------------------------------------------------

VERSION_LINE = re.compile(r"^daqlab-server 0\.1\.0 \(protocol 1, node \d+\.\d+\.\d+\)$")

#: the wheel's own client, in the wheel's venv: a short acquisition, the last frame's statistics back as JSON
ACQUIRE = """
import json, sys, daqlab
c = daqlab.connect(sys.argv[1])
acq = c.detector("sim-eiger-500k").prepare(acquisition={"nb_frames": 5, "expo_time": 0.001},
                                           detector={"scene": "flat", "seed": 7})
acq.start()
acq.wait(timeout=60, progress=False)
frame = acq.scan.streams["frame"][4]
print(json.dumps({"state": acq.state, "acquired": acq.counters["nb_frames_acquired"], "client": daqlab.__file__,
                  "shape": list(frame.shape), "sum": int(frame.astype("uint64").sum())}))
c.close()
"""


def test_the_wheel_bundles_the_server_and_a_console_script(wheel):
    z = zipfile.ZipFile(wheel)
    names = set(z.namelist())
    server = "daqlab/_server/"
    for needed in ("daq-server/dist/src/cli.js", "daq-server/dist/src/processing/receivers/worker.js",
                   "daq-server/dist/src/saving/writer-worker.js", "daq-server/package.json",
                   "node_modules/h5wasm/dist/node/hdf5_util.js", "node_modules/ws/package.json",
                   "node_modules/zeromq/build/manifest.json", "node_modules/apache-arrow/package.json"):
        assert server + needed in names, needed
    assert any(re.match(r"daqlab/_server/node_modules/zeromq/build/linux/x64/.*\.node$", n) for n in names)
    assert not any(n.startswith(server) and n.endswith((".d.ts", ".map")) for n in names)
    assert not any("/test/" in n or "/dist/test/" in n for n in names if n.startswith(server))  # no tests shipped
    entry_points = z.read("daqlab-0.1.0.dist-info/entry_points.txt").decode()
    assert re.search(r"^daqlab-server = daqlab\.server_cli:main$", entry_points, re.M), entry_points


def test_daqlab_server_from_the_wheel_runs_and_serves_an_acquisition(venv, tmp_path):
    env = clean_env(venv)
    version = run([str(venv / "bin" / "daqlab-server"), "--version"], env=env, cwd=tmp_path).strip()
    assert VERSION_LINE.match(version), version
    env.update(DAQLAB_DATA_ROOTS=str(tmp_path), DAQLAB_STATE_DIR=str(tmp_path / "state"))
    # by name, from PATH, in a folder far from any source tree
    proc = subprocess.Popen(["daqlab-server", "--port", "0"], cwd=tmp_path, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines: list[str] = []
    found = threading.Event()

    def pump():
        for line in proc.stdout:
            lines.append(line)
            if "listening on" in line:
                found.set()
        found.set()

    threading.Thread(target=pump, daemon=True).start()
    try:
        assert found.wait(60) and proc.poll() is None, "".join(lines)
        url = re.search(r"listening on (ws://\S+)", "".join(lines)).group(1)
        # the launcher replaced itself with node running the bundled copy (signals reach the server)
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
        assert Path(cmdline[0].decode()).name.startswith("node"), cmdline
        assert cmdline[1].decode().startswith(str(venv)) and cmdline[1].endswith(b"daqlab/_server/daq-server/dist/src/cli.js"), cmdline
        http = url.replace("ws://", "http://").removesuffix("/ws")
        with urllib.request.urlopen(http + "/health", timeout=10) as r:
            assert json.load(r) == {"ok": True}
        out = run([str(venv / "bin" / "python"), "-c", ACQUIRE, url], env=env, cwd=tmp_path)
        result = json.loads(out.strip().splitlines()[-1])
        expected = simref.frame("sim-eiger-500k", {"scene": "flat", "seed": 7}, 4)
        assert result["state"] == "STOPPED" and result["acquired"] == 5, result
        assert result["client"].startswith(str(venv)), result  # the wheel's client, not the source tree's
        assert result["shape"] == list(expected.shape) and result["sum"] == int(expected.astype(np.uint64).sum()), result
    finally:
        proc.terminate()
        assert proc.wait(15) == 0, "".join(lines)  # SIGTERM: a clean shutdown


def fake_node(folder: Path, version: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    node = folder / "node"
    node.write_text(f"#!/bin/sh\necho {version}\n")
    node.chmod(0o755)
    return folder


def test_daqlab_server_says_what_is_wrong_with_node(venv, tmp_path):
    launcher = str(venv / "bin" / "daqlab-server")
    # no node on PATH at all
    out = subprocess.run([launcher, "--version"], capture_output=True, text=True, timeout=60,
                         env=clean_env(venv, path=str(tmp_path / "empty")))
    assert out.returncode == 127 and "Node.js was not found on PATH" in out.stderr, out
    assert "DAQLAB_NODE" in out.stderr and "Traceback" not in out.stderr, out.stderr
    # a Node older than 20 (Debian 12's nodejs is 18)
    old = fake_node(tmp_path / "old", "v18.19.0")
    out = subprocess.run([launcher, "--version"], capture_output=True, text=True, timeout=60, env=clean_env(venv, path=str(old)))
    assert out.returncode == 127 and "Node.js v18.19.0, too old" in out.stderr and "20 or newer" in out.stderr, out
    # DAQLAB_NODE names the one to use: the real one, outside PATH
    real = subprocess.run(["sh", "-c", "command -v node"], capture_output=True, text=True).stdout.strip()
    out = subprocess.run([launcher, "--version"], capture_output=True, text=True, timeout=60,
                         env={**clean_env(venv, path=str(old)), "DAQLAB_NODE": real})
    assert out.returncode == 0 and VERSION_LINE.match(out.stdout.strip()), out


def test_daqlab_server_runs_the_source_checkout_build_in_an_editable_install():
    """`scripts/setup.sh` installs daqlab editable into .venv: its `daqlab-server` runs daq-server/dist."""
    out = run([sys.executable, "-c", "import sys; from daqlab.server_cli import server_script; print(server_script())"],
              env={**os.environ, "PYTHONPATH": str(KERNEL_BRIDGE)})
    assert Path(out.strip()) == ROOT / "daq-server" / "dist" / "src" / "cli.js", out
    version = run([sys.executable, "-m", "daqlab.server_cli", "--version"], env={**os.environ, "PYTHONPATH": str(KERNEL_BRIDGE)})
    assert VERSION_LINE.match(version.strip()), version


def test_setup_puts_daqlab_server_on_the_venv_path():
    """After scripts/setup.sh, the README's `daqlab-server ...` commands work in the activated .venv
    (and `npx daqlab-server` at the repository root)."""
    launcher = ROOT / ".venv" / "bin" / "daqlab-server"
    assert launcher.exists(), f"{launcher} is missing: run scripts/setup.sh (it reinstalls daqlab when pyproject.toml changes)"
    assert VERSION_LINE.match(run([str(launcher), "--version"]).strip())
    assert VERSION_LINE.match(run([str(ROOT / "node_modules" / ".bin" / "daqlab-server"), "--version"]).strip())


def test_the_bundled_native_and_wasm_packages_load(venv, tmp_path):
    """zeromq's native addon (the DECTRIS receivers), h5wasm with its filter plugins (replays) and
    apache-arrow load from the installed copy with the system's Node."""
    (server,) = venv.glob("lib/python*/site-packages/daqlab/_server/daq-server")
    script = ("const zmq = await import('zeromq'); const s = new zmq.Pull(); s.close(); "
              "const h5 = await import('h5wasm/node'); await h5.ready; "
              "const arrow = await import('apache-arrow'); "
              "console.log(JSON.stringify({zmq: typeof zmq.Push, h5: typeof h5.File, arrow: typeof arrow.tableFromArrays}));")
    out = run(["node", "--input-type=module", "-e", script], cwd=server, env=clean_env(venv))
    assert json.loads(out.strip().splitlines()[-1]) == {"zmq": "function", "h5": "function", "arrow": "function"}, out


def test_the_example_systemd_unit_verifies(venv, tmp_path):
    """docs/deploy/daqlab-server.service, pointed at the installed command, passes `systemd-analyze verify`."""
    unit = (ROOT / "docs" / "deploy" / "daqlab-server.service").read_text()
    assert "ExecStart=/opt/daqlab/venv/bin/daqlab-server --config /etc/daqlab/topology.json" in unit
    here = tmp_path / "daqlab-server.service"
    here.write_text(unit.replace("/opt/daqlab/venv/bin/daqlab-server", str(venv / "bin" / "daqlab-server")))
    out = subprocess.run(["systemd-analyze", "verify", str(here)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and not out.stderr.strip(), out
