"""What the HDF5 viewer's HTTP endpoints read, as plain functions on an open h5py file.

Nothing here reads a whole dataset unless asked for a selection of it: `meta` reports
shapes, types, attributes and links; `read_selection` reads one hyperslab and, when the
result has more than `max_pixels` values, bins it (mean of b×b blocks) or, for a slice too
large to read at all, decimates it with a strided read. Errors are `SelectionError`s
naming the parameter and what was wrong (HTTP 400 in the handlers).

Every path inside a file is walked by `confine.Files` (links checked one hop at a time, never
out of the Jupyter root), and every size is bounded by `limits`.
"""
from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass

import h5py
import hdf5plugin  # noqa: F401  (registers bitshuffle-LZ4 and friends with HDF5)
import numpy as np

from . import limits
from .confine import Files, Forbidden, SelectionError

__all__ = ["Files", "Forbidden", "SelectionError", "meta", "attrs_of", "read_selection", "read_json", "nxdefault"]

#: a selection whose raw size exceeds this is decimated with a strided read instead of binned
#: (a module global so tests can lower it)
MAX_READ_BYTES = limits.MAX_READ_BYTES


# ---- types and values ----------------------------------------------------------------


def dtype_name(dt: np.dtype) -> str:
    """A short, JSON-friendly name: numpy's for numbers, else string/compound/enum/opaque/..."""
    if h5py.check_string_dtype(dt) is not None or dt.kind in "SU":
        return "string"
    if h5py.check_enum_dtype(dt) is not None:
        return "enum"
    if dt.kind == "V" and dt.names:
        return "compound"
    if h5py.check_vlen_dtype(dt) is not None:
        return "vlen"
    if dt.kind == "O":
        return "reference"
    if dt.kind in "biufc":
        return dt.name
    return "opaque"


def jsonable(value):
    """An attribute or small dataset value as JSON (strings decoded, numpy scalars unwrapped)."""
    if isinstance(value, bytes):
        return _cut(value[:4 * limits.MAX_STRING_CHARS + 4].decode("utf-8", "replace"))
    if isinstance(value, str):
        return _cut(value)
    if isinstance(value, (h5py.Reference, h5py.RegionReference)):
        return "<reference>"
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "V" and value.dtype.names:
            return [jsonable(v) for v in value.tolist()] if value.ndim else {n: jsonable(value[n]) for n in value.dtype.names}
        if value.dtype.kind in "SO" or value.dtype.kind == "U":
            return [jsonable(v) for v in value.tolist()] if value.ndim else jsonable(value.item())
        if value.dtype.kind == "c":
            return jsonable(value.tolist())
        return _finite(value.tolist())
    if isinstance(value, np.void) and value.dtype.names:
        return {n: jsonable(value[n]) for n in value.dtype.names}
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, complex):
        return [_finite(value.real), _finite(value.imag)]
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return _finite(value)


def _cut(s: str) -> str:
    """A string of at most MAX_STRING_CHARS (+ a marker saying it was cut)."""
    if len(s) <= limits.MAX_STRING_CHARS:
        return s
    return s[:limits.MAX_STRING_CHARS] + f"… [cut: longer than {limits.MAX_STRING_CHARS} characters]"


def _finite(v):
    """NaN and ±inf are not JSON: send them as strings."""
    if isinstance(v, float) and not np.isfinite(v):
        return str(v)
    if isinstance(v, list):
        return [_finite(x) for x in v]
    return v


