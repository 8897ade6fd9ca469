"""`daqlab-server`: run the daqlab acquisition server with the system's Node.js (>= 20).

The server is TypeScript compiled to JavaScript. A wheel carries it in ``daqlab/_server/`` (its compiled
``daq-server/dist`` and the production ``node_modules`` it needs, staged by ``hatch_build.py``); an editable
install of a source checkout runs the checkout's own build (``daq-server/dist``). Either way this command
replaces itself with ``node cli.js ARGS`` (exec), so signals from systemd or Ctrl-C reach the server itself.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

#: the oldest Node.js the server runs on (worker threads with transfer lists, fetch, `node:` imports)
NODE_MIN_MAJOR = 20
_HERE = Path(__file__).resolve().parent
_CLI = Path("daq-server", "dist", "src", "cli.js")


class LaunchError(RuntimeError):
    """Why the server cannot be started (no Node, too old a Node, no server build)."""


def server_script() -> Path:
    """The server's entry point: the copy bundled in the wheel, else a source checkout's build."""
    for root in (_HERE / "_server", _HERE.parents[1]):
        cli = root / _CLI
        if cli.is_file():
            return cli
    raise LaunchError(
        "the daqlab server is not part of this install: install the daqlab wheel, or in a source checkout "
        "build it with `npm run build -w daq-server` (scripts/setup.sh does)")


def find_node(env: dict[str, str] | None = None) -> tuple[str, str]:
    """(path, version) of the Node.js to run: $DAQLAB_NODE, else `node` on PATH; at least NODE_MIN_MAJOR."""
    env = os.environ if env is None else env
    node = env.get("DAQLAB_NODE") or shutil.which("node", path=env.get("PATH"))
    hint = (f"daqlab-server needs Node.js {NODE_MIN_MAJOR} or newer (https://nodejs.org, or your distribution's "
            f"nodejs package where it is recent enough); set DAQLAB_NODE to its path if it is not on PATH")
    if not node:
        raise LaunchError(f"Node.js was not found on PATH. {hint}")
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise LaunchError(f"{node} --version failed ({err}). {hint}") from err
    version = out.stdout.strip()
    m = re.match(r"v(\d+)\.", version)
    if out.returncode != 0 or not m:
        raise LaunchError(f"{node} --version answered {version or out.stderr.strip()!r}, not a Node.js version. {hint}")
    if int(m.group(1)) < NODE_MIN_MAJOR:
        raise LaunchError(f"{node} is Node.js {version}, too old. {hint}")
    return node, version


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    try:
        cli = server_script()
        node, _ = find_node()
    except LaunchError as err:
        sys.stderr.write(f"daqlab-server: {err}\n")
        raise SystemExit(127) from None
    # notebook jobs run with this install's Python unless told otherwise (it has the daqlab package)
    os.environ.setdefault("DAQLAB_JOBS_PYTHON", sys.executable)
    os.execv(node, [node, str(cli), *args])


if __name__ == "__main__":
    main()
