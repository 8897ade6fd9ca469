"""Batch jobs on saved scans, for the cluster.

The daqlab server runs an online pipeline on a saved scan with
``node daq-server/dist/src/batch/cli.js --template azint --source X_master.h5 ...``
(the same code as online processing, so results agree); its result is a
*derived scan*: a normal master file that records its source, plus a manifest
``<prefix>.derived.json``. ``open_derived`` reads it like any saved scan.

>>> scan = daqlab.open_derived("/data/jobs/azint_0001.derived.json")
>>> scan.streams["intensity"][:]          # same API as a live scan
>>> scan.source["master"], scan.manifest["frames"]
>>> raw = scan.open_source()               # the saved scan it was computed from

``python -m daqlab.batch.notebook`` runs a notebook with parameters (see
:mod:`daqlab.batch.notebook`).
"""
from __future__ import annotations

import json
import os

from ..errors import NotFoundError
from ..saved import SavedScan

__all__ = ["open_derived", "read_manifest"]

MANIFEST_SUFFIX = ".derived.json"


def read_manifest(path: str | os.PathLike) -> dict:
    """A derived scan's manifest: source, template, params, master, created, frames, streams."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except OSError as err:
        raise NotFoundError(f"cannot read the manifest {path}: {err.strerror}") from err
    except json.JSONDecodeError as err:
        raise NotFoundError(f"{path} is not a derived-scan manifest (invalid JSON: {err})") from err
    missing = [k for k in ("source", "template", "master", "frames") if k not in manifest]
    if missing:
        raise NotFoundError(f"{path} is not a derived-scan manifest: it lacks {', '.join(missing)}")
    return manifest


def open_derived(path: str | os.PathLike) -> SavedScan:
    """Open a batch job's result from its manifest (``*.derived.json``) or its master file.

    The scan reads like any saved scan; ``.source`` is what it was computed from
    (master, template, pipeline, frames, params), ``.manifest`` the job's manifest
    (None when opened from a master without one beside it), ``.open_source()``
    opens the source scan."""
    path = os.fspath(path)
    manifest = None
    if path.endswith(".json"):
        manifest = read_manifest(path)
        master = manifest["master"]
        if not os.path.isabs(master):
            master = os.path.join(os.path.dirname(os.path.abspath(path)), master)
    else:
        master = path
        beside = path.removesuffix(".h5").removesuffix("_master") + MANIFEST_SUFFIX
        if os.path.exists(beside):
            manifest = read_manifest(beside)
    scan = SavedScan(master)
    if scan.source is None:
        scan.close()
        raise NotFoundError(f"{master} records no source scan: it is not a derived scan (open it with daqlab.open_master)")
    scan.manifest = manifest
    return scan