def attrs_of(obj, full: bool = False, fs: Files | None = None) -> list[dict]:
    """Attributes as [{name, dtype, shape, value}]: at most MAX_ATTRS of them; values longer
    than MAX_ATTR_ELEMENTS are summarised (`truncated`) unless `full`, and even then above
    MAX_ATTR_FULL_ELEMENTS values or MAX_ATTR_FULL_BYTES."""
    out = []
    most_n = limits.MAX_ATTR_FULL_ELEMENTS if full else limits.MAX_ATTR_ELEMENTS
    for i, name in enumerate(obj.attrs):
        if i >= limits.MAX_ATTRS:
            break
        if fs is not None:
            fs.tick()
        try:
            aid = obj.attrs.get_id(name)
            shape = list(aid.shape or ())
            dt = aid.dtype
            n = int(np.prod(shape)) if shape else 1
            entry = {"name": name, "dtype": dtype_name(dt), "shape": shape}
            if n <= most_n and n * dt.itemsize <= limits.MAX_ATTR_FULL_BYTES:
                entry["value"] = jsonable(obj.attrs[name])
            else:
                entry["truncated"] = True
            out.append(entry)
        except Exception as e:  # an unreadable attribute must not hide the others
            out.append({"name": name, "error": f"{type(e).__name__}: {e}"})
    return out


def attr_str(obj, name: str) -> str | None:
    v = obj.attrs.get(name)
    if v is None:
        return None
    if isinstance(v, np.ndarray) and v.ndim == 0:
        v = v.item()
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    return _cut(v) if isinstance(v, str) else None


# ---- structure ------------------------------------------------------------------------


def _link_info(fs: Files, group: h5py.Group, name: str) -> dict:
    link = fs.link(group, name)
    if isinstance(link, h5py.SoftLink):
        return {"link": "soft", "target": link.path}
    if isinstance(link, h5py.ExternalLink):
        return {"link": "external", "file": link.filename, "target": link.path}
    if link is None:
        return {"link": "unknown"}
    return {"link": "hard"}


def _describe(obj) -> dict:
    """Kind, NX_class, shape and dtype of a resolved object (no data read)."""
    if isinstance(obj, h5py.Group):
        d = {"kind": "group", "nx_class": attr_str(obj, "NX_class")}
        default = attr_str(obj, "default")
        if default:
            d["default"] = default
        return d
    if isinstance(obj, h5py.Dataset):
        d = {"kind": "dataset", "shape": list(obj.shape) if obj.shape is not None else None,
             "dtype": dtype_name(obj.dtype)}
        if obj.is_virtual:
            d["virtual"] = True
        return d
    if isinstance(obj, h5py.Datatype):
        return {"kind": "datatype"}
    return {"kind": "unknown"}


def child(fs: Files, group: h5py.Group, name: str):
    """The member `name` of `group`, its link followed through `fs` (None: dangling)."""
    return fs.resolve(group.file, posixpath.join(group.name or "/", name))


def children_of(fs: Files, group: h5py.Group) -> tuple[list[dict], bool]:
    """The members of a group, one level, at most MAX_CHILDREN, links reported and followed (a
    dangling link says `missing`, one leading out of the Jupyter root `forbidden`)."""
    out = []
    truncated = False
    for i, name in enumerate(group):  # lazy: a group of a million links is not listed whole
        if i >= limits.MAX_CHILDREN:
            truncated = True
            break
        fs.tick()
        entry = {"name": name, **_link_info(fs, group, name)}
        try:
            obj = child(fs, group, name)
            if obj is None:
                entry.update(kind="missing", error="the link's target does not exist")
            else:
                entry.update(_describe(obj))
        except Forbidden as e:
            entry.update(kind="forbidden", error=str(e))
        except SelectionError as e:
            entry.update(kind="missing", error=str(e))
        except Exception as e:  # e.g. an external file that is not HDF5
            entry.update(kind="missing", error=f"{type(e).__name__}: {e}")
        out.append(entry)
    return out, truncated


def resolve(fs: Files, f: h5py.File, path: str):
    """The object at `path`, or a SelectionError naming why not (bad path, dangling link), or
    Forbidden (a link out of the Jupyter root)."""
    if not path.startswith("/"):
        raise SelectionError("path", f"{path!r} must be absolute (start with /)")
    path = posixpath.normpath(path) if path != "/" else "/"
    if path.startswith("//"):
        path = path[1:]
    try:
        obj = fs.resolve(f, path)
    except SelectionError:
        raise
    except Exception as e:
        raise SelectionError("path", f"{path} cannot be opened: {type(e).__name__}: {e}") from None
    if obj is None:
        raise SelectionError("path", f"{path} does not exist in the file (or is a dangling link)")
    return path, obj


