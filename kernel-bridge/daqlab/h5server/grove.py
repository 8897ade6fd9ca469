"""The h5grove API (https://silx-kit.github.io/h5grove/) that h5web's H5GroveProvider reads,
answered from daqlab's confined reading: `meta`, `attr`, `data`, `paths`.

h5grove's own handlers open the file a request names and let HDF5 follow external links and
VDS sources wherever they point, read whatever selection is asked on the server's loop, with
no bound. Here every function runs in a worker process (`worker.py`, deadline and kill as for
the other endpoints), every path is walked by `confine.Files` (links checked hop by hop, never
out of the Jupyter root), a VDS is read only after its sources were checked, and what a
response may hold is bounded (`limits.py`). h5grove itself supplies the wire format: its
metadata helpers (types, attributes, filters), selection parser, dtype conversion and encoders.
"""
from __future__ import annotations

import posixpath
from dataclasses import dataclass

import h5py
import numpy as np
from h5grove.encoders import encode
from h5grove.utils import (
    QueryArgumentError,
    attr_metadata,
    convert,
    get_filters,
    get_type_metadata,
    parse_slice,
    sorted_dict,
)

from . import limits, reader
from .confine import Files, Forbidden, SelectionError

#: `paths`: the most paths listed (h5web's search); a file with more lists the first ones
MAX_PATHS = 100_000
#: `data` as text (json, csv: what h5web asks for strings, compounds, scalars): the most values in one response
MAX_JSON_VALUES = 2**20
#: `data` of variable-length values (strings: each cut at MAX_STRING_CHARS): the most in one response
MAX_VLEN_VALUES = limits.MAX_JSON_ELEMENTS
#: `data` formats: text ones bounded by MAX_JSON_VALUES, binary ones by MAX_RESPONSE_BYTES
TEXT_FORMATS = (None, "json", "csv")
BINARY_FORMATS = ("bin", "npy", "tiff")


@dataclass
class Raw:
    """An encoded response: body and headers (picklable, sent back from the worker as is)."""

    content: bytes
    headers: dict


def _raw(content, fmt: str | None = "json") -> Raw:
    try:
        r = encode(content, fmt)
    except QueryArgumentError as e:
        raise SelectionError("format", str(e)) from None
    return Raw(r.content, dict(r.headers))


# ---- meta ------------------------------------------------------------------------------


def _attributes(obj) -> list[dict]:
    out = []
    for i, name in enumerate(obj.attrs):
        if i >= limits.MAX_ATTRS:
            break
        try:
            out.append(attr_metadata(obj.attrs, name))
        except Exception:  # an attribute h5py cannot describe must not hide the entity
            continue
    return sorted(out, key=lambda a: a["name"])


def _entity(path: str, obj) -> dict:
    """h5grove's metadata of a resolved object, without children."""
    name = path.rsplit("/", 1)[-1]
    if isinstance(obj, h5py.Dataset):
        shape = obj.shape
        return sorted_dict(("attributes", _attributes(obj)), ("chunks", obj.chunks), ("filters", get_filters(obj)),
                           ("kind", "dataset"), ("name", name), ("shape", shape),
                           ("type", get_type_metadata(obj.id.get_type())))
    if isinstance(obj, h5py.Datatype):
        return sorted_dict(("attributes", _attributes(obj)), ("kind", "datatype"), ("name", name),
                           ("type", get_type_metadata(obj.id)))
    if isinstance(obj, h5py.Group):
        return sorted_dict(("attributes", _attributes(obj)), ("kind", "group"), ("name", name))
    return {"kind": "other", "name": name}


def _child(fs: Files, group: h5py.Group, path: str, name: str) -> dict:
    """A member of a group: the object its link leads to when that is inside the root and
    exists, else the link itself (h5grove's `resolve_links=only_valid`)."""
    link = fs.link(group, name)
    child_path = posixpath.join(path, name)
    if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)):
        try:
            obj = fs.resolve(group.file, posixpath.join(group.name or "/", name))
        except (SelectionError, OSError, KeyError, ValueError):  # Forbidden included: shown as a link
            obj = None
        if obj is not None:
            return _entity(child_path, obj)
        if isinstance(link, h5py.SoftLink):
            return {"kind": "soft_link", "name": name, "target_path": link.path}
        return {"kind": "external_link", "name": name, "target_file": link.filename, "target_path": link.path}
    try:
        return _entity(child_path, group[name])
    except Exception:
        return {"kind": "other", "name": name}


def meta(fs: Files, f: h5py.File, path: str, args: dict) -> Raw:
    path, obj = reader.resolve(fs, f, path)
    out = _entity(path, obj)
    if isinstance(obj, h5py.Group):
        children = []
        for i, name in enumerate(obj):  # lazy: a group of a million links is not listed whole
            if i >= limits.MAX_CHILDREN:
                break
            fs.tick()
            children.append(_child(fs, obj, path, name))
        out = sorted_dict(("children", children), *out.items())
    return _raw(out)


# ---- attr ------------------------------------------------------------------------------


def _attr_value(obj, name: str):
    """An attribute's value, or a short description of it when it is too big to send."""
    aid = obj.attrs.get_id(name)
    n = int(np.prod(aid.shape)) if aid.shape else 1
    if n > limits.MAX_ATTR_FULL_ELEMENTS or n * aid.dtype.itemsize > limits.MAX_ATTR_FULL_BYTES:
        return f"[{n} {reader.dtype_name(aid.dtype)} values: too many to show]"
    value = obj.attrs[name]
    if isinstance(value, str):
        return reader._cut(value)
    if isinstance(value, bytes):
        return reader._cut(value[: 4 * limits.MAX_STRING_CHARS + 4].decode("utf-8", "replace"))
    return value


