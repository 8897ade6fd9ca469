"""Saved scans: ``daqlab.open_master(path)`` opens a scan's master file with the
same stream API as a live scan, so analysis code runs online and offline alike.

>>> scan = daqlab.open_master("/data/id00/sample1/scan_0001_master.h5")
>>> frames = scan.streams["frame"]          # the master's virtual dataset
>>> frames[0], frames[10:20], len(frames)
>>> scan.streams["peak_counter"][:5]        # events, as a list of dicts
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from ._arrow import NO_FRAME, Batch
from .errors import IndexWontBeThereError, NotFoundError, ParameterError


def _h5py():
    try:
        import hdf5plugin  # noqa: F401  (registers the bitshuffle/LZ4 filter)
        import h5py
    except ImportError as err:  # pragma: no cover - both are dependencies of daqlab
        raise ImportError(f"reading saved scans needs h5py and hdf5plugin: {err}") from err
    return h5py


def _text(v) -> str:
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray) and v.shape == ():
        return _text(v[()])
    return str(v)


def _view(data: np.ndarray, roi, binning: int) -> np.ndarray:
    """ROI ``(row0, col0, rows, cols)`` and sum-binning on the last two axes, as the server does."""
    if roi is not None:
        r0, c0, nr, nc = (int(v) for v in roi)
        if r0 < 0 or c0 < 0 or nr < 1 or nc < 1 or r0 + nr > data.shape[-2] or c0 + nc > data.shape[-1]:
            raise ParameterError(f"roi: {list(roi)} is outside the item shape {list(data.shape[-2:])}",
                                 fields=[{"field": "roi", "message": "outside the item"}])
        data = data[..., r0:r0 + nr, c0:c0 + nc]
    if binning and binning > 1:
        b = int(binning)
        rows, cols = data.shape[-2] // b, data.shape[-1] // b
        acc = np.uint32 if data.dtype.kind == "u" else np.int32 if data.dtype.kind == "i" else data.dtype
        d = data[..., :rows * b, :cols * b].astype(acc, copy=False)
        data = d.reshape(*d.shape[:-2], rows, b, cols, b).sum(axis=(-3, -1), dtype=acc)
    return data


class SavedStream:
    """An array stream read from a saved file: ``len``, ``s[i]``, ``s[a:b:c]``,
    ``read(..., roi, binning)``, ``read_batch``, ``cursor()`` and iteration, as on a
    live :class:`daqlab.Stream`."""

    kind = "array"

    def __init__(self, name: str, dataset, valid: np.ndarray | None = None, info: dict | None = None,
                 frames: np.ndarray | None = None):
        self.name = name
        self._ds = dataset
        self._valid = valid
        self._info = dict(info or {})
        # per row, the acquisition frame it comes from (the master's frame index datasets); None: not per frame
        self._frames = frames

    @property
    def info(self) -> dict:
        return {"name": self.name, "kind": self.kind, "dtype": str(self.dtype), "shape": list(self.shape),
                "length": len(self), "first": 0, "sealed": True, "info": self._info}

    @property
    def dtype(self) -> np.dtype:
        return self._ds.dtype

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._ds.shape[1:])

    @property
    def sealed(self) -> bool:
        return True

    @property
    def first(self) -> int:
        return 0

    @property
    def dataset(self):
        """The h5py dataset behind the stream."""
        return self._ds

    def __len__(self) -> int:
        return int(self._ds.shape[0])

    def _index(self, index: int) -> int:
        n = len(self)
        i = int(index) + (n if index < 0 else 0)
        if not 0 <= i < n:
            raise IndexWontBeThereError(f"index {index} of saved stream {self.name!r}: valid indexes are "
                                        f"{-n}…{n - 1}", index=index, length=n)
        return i

    def read_batch(self, start: int | None = None, stop: int | None = None, step: int | None = None,
                   roi: Sequence[int] | None = None, binning: int = 1) -> Batch:
        idx = np.arange(*slice(start, stop, step).indices(len(self)), dtype=np.int64)
        if len(idx) == 0:
            data = np.empty((0, *self.shape), self.dtype)
        elif (step or 1) > 0:
            data = self._ds[idx[0]:idx[-1] + 1:(step or 1)]
        else:
            data = self._ds[idx[-1]:idx[0] + 1:-(step or 1)][::-1]
        data = _view(np.asarray(data), roi, binning)
        valid = self._valid[idx].astype(bool) if self._valid is not None else np.ones(len(idx), bool)
        return Batch(index=idx, data=data, valid=valid, frames=self._frames_of(idx))

    def _frames_of(self, idx: np.ndarray) -> np.ndarray | None:
        return self._frames[idx] if self._frames is not None else None

    def frame_indices(self, start: int | None = None, stop: int | None = None, step: int | None = None) -> np.ndarray:
        """Per item ``start:stop:step``, the acquisition frame it comes from (int64; ``-1``: not from one
        frame), as on a live stream: join per-frame streams on these, never on item position."""
        idx = np.arange(*slice(start, stop, step).indices(len(self)), dtype=np.int64)
        frames = self._frames_of(idx)
        return frames if frames is not None else np.full(len(idx), NO_FRAME, dtype=np.int64)

    def read(self, start=None, stop=None, step=None, roi=None, binning: int = 1) -> np.ndarray:
        return self.read_batch(start, stop, step, roi, binning).data

    def get(self, index: int, roi=None, binning: int = 1, **_ignored) -> np.ndarray:
        i = self._index(index)
        return _view(np.asarray(self._ds[i]), roi, binning)

    def valid(self, index: int) -> bool:
        return bool(self._valid[self._index(index)]) if self._valid is not None else True

    def latest(self):
        return self.get(-1)

    def __getitem__(self, key):
        if isinstance(key, slice):
            return self.read(key.start, key.stop, key.step)
        if isinstance(key, (int, np.integer)):
            return self.get(int(key))
        raise TypeError(f"stream indexes are integers or slices, not {type(key).__name__}")

    def cursor(self, start: int = 0, batch: int = 16, stop: int | None = None, **_live_only) -> Iterator[Batch]:
        """Batches of ``batch`` items from ``start`` (a saved stream is complete: no waiting)."""
        end = len(self) if stop is None else min(stop, len(self))
        for a in range(start, end, batch):
            yield self.read_batch(a, min(a + batch, end))

    def __iter__(self) -> Iterator:
        for b in self.cursor():
            yield from b.data

    def __repr__(self) -> str:
        return f"<daqlab.SavedStream {self.name} {self.dtype}{list(self.shape)} length {len(self)}>"


class SavedEventStream(SavedStream):
    """An event stream read back from its columns: items are dicts."""

    kind = "event"

    def __init__(self, name: str, columns: dict[str, np.ndarray], info: dict | None = None,
                 frames: np.ndarray | None = None):
        self.name = name
        self._cols = columns
        self._n = max((len(c) for c in columns.values()), default=0)
        self._valid = None
        self._info = dict(info or {})
        self._frames = frames

    @property
    def dtype(self):
        return None

    @property
    def shape(self):
        return None

    def __len__(self) -> int:
        return self._n

    def _event(self, i: int) -> dict:
        out = {}
        for k, c in self._cols.items():
            v = c[i]
            if isinstance(v, (bytes, str)):
                s = _text(v)
                try:
                    out[k] = json.loads(s) if s[:1] in "[{" else s
                except ValueError:
                    out[k] = s
            else:
                out[k] = v.item() if hasattr(v, "item") else v
        return out

    def get(self, index: int, **_ignored) -> dict:
        return self._event(self._index(index))

    def read_batch(self, start=None, stop=None, step=None, roi=None, binning: int = 1) -> Batch:
        idx = np.arange(*slice(start, stop, step).indices(len(self)), dtype=np.int64)
        return Batch(index=idx, data=[self._event(int(i)) for i in idx], valid=None, kind="event",
                     frames=self._frames_of(idx))

    def column(self, name: str) -> np.ndarray:
        """One field of every event as a numpy array."""
        return self._cols[name]

    def __repr__(self) -> str:
        return f"<daqlab.SavedEventStream {self.name} events length {len(self)}>"


class SavedScan:
    """A scan read from its master file: ``identity``, ``info``, ``files``,
    ``streams`` (the same names as the live scan's), ``default`` (the NXdata plot)."""

    state = "CLOSED"
    #: a derived scan's job manifest (``daqlab.open_derived``), else None
    manifest: dict | None = None

    def __init__(self, path: str):
        h5py = _h5py()
        self.path = os.path.abspath(path)
        try:
            self.file = h5py.File(self.path, "r")
        except OSError as err:
            raise NotFoundError(f"cannot open {path} as an HDF5 file: {err}") from err
        root = self.file
        entry_name = _text(root.attrs.get("default", "entry"))
        if entry_name not in root:
            raise NotFoundError(f"{path} has no NXentry {entry_name!r} (is it a daqlab master file?)")
        self.entry = root[entry_name]
        e = self.entry
        self.key = _text(e["entry_identifier"][()]) if "entry_identifier" in e else os.path.basename(path)
        params = {}
        if "process/parameters/data" in e:
            params = json.loads(_text(e["process/parameters/data"][()]))
        self.parameters: dict = params
        ident = dict(params.get("scan") or {})
        self.identity = {k: v for k, v in ident.items() if k != "key"}
        saving = json.loads(_text(e["process/saving/data"][()])) if "process/saving/data" in e else {}
        folder = os.path.dirname(self.path)
        self.files = [self.path] + [os.path.join(folder, f) for f in saving.get("data_files", [])]
        if saving.get("sparse_file"):
            self.files.append(os.path.join(folder, saving["sparse_file"]))
        self.info = {
            "start_time": _text(e["start_time"][()]) if "start_time" in e else None,
            "end_time": _text(e["end_time"][()]) if "end_time" in e else None,
            "end_reason": _text(e["end_reason"][()]) if "end_reason" in e else None,
            "nb_frames_saved": saving.get("nb_frames_saved"),
            **{k: v for k, v in params.items() if k != "scan"},
        }
        # a derived scan (a batch job's result) records the saved scan it was computed from
        self.source: dict | None = (json.loads(_text(e["source_scan/data"][()]))
                                    if "source_scan/data" in e else None)
        self.streams = _SavedStreams(self._load_streams())

    def open_source(self) -> "SavedScan":
        """The saved scan this derived scan was computed from (``source["master"]``)."""
        if not self.source:
            raise NotFoundError(f"{self.path} records no source scan: it is not a derived scan")
        return SavedScan(self.source["master"])

    @property
    def name(self):
        return self.identity.get("name")

    @property
    def number(self):
        return self.identity.get("number")

    def _load_streams(self) -> dict:
        e = self.entry
        streams: dict[str, SavedStream] = {}
        det = None
        for inst in e.values():
            if _text(inst.attrs.get("NX_class", "")) == "NXinstrument":
                for d in inst.values():
                    if _text(d.attrs.get("NX_class", "")) == "NXdetector" and "data" in d:
                        det = d
                        break
        if det is not None:
            valid = e["measurement/valid"][()] if "measurement/valid" in e else None
            streams["frame"] = SavedStream("frame", det["data"], valid, frames=_frame_index(e, "measurement/frame_index",
                                                                                           det["data"].shape[0]))
        results = e.get("process/results")
        if results is not None:
            for name, obj in results.items():
                frames_path = f"process/frame_index/{name}"
                if hasattr(obj, "shape"):
                    cadence = _text(obj.attrs.get("cadence", "frame"))
                    ds = obj if cadence in ("frame", "end") else _OneItem(obj)
                    frames = _frame_index(e, frames_path, ds.shape[0]) if cadence == "frame" else None
                    streams[name] = SavedStream(name, ds, info={"cadence": cadence}, frames=frames)
                else:
                    cols = {k: v[()] for k, v in obj.items() if hasattr(v, "shape")}
                    n = max((len(c) for c in cols.values()), default=0)
                    streams[name] = SavedEventStream(name, cols, info={"cadence": _text(obj.attrs.get("cadence", "frame"))},
                                                     frames=_frame_index(e, frames_path, n))
        return streams

    @property
    def default(self):
        """The h5py group of the NXdata plot the ``@default`` chain leads to."""
        g = self.entry
        while "default" in g.attrs:
            g = g[_text(g.attrs["default"])]
        return g

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> "SavedScan":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getitem__(self, name: str):
        return self.streams[name]

    def __repr__(self) -> str:
        return f"<daqlab.SavedScan {self.key} {self.path} streams: {', '.join(self.streams) or '-'}>"


def _frame_index(entry, path: str, rows: int) -> np.ndarray | None:
    """A saved frame index dataset (one acquisition frame per row), or None when the file has none
    (a master written before they were saved) or it does not match the rows."""
    if path not in entry:
        return None
    frames = np.asarray(entry[path][()], dtype=np.int64)
    return frames if frames.shape == (rows,) else None


class _OneItem:
    """A non-per-frame result (static or accumulated) as a stream of one item."""

    def __init__(self, ds):
        self._ds = ds
        self.dtype = ds.dtype
        self.shape = (1, *ds.shape)

    def __getitem__(self, key):
        one = np.asarray(self._ds[()])[None]
        return one[key]


class _SavedStreams(Mapping):
    def __init__(self, streams: dict):
        self._s = streams

    def __getitem__(self, name: str):
        try:
            return self._s[name]
        except KeyError:
            raise NotFoundError(f"the saved scan has no stream {name!r}; available: "
                                f"{', '.join(sorted(self._s)) or 'none'}") from None

    def __iter__(self):
        return iter(self._s)

    def __len__(self) -> int:
        return len(self._s)


def open_master(path: str | os.PathLike) -> SavedScan:
    """Open a saved scan from its ``{prefix}_master.h5``."""
    return SavedScan(os.fspath(path))