def meta(fs: Files, f: h5py.File, path: str) -> dict:
    """One entity: its kind, attributes and, for a group, its children; for a dataset its
    layout (chunks, filters, VDS sources). Links on the path are followed (checked)."""
    path, obj = resolve(fs, f, path)
    d = {"path": path, "name": posixpath.basename(path) or "/", **_describe(obj), "attrs": attrs_of(obj, fs=fs)}
    n_attrs = len(obj.attrs)
    if n_attrs > limits.MAX_ATTRS:
        d["attrs_count"] = n_attrs
        d["attrs_truncated"] = True
    if path != "/":
        parent, name = posixpath.split(path)
        try:
            p = fs.resolve(f, parent)
            if isinstance(p, h5py.Group):
                d.update(_link_info(fs, p, name))
        except Exception:
            pass
    if isinstance(obj, h5py.Group):
        d["children"], d["truncated"] = children_of(fs, obj)
        d["count"] = len(obj)
    elif isinstance(obj, h5py.Dataset):
        d["ndim"] = obj.ndim if obj.shape is not None else 0
        d["chunks"] = list(obj.chunks) if obj.chunks else None
        d["filters"] = _filters(obj)
        d["nbytes"] = int(np.prod(obj.shape or ())) * obj.dtype.itemsize if obj.shape is not None else 0
        if obj.is_virtual:
            d["vds"] = _vds_sources(fs, obj)
    return d


def _vds_sources(fs: Files, ds: h5py.Dataset) -> dict:
    """The first MAX_VDS_SOURCES mappings of a VDS (all counted); a source HDF5 would look for
    outside the Jupyter root is marked `forbidden` (and `data` refuses to read the VDS)."""
    plist = ds.id.get_create_plist()
    n = plist.get_virtual_count()
    sources = []
    for i in range(min(n, limits.MAX_VDS_SOURCES)):
        fs.tick()
        fname, dname = plist.get_virtual_filename(i), plist.get_virtual_dsetname(i)
        s = {"file": fname, "dataset": dname,
             "bounds": [list(map(int, b)) for b in plist.get_virtual_vspace(i).get_select_bounds()]}
        try:
            fs.check_source(ds, fname, dname)
        except Forbidden as e:
            s["forbidden"] = str(e)
        except SelectionError:
            pass
        sources.append(s)
    return {"count": n, "sources": sources}


def _filters(ds: h5py.Dataset) -> list[str]:
    try:
        plist = ds.id.get_create_plist()
        out = []
        for i in range(plist.get_nfilters()):
            code, _flags, _vals, name = plist.get_filter(i)
            out.append(name.decode("ascii", "replace") if isinstance(name, bytes) else str(name) or str(code))
        return out
    except Exception:
        return []


# ---- selections -----------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """A parsed `select`: one item per dimension, an int (index, dimension dropped) or a slice."""

    items: tuple

    def normalized(self) -> str:
        def fmt(it):
            if isinstance(it, int):
                return str(it)
            s = f"{it.start}:{it.stop}"
            return s if it.step == 1 else f"{s}:{it.step}"

        return ",".join(fmt(i) for i in self.items)


def parse_selection(text: str | None, shape: tuple[int, ...]) -> Selection:
    """`"3,:,10:20"`-style text → a Selection checked against `shape` (missing trailing
    dimensions are taken whole). Negative indices count from the end, as in numpy."""
    ndim = len(shape)
    parts = [p.strip() for p in text.split(",")] if text not in (None, "") else []
    if len(parts) > ndim:
        raise SelectionError("select", f"{len(parts)} dimensions given, the dataset has {ndim}")
    items = []
    for dim, n in enumerate(shape):
        p = parts[dim] if dim < len(parts) else ":"
        try:
            if ":" in p:
                bits = p.split(":")
                if len(bits) > 3:
                    raise ValueError
                start, stop, step = (int(b) if b.strip() else None for b in bits + [""] * (3 - len(bits)))
                if step is not None and step <= 0:
                    raise SelectionError("select", f"dimension {dim}: step must be positive, got {step}")
                start, stop, step = slice(start, stop, step).indices(n)
                if stop <= start:
                    raise SelectionError("select", f"dimension {dim}: {p!r} selects nothing (size {n})")
                items.append(slice(start, stop, step))
            else:
                i = int(p)
                if not -n <= i < n:
                    raise SelectionError("select", f"dimension {dim}: index {i} is out of range for size {n}")
                items.append(i % n)
        except SelectionError:
            raise
        except ValueError:
            raise SelectionError("select", f"dimension {dim}: {p!r} is not an index or a start:stop:step slice") from None
    return Selection(tuple(items))