def attr(fs: Files, f: h5py.File, path: str, args: dict) -> Raw:
    path, obj = reader.resolve(fs, f, path)
    keys = args.get("attr_keys") or None
    names = keys if keys else list(obj.attrs)[: limits.MAX_ATTRS]
    out = {}
    for name in names:
        fs.tick()
        if name not in obj.attrs:
            raise SelectionError("attr_keys", f"{path} has no attribute {name!r}")
        try:
            out[name] = _attr_value(obj, name)
        except Exception as e:  # unreadable (an unknown type): say so, keep the others
            out[name] = f"[unreadable: {type(e).__name__}]"
    return _raw(out)


# ---- data ------------------------------------------------------------------------------


def _selected_shape(text: str | None, shape: tuple[int, ...]) -> tuple[tuple, list[int]]:
    """h5grove's selection (numpy-like, e.g. `3,:,10:20`) parsed and checked against `shape`
    before anything is read: (index tuple, shape of the result)."""
    if text in (None, ""):
        return (), list(shape)
    try:
        items = parse_slice(text)
    except (ValueError, TypeError):
        raise SelectionError("selection", f"{text!r} is not a selection like 0,:,10:20") from None
    if len(items) > len(shape):
        raise SelectionError("selection", f"{text!r} has {len(items)} members for a {len(shape)}-D dataset")
    out = []
    for i, (it, n) in enumerate(zip(items, shape)):
        if isinstance(it, int):
            if not -n <= it < n:
                raise SelectionError("selection", f"index {it} of dimension {i} is outside 0…{n - 1}")
        else:
            if it.step is not None and it.step < 1:
                raise SelectionError("selection", f"step {it.step} of dimension {i}: steps must be positive")
            out.append(len(range(*it.indices(n))))
    out += list(shape[len(items):])
    return items, out


def _check_size(ds: h5py.Dataset, n: int, fmt: str | None) -> None:
    """Refuse (400, naming the parameter) a response bigger than the limits, before reading."""
    if fmt not in TEXT_FORMATS + BINARY_FORMATS:
        raise SelectionError("format", f"{fmt!r} is not one of json, bin, csv, npy, tiff")
    vlen = ds.dtype.kind == "O"
    if vlen and fmt == "bin":
        raise SelectionError("format", f"{reader.dtype_name(ds.dtype)} values have no binary form: ask format=json")
    if vlen and n > MAX_VLEN_VALUES:
        raise SelectionError("selection", f"{n} variable-length values is more than the {MAX_VLEN_VALUES} "
                                          "one response may carry: select less")
    if fmt in TEXT_FORMATS and n > MAX_JSON_VALUES:
        raise SelectionError("selection", f"{n} values as {fmt or 'json'} is more than the {MAX_JSON_VALUES} one "
                                          "response may carry: select less, or ask format=bin")
    if n * ds.dtype.itemsize > limits.MAX_RESPONSE_BYTES:
        raise SelectionError("selection", f"{n} values of {ds.dtype.itemsize} bytes is more than the "
                                          f"{limits.MAX_RESPONSE_BYTES} bytes one response may carry: select less")


def _cut_strings(value):
    """Variable-length strings cut at MAX_STRING_CHARS (marked), as the other endpoints do."""
    def cut(v):
        if isinstance(v, bytes):
            v = v[: 4 * limits.MAX_STRING_CHARS + 4].decode("utf-8", "replace")
        return reader._cut(v) if isinstance(v, str) else v

    if isinstance(value, np.ndarray) and value.dtype.kind == "O":
        return np.frompyfunc(cut, 1, 1)(value) if value.ndim else cut(value.item())
    return cut(value)


def data(fs: Files, f: h5py.File, path: str, args: dict) -> Raw:
    path, ds = reader.resolve(fs, f, path)
    if not isinstance(ds, h5py.Dataset):
        raise SelectionError("path", f"{path} is not a dataset")
    fmt = args.get("format")
    if ds.shape is None:
        return _raw(None, fmt)  # h5py.Empty: JSON null, as h5grove
    reader.check_readable(ds, fs)
    items, out_shape = _selected_shape(args.get("selection"), tuple(ds.shape))
    _check_size(ds, int(np.prod(out_shape)) if out_shape else 1, fmt)
    fs.tick()
    value = _cut_strings(ds[items] if items else ds[()])
    try:
        value = convert(value, args.get("dtype"))
    except QueryArgumentError as e:
        raise SelectionError("dtype", str(e)) from None
    if args.get("flatten") not in (None, "false", "False") and isinstance(value, np.ndarray):
        value = np.ravel(value)
    return _raw(value, fmt)


# ---- paths -----------------------------------------------------------------------------


def paths(fs: Files, f: h5py.File, path: str, args: dict) -> Raw:
    """Every path under `path` reached by hard links (HDF5 visits no soft or external link),
    for h5web's search; at most MAX_PATHS."""
    path, group = reader.resolve(fs, f, path)
    if not isinstance(group, h5py.Group):
        raise SelectionError("path", f"{path} is not a group")
    names = [path]

    def visit(name: bytes):
        fs.tick()
        names.append(posixpath.join(path, name.decode("utf-8", "replace")))
        return True if len(names) >= MAX_PATHS else None  # anything but None stops the visit

    group.id.links.visit(visit)
    return _raw(names)


JOBS = {"grove_meta": meta, "grove_attr": attr, "grove_data": data, "grove_paths": paths}
