"""One request's reading, as run in a worker process (`pool.py`): open the file under the
root, do the endpoint's work, and return something picklable: ("json", text), ("bin", header,
array), ("raw", body, headers) (the h5grove endpoints, `grove.py`) or ("error", status, field,
message). Nothing here touches the Jupyter server."""
from __future__ import annotations

import time

import h5py

from . import grove, reader
from .confine import Files, Forbidden, ReadTimeout, SelectionError


def _meta(fs, f, path, args):
    return reader.meta(fs, f, path)


def _attrs(fs, f, path, args):
    path, obj = reader.resolve(fs, f, path)
    return {"path": path, "attrs": reader.attrs_of(obj, full=True, fs=fs)}


def _nxdefault(fs, f, path, args):
    return reader.nxdefault(fs, f, path)


def _data(fs, f, path, args):
    _, ds = reader.resolve(fs, f, path)
    if not isinstance(ds, h5py.Dataset):
        raise SelectionError("path", f"{path} is a group, not a dataset")
    fmt = args.get("format") or "bin"
    if fmt == "json":
        return reader.read_json(ds, args.get("select"), fs)
    if fmt != "bin":
        raise SelectionError("format", f"{fmt!r} is not one of bin, json")
    return reader.read_selection(ds, args.get("select"), args.get("max_pixels"), fs)


JOBS = {"meta": _meta, "attrs": _attrs, "nxdefault": _nxdefault, "data": _data, **grove.JOBS}


def run_job(kind: str, root: str, full: str, path: str, args: dict, timeout_s: float):
    """Do one request: (its outcome, every file it read: `Files.touched`)."""
    fs = Files(root, deadline=time.monotonic() + timeout_s)
    outcome = _outcome(fs, kind, full, path, args, timeout_s)
    return outcome, sorted(fs.touched)


def _outcome(fs: Files, kind: str, full: str, path: str, args: dict, timeout_s: float):
    """The request's result; every failure becomes an ("error", status, field, message)."""
    try:
        result = JOBS[kind](fs, fs.open(full, "file"), path, args)
        if isinstance(result, grove.Raw):
            return ("raw", result.content, result.headers)
        if isinstance(result, tuple):
            return ("bin", *result)
        return ("json", reader.dumps(result))
    except Forbidden as e:
        return ("error", 403, e.field, str(e))
    except SelectionError as e:
        return ("error", 400, e.field, str(e))
    except ReadTimeout:
        return ("error", 504, "path", f"path: reading {path} took longer than {timeout_s:g} s")
    except Exception as e:  # a broken file or filter: say so, keep serving
        return ("error", 500, None, f"reading {path} failed: {type(e).__name__}: {e}")
    finally:
        fs.close()


def main(conn) -> None:
    """A worker process: jobs in, results out, until the server closes the pipe."""
    conn.send("ready")
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        conn.send(run_job(*job))