def _result_shape(sel: Selection) -> list[int]:
    return [len(range(s.start, s.stop, s.step)) for s in sel.items if isinstance(s, slice)]


def wire_dtype(dt: np.dtype) -> np.dtype:
    """The little-endian type the browser gets: 64-bit integers and float16 become float64/32
    (no BigInt arrays in the viewer), bool becomes uint8."""
    if dt.kind == "b":
        return np.dtype("<u1")
    if dt.kind in "iu" and dt.itemsize == 8:
        return np.dtype("<f8")
    if dt.kind == "f" and dt.itemsize == 2:
        return np.dtype("<f4")
    return dt.newbyteorder("<")


def check_readable(ds: h5py.Dataset, fs: Files | None) -> None:
    """Before reading values of `ds`: its chunks are of a size one may decompress, and if it is
    virtual, every source HDF5 would open is inside the Jupyter root (`Forbidden` otherwise)."""
    if ds.chunks and int(np.prod(ds.chunks)) * ds.dtype.itemsize > limits.MAX_CHUNK_BYTES:
        raise SelectionError("path", f"{ds.name}: chunks of {int(np.prod(ds.chunks)) * ds.dtype.itemsize} bytes, "
                                     f"more than the {limits.MAX_CHUNK_BYTES} this server decompresses to read a value")
    if fs is not None:
        fs.check_vds(ds)


