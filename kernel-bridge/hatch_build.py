"""Wheel build hook: bundle the daqlab server into the wheel as ``daqlab/_server/`` (run by `daqlab-server`).

What goes in: daq-server's compiled JavaScript (``daq-server/dist/src``, no tests) and the production
npm packages it imports, copied from the repository's ``node_modules`` (the dependency closure of
daq-server's ``dependencies``), minus what Node never loads at run time (type declarations, source maps,
sources, docs, other builds of h5wasm, zeromq's prebuilt addons for other operating systems).

Why a copy rather than a single-file bundle (esbuild): the server starts seven kinds of worker threads
by file (``new Worker(new URL('./x.js', import.meta.url))``), h5wasm loads its WebAssembly and
h5wasm-plugins its HDF5 filter plugins from their folders, and zeromq picks its native addon per platform
from its ``build/`` tree. A copy keeps the layout the tests run, so the wheel runs the code that was tested.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
STAGE = HERE / "build" / "server-bundle"

#: files Node never loads at run time
DROP_SUFFIXES = (".d.ts", ".d.mts", ".d.cts", ".map", ".ts", ".mts", ".cts", ".md", ".markdown", ".tsbuildinfo")
DROP_DIRS = {"test", "tests", "__tests__", "example", "examples", "docs", ".github"}
#: per package, folders not needed by `import`/`require` at run time
DROP_IN_PACKAGE = {
    "h5wasm": ["dist/esm", "dist/iife", "src"],  # the server imports h5wasm/node only
    "zeromq": ["src", "script", "CMakeLists.txt", "vcpkg.json"],  # the C++ sources and build scripts
    "apache-arrow": ["src"],
}
#: zeromq's prebuilt native addons kept: the operating systems daqlab runs on
ZEROMQ_PLATFORMS = {"linux"}


def _resolve(node_modules: Path, requirer: Path, name: str) -> Path:
    """Where Node finds package `name` required from the package folder `requirer` (or the root):
    the requirer's own node_modules, then every node_modules folder above it."""
    folders = [requirer / "node_modules"] + [d for d in requirer.parents if d.name == "node_modules"]
    for folder in [node_modules] if requirer == node_modules else folders:
        if (folder / name / "package.json").is_file() and folder.is_relative_to(node_modules):
            return folder / name
    raise RuntimeError(f"{name} is missing from {node_modules}: run `npm ci` (scripts/setup.sh) first")


def dependency_closure(node_modules: Path, roots: list[str]) -> list[str]:
    """Folders (relative to `node_modules`) of the packages `roots` need at run time, transitively."""
    seen: set[str] = set()
    todo = [(node_modules, name) for name in roots]
    while todo:
        requirer, name = todo.pop()
        if name.startswith("@types/"):
            continue  # type declarations only
        found = _resolve(node_modules, requirer, name)
        rel = found.relative_to(node_modules).as_posix()
        if rel not in seen:
            seen.add(rel)
            pkg = json.loads((found / "package.json").read_text())
            todo += [(found, dep) for dep in [*pkg.get("dependencies", {}), *pkg.get("optionalDependencies", {})]]
    return sorted(seen)


def _prune(pkg_dir: Path, name: str) -> None:
    for rel in DROP_IN_PACKAGE.get(name, []):
        p = pkg_dir / rel
        shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
    if name == "zeromq":
        build = pkg_dir / "build"
        for platform_dir in build.iterdir():
            if platform_dir.is_dir() and platform_dir.name not in ZEROMQ_PLATFORMS:
                shutil.rmtree(platform_dir)
        # its loader picks an addon from build/manifest.json: the others are leftovers no Node loads
        listed = {v.replace("\\", "/") for v in json.loads((build / "manifest.json").read_text()).values()}
        for addon in list(build.rglob("*.node")):
            if addon.relative_to(build).as_posix() not in listed:
                shutil.rmtree(addon.parent)
    for path in sorted(pkg_dir.rglob("*"), reverse=True):
        if path.is_dir() and path.name in DROP_DIRS:
            shutil.rmtree(path)
        elif path.is_file() and path.name.endswith(DROP_SUFFIXES) and path.name != "package.json":
            path.unlink()


def stage_server(stage: Path = STAGE) -> Path:
    """Copy the built server and its run-time packages into `stage` (replaced); return it."""
    server = REPO / "daq-server"
    if not (server / "package.json").is_file():
        raise RuntimeError(f"the wheel bundles the server from {server}, which is missing: build the wheel from a source checkout")
    if not (server / "dist" / "src" / "cli.js").is_file():
        subprocess.run(["npm", "run", "--silent", "build", "-w", "daq-server"], cwd=REPO, check=True)
    if stage.exists():
        shutil.rmtree(stage)
    (stage / "daq-server").mkdir(parents=True)
    manifest = json.loads((server / "package.json").read_text())
    (stage / "daq-server" / "package.json").write_text(json.dumps(
        {k: manifest[k] for k in ("name", "version", "type", "main", "bin", "dependencies")}, indent=2))
    shutil.copytree(server / "dist" / "src", stage / "daq-server" / "dist" / "src",
                    ignore=shutil.ignore_patterns("*.d.ts", "*.map", "*.tsbuildinfo"))
    node_modules = REPO / "node_modules"
    # parents before the packages nested in them (a sorted list puts "a" before "a/node_modules/b")
    for rel in dependency_closure(node_modules, list(manifest["dependencies"])):
        dest = stage / "node_modules" / rel
        shutil.copytree(node_modules / rel, dest, symlinks=False, ignore=shutil.ignore_patterns("node_modules"))
        _prune(dest, rel.rsplit("node_modules/", 1)[-1])
    return stage


class ServerBundleHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        # an editable install runs the checkout's own build (daqlab.server_cli finds it)
        if self.target_name != "wheel" or version == "editable":
            return
        build_data["force_include"][str(stage_server())] = "daqlab/_server"