def read_selection(ds: h5py.Dataset, select: str | None, max_pixels: int | None,
                   fs: Files | None = None) -> tuple[dict, np.ndarray]:
    """Read `select` of `ds`; if the result has more than `max_pixels` values (default
    DEFAULT_MAX_PIXELS, at most MAX_PIXELS), reduce each dimension of it by one common factor
    b: a b×b mean (binning) when the raw slice is small enough to read, else a strided read
    (decimation) so a huge slice is never read whole. Returns (header, little-endian
    C-contiguous array)."""
    if max_pixels is not None and max_pixels < 1:
        raise SelectionError("max_pixels", f"must be a positive integer, got {max_pixels}")
    if max_pixels is not None and max_pixels > limits.MAX_PIXELS:
        raise SelectionError("max_pixels", f"{max_pixels} is more than the {limits.MAX_PIXELS} values "
                                           "one response may carry: ask less (the server bins to fit)")
    if ds.shape is None:
        raise SelectionError("path", "the dataset has no data (null dataspace)")
    if ds.dtype.kind not in "biuf":
        raise SelectionError("path", f"{dtype_name(ds.dtype)} data cannot be sent as a typed array: ask format=json")
    check_readable(ds, fs)
    shape = tuple(ds.shape)
    sel = parse_selection(select, shape)
    out_shape = _result_shape(sel)
    n = int(np.prod(out_shape)) if out_shape else 1
    if max_pixels is None:
        max_pixels = limits.DEFAULT_MAX_PIXELS
    max_pixels = min(max_pixels, limits.MAX_RESPONSE_BYTES // wire_dtype(ds.dtype).itemsize)
    factor = 1
    if max_pixels and n > max_pixels and out_shape:
        # the smallest common factor that fits: prod(ceil(d/b)) <= max_pixels
        factor = max(1, int(np.floor((n / max_pixels) ** (1 / len(out_shape)))))
        while int(np.prod([-(-d // factor) for d in out_shape])) > max_pixels:
            factor += 1
    method = "none"
    if factor == 1:
        data = ds[sel.items]
    elif n * ds.dtype.itemsize <= MAX_READ_BYTES:
        data = _bin_mean(np.asarray(ds[sel.items]), factor)
        method = "mean"
    else:
        strided = tuple(it if isinstance(it, int) else slice(it.start, it.stop, it.step * factor) for it in sel.items)
        data = ds[strided]
        method = "stride"
    data = np.ascontiguousarray(np.asarray(data), dtype=wire_dtype(np.asarray(data).dtype))
    header = {
        "path": ds.name,
        "dtype": data.dtype.name,
        "source_dtype": dtype_name(ds.dtype),
        "shape": list(data.shape),
        "source_shape": list(shape),
        "select": sel.normalized(),
        "selected_shape": out_shape,
        "binning": factor,
        "method": method,
        "nbytes": int(data.nbytes),
    }
    return header, data


def _bin_mean(a: np.ndarray, b: int) -> np.ndarray:
    """Mean of b×…×b blocks as float32; edge blocks average only the pixels that are there.
    Per axis, the b strided views (every b-th row from offset i) are added in float64 (which
    also bounds integer sums): whole-array numpy passes, no padding copy, no per-pixel Python
    (a reshape-sum or add.reduceat is ~10× slower on a 4 Mpx frame)."""
    out = a
    counts = np.ones((), np.float64)
    for axis, n in enumerate(a.shape):
        full = n // b * b

        def along(s, x=out, axis=axis):
            return x[(slice(None),) * axis + (s,)]

        acc = along(slice(0, full, b)).astype(np.float64)
        for i in range(1, b):
            acc += along(slice(i, full, b))
        sizes = [b] * (full // b)
        if full < n:  # the ragged last block
            acc = np.concatenate([acc, along(slice(full, n)).sum(axis=axis, keepdims=True, dtype=np.float64)], axis=axis)
            sizes.append(n - full)
        out = acc
        counts = np.multiply.outer(counts, np.asarray(sizes, np.float64))
    return (out / counts).astype(np.float32)


def read_json(ds: h5py.Dataset, select: str | None, fs: Files | None = None) -> dict:
    """A (small) selection as JSON values, any dtype: the viewer's value table and scalars."""
    if ds.shape is None:
        return {"path": ds.name, "dtype": dtype_name(ds.dtype), "shape": None, "value": None}
    shape = tuple(ds.shape)
    sel = parse_selection(select, shape) if shape else Selection(())
    out_shape = _result_shape(sel)
    n = int(np.prod(out_shape)) if out_shape else 1
    if n > limits.MAX_JSON_ELEMENTS:
        raise SelectionError("select", f"{n} values selected; format=json sends at most {limits.MAX_JSON_ELEMENTS}: "
                                       "select less, or ask the binary format")
    if n * ds.dtype.itemsize > limits.MAX_JSON_BYTES:
        raise SelectionError("select", f"{n} values of {ds.dtype.itemsize} bytes selected; format=json reads at most "
                                       f"{limits.MAX_JSON_BYTES} bytes: select less")
    check_readable(ds, fs)
    value = ds[sel.items] if shape else ds[()]
    return {"path": ds.name, "dtype": dtype_name(ds.dtype), "shape": out_shape, "select": sel.normalized(),
            "value": jsonable(value)}


# ---- NeXus default plot ---------------------------------------------------------------


def _str_list(v) -> list[str]:
    if v is None:
        return []
    if isinstance(v, bytes):
        v = v.decode()
    if isinstance(v, str):
        return [s.strip() for s in v.replace(",", ":").split(":")] if (":" in v or "," in v) else [v]
    return [x.decode() if isinstance(x, bytes) else str(x) for x in np.asarray(v).ravel().tolist()]


def _member(fs: Files, g: h5py.Group, name: str, quiet: bool = False):
    """`g`'s member `name`, links followed through `fs`; None if dangling (or, when `quiet`,
    leading out of the Jupyter root)."""
    try:
        return child(fs, g, name)
    except Forbidden:
        if quiet:
            return None
        raise


def _first_members(g: h5py.Group):
    return (k for i, k in enumerate(g) if i < limits.MAX_CHILDREN)


def find_nxdata(fs: Files, f: h5py.File, path: str = "/") -> str | None:
    """Follow `@default` from `path` to an NXdata group (NeXus rules; without `@default`, the
    first NXentry, then the first NXdata, is taken). None if the chain leads nowhere."""
    path, obj = resolve(fs, f, path)
    for _ in range(16):  # a cycle of @default attributes must end
        if not isinstance(obj, h5py.Group):
            return None
        if attr_str(obj, "NX_class") == "NXdata":
            return path
        nxt = attr_str(obj, "default")
        if nxt is None:
            for want in ("NXentry", "NXsubentry", "NXdata"):
                nxt = None
                for k in _first_members(obj):
                    fs.tick()
                    m = _member(fs, obj, k, quiet=True)
                    if isinstance(m, h5py.Group) and attr_str(m, "NX_class") == want:
                        nxt = k
                        break
                if nxt:
                    break
        if not nxt:
            return None
        path = nxt if nxt.startswith("/") else posixpath.join(path, nxt)
        obj = fs.resolve(f, path)
        if obj is None:
            return None
    return None


def nxdata(fs: Files, f: h5py.File, path: str) -> dict:
    """An NXdata group's plot: signal, axes per dimension (with units), errors, title."""
    path, g = resolve(fs, f, path)
    if not isinstance(g, h5py.Group) or attr_str(g, "NX_class") != "NXdata":
        raise SelectionError("path", f"{path} is not an NXdata group")
    signal = attr_str(g, "signal")
    if signal is None:  # NeXus 2012 style: the dataset with @signal=1
        for k in _first_members(g):
            fs.tick()
            m = _member(fs, g, k, quiet=True)
            if isinstance(m, h5py.Dataset) and str(m.attrs.get("signal", "")) in ("1", "b'1'"):
                signal = k
                break
    ds = _member(fs, g, signal) if signal is not None else None
    if not isinstance(ds, h5py.Dataset):
        raise SelectionError("path", f"{path}: NXdata without a signal dataset")
    ndim = ds.ndim
    names = _str_list(g.attrs.get("axes")) or _str_list(ds.attrs.get("axes"))
    axes: list[dict | None] = [None] * ndim
    for i, name in enumerate(names[:ndim]):
        if name in (".", ""):
            continue
        idx = g.attrs.get(f"{name}_indices")
        dim = int(np.asarray(idx).ravel()[0]) if idx is not None else i
        a = _member(fs, g, name)
        if isinstance(a, h5py.Dataset) and 0 <= dim < ndim:
            axes[dim] = {"name": name, "path": f"{path}/{name}", "shape": list(a.shape),
                         "units": attr_str(a, "units"), "long_name": attr_str(a, "long_name")}
    errors = None
    for e in (f"{signal}_errors", "errors"):
        m = _member(fs, g, e)
        if isinstance(m, h5py.Dataset) and m.shape == ds.shape:
            errors = e
            break
    title = None
    t = _member(fs, g, "title", quiet=True)
    if isinstance(t, h5py.Dataset) and t.shape == () and t.dtype.itemsize <= limits.MAX_JSON_BYTES \
            and not t.is_virtual:
        title = jsonable(t[()])
    return {
        "path": path,
        "signal": {"name": signal, "path": f"{path}/{signal}", "shape": list(ds.shape), "dtype": dtype_name(ds.dtype),
                   "units": attr_str(ds, "units"), "long_name": attr_str(ds, "long_name")},
        "axes": axes,
        "errors": f"{path}/{errors}" if errors else None,
        "interpretation": attr_str(ds, "interpretation") or attr_str(g, "interpretation"),
        "title": title or attr_str(g, "title"),
    }


def nxdefault(fs: Files, f: h5py.File, path: str = "/") -> dict:
    """The default plot of `path` (the file's when `/`), or {"path": None} when it has none."""
    found = find_nxdata(fs, f, path)
    if found is None:
        return {"path": None}
    return nxdata(fs, f, found)


def dumps(obj) -> str:
    return json.dumps(obj, allow_nan=False)
