"""Reading HDF5 under the Jupyter root and nowhere else.

HDF5 follows external links and virtual-dataset (VDS) sources by itself, searching for the
named file in several places (HDF5_EXT_PREFIX / HDF5_VDS_PREFIX, the linking file's folder,
the process's working directory, an absolute name as written): left alone, a file inside the
root can make the server read `/elsewhere/secret.h5`, or open a FIFO and hang a thread. So:

- paths inside a file are walked here, one link at a time (`Files.resolve`): soft links are
  followed within the file, external links by opening the target file ourselves, never by HDF5;
- every file HDF5 could pick for a link or a VDS source is checked before anything opens it
  (`Files.locate`): any candidate that exists outside the root, or is not a regular file
  (FIFO, device, folder), refuses the request (`Forbidden`, HTTP 403), even where HDF5 would
  have picked another one first;
- a VDS is read only after all its sources (and theirs, recursively) were checked (`check_vds`).

One `Files` serves one request: it caches the files it opened, closes them at the end and
stops the work (`ReadTimeout`) once the request's deadline has passed.
"""
from __future__ import annotations

import os
import posixpath
import stat
import time

import h5py

from . import limits


class SelectionError(ValueError):
    """A request parameter that cannot be honoured; `field` names it (HTTP 400)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Forbidden(SelectionError):
    """The request would read a file outside the Jupyter root, or one that is not a regular
    file (HTTP 403); `field` names the parameter that led there."""


class ReadTimeout(Exception):
    """The request's deadline passed (HTTP 504)."""


class _Missing(Exception):
    """A link on the path leads nowhere (dangling soft link, missing external file)."""


def _inside(root: str, real: str) -> bool:
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def is_regular(path: str) -> bool:
    """A regular file (symlinks followed). `stat` never opens it, so a FIFO cannot block here."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


class Files:
    """The files one request reads, confined to `root`, with a deadline (time.monotonic())."""

    def __init__(self, root: str, deadline: float | None = None):
        self.root = os.path.realpath(root)
        self.deadline = deadline
        self._open: dict[str, h5py.File] = {}
        self._vds_checked: set[tuple[str, str]] = set()
        #: every file this request opened or let HDF5 open (real paths): the handler asks who may
        #: read each of them (access.py) before anything read from them is sent
        self.touched: set[str] = set()

    # ---- time ------------------------------------------------------------------------

    def tick(self) -> None:
        """Raise ReadTimeout once the request has run out of time (checked between steps)."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise ReadTimeout("the read took too long")

    # ---- files -----------------------------------------------------------------------

    def open(self, path: str, field: str = "file") -> h5py.File:
        """Open a checked file (its real path under the root, regular), once per request."""
        real = os.path.realpath(path)
        if real in self._open:
            return self._open[real]
        self.tick()
        if not _inside(self.root, real):
            raise Forbidden(field, f"{path!r} is outside the Jupyter root directory")
        if not is_regular(real):
            raise Forbidden(field, f"{path!r} is not a regular file")
        if len(self._open) >= limits.MAX_OPEN_FILES:
            raise SelectionError(field, f"more than {limits.MAX_OPEN_FILES} files would be opened by one request")
        try:
            f = h5py.File(real, "r", locking=False)  # no lock: files the daqlab server is writing read
        except OSError as e:
            try:  # a SWMR writer's file (superblock v3, "open for write"): readable as a SWMR reader
                f = h5py.File(real, "r", locking=False, swmr=True)
            except OSError:
                raise SelectionError(field, f"not an HDF5 file or unreadable ({e})") from None
        self._open[real] = f
        self.touched.add(real)
        return f

    def close(self) -> None:
        for f in self._open.values():
            try:
                f.close()
            except Exception:
                pass
        self._open.clear()

    def candidates(self, name: str, parent_file: str, env_var: str) -> list[str]:
        """Where HDF5 looks for the file `name` that `parent_file` links to, in its order
        (H5F_prefix_open_file): an absolute name as is, then (its last component, if it was
        absolute) under each prefix of `env_var`, under the parent file's folder, and relative
        to the working directory."""
        out = []
        rel = name
        if os.path.isabs(name):
            out.append(name)
            rel = name.rsplit("/", 1)[-1]
        parent_dir = os.path.dirname(parent_file)
        for prefix in filter(None, os.environ.get(env_var, "").split(":")):
            out.append(os.path.join(prefix.replace("${ORIGIN}", parent_dir), rel))
        out.append(os.path.join(parent_dir, rel))
        out.append(os.path.abspath(rel))
        return out

    def locate(self, name: str, parent_file: str, env_var: str, what: str, field: str = "path") -> str | None:
        """The file HDF5 would open for `name` (the first candidate that is an HDF5 file), or
        None if there is none (HDF5 finds nothing either). Forbidden if ANY candidate that exists
        is outside the root or not a regular file: which one HDF5 settles on depends on its
        version and on what is there at the moment it looks, so an ambiguous name is refused."""
        found = None
        for cand in self.candidates(name, parent_file, env_var):
            if not os.path.exists(cand):
                continue
            real = os.path.realpath(cand)
            if not _inside(self.root, real):
                raise Forbidden(field, f"{what} points to {name!r}, which is outside the Jupyter root directory")
            if not is_regular(real):
                raise Forbidden(field, f"{what} points to {name!r}, which is not a regular file")
            self.touched.add(real)
            if found is None and h5py.is_hdf5(real):
                found = real
        return found

    # ---- paths inside files ----------------------------------------------------------

    def resolve(self, f: h5py.File, path: str, field: str = "path"):
        """The object at absolute `path` in `f`, links followed one at a time and checked;
        None if a link on the way leads nowhere."""
        try:
            return self._walk(f, path, 0, field)[1]
        except _Missing:
            return None
        except Forbidden as e:
            if path in e.message:
                raise
            raise Forbidden(field, f"{path}: {e.message}") from None

    def link(self, group: h5py.Group, name: str):
        """The link `name` of `group`, not followed (None if there is none, or of a kind h5py
        does not know)."""
        try:
            return group.get(name, getlink=True)
        except (KeyError, TypeError):
            return None

    def _walk(self, f: h5py.File, path: str, hops: int, field: str):
        """(file, object) at `path` in `f`, following soft links in-file and external links
        through `open`/`locate` (never through HDF5)."""
        obj = f["/"]
        phys = "/"  # where we are, as a path inside the current file (relative soft links start here)
        for name in (p for p in path.split("/") if p and p != "."):
            self.tick()
            if not isinstance(obj, h5py.Group):
                raise _Missing()
            link = self.link(obj, name)
            if link is None:
                raise _Missing()
            if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)):
                if hops >= limits.MAX_LINK_HOPS:
                    raise SelectionError(field, f"{path}: more than {limits.MAX_LINK_HOPS} links to follow")
                if isinstance(link, h5py.SoftLink):
                    target = link.path if link.path.startswith("/") else posixpath.join(phys, link.path)
                    f, obj = self._walk(f, target, hops + 1, field)
                    phys = posixpath.normpath(target)
                else:
                    what = f"the external link {posixpath.join(phys, name)} of {os.path.basename(f.filename)}"
                    full = self.locate(link.filename, f.filename, "HDF5_EXT_PREFIX", what, field)
                    if full is None:
                        raise _Missing()
                    try:
                        f = self.open(full, field)
                    except Forbidden:
                        raise
                    except SelectionError:
                        raise _Missing() from None
                    f, obj = self._walk(f, link.path, hops + 1, field)
                    phys = posixpath.normpath(link.path)
            else:
                try:
                    obj = obj.get(name)
                except Exception:
                    raise _Missing() from None
                if obj is None:
                    raise _Missing()
                phys = posixpath.join(phys, name)
        return f, obj

    # ---- virtual datasets ------------------------------------------------------------

    def check_vds(self, ds: h5py.Dataset, field: str = "path", depth: int = 0) -> None:
        """Every source file of the virtual dataset `ds` (and of its sources, recursively) is
        under the root and regular, before HDF5 opens any of them to read `ds`."""
        if not ds.is_virtual:
            return
        key = (os.path.realpath(ds.file.filename), ds.name or "")
        if key in self._vds_checked:
            return
        if depth > limits.MAX_LINK_HOPS:
            raise SelectionError(field, f"{ds.name}: virtual datasets nested deeper than {limits.MAX_LINK_HOPS}")
        plist = ds.id.get_create_plist()
        n = plist.get_virtual_count()
        if n > limits.MAX_VDS_CHECKED:
            raise SelectionError(field, f"{ds.name}: {n} VDS mappings, more than the {limits.MAX_VDS_CHECKED} checked")
        for i in range(n):
            self.tick()
            self.check_source(ds, plist.get_virtual_filename(i), plist.get_virtual_dsetname(i), field, depth)
        self._vds_checked.add(key)

    def check_source(self, ds: h5py.Dataset, fname: str, dname: str, field: str = "path", depth: int = 0) -> None:
        what = f"the virtual dataset {ds.name} (source {fname}:{dname})"
        if "%" in fname.replace("%%", ""):
            raise Forbidden(field, f"{what}: source file name patterns are not supported")
        fname = fname.replace("%%", "%")
        if fname == ".":
            src_file = ds.file
        else:
            full = self.locate(fname, ds.file.filename, "HDF5_VDS_PREFIX", what, field)
            if full is None:
                return  # HDF5 finds nothing either: the fill value
            try:
                src_file = self.open(full, field)
            except Forbidden:
                raise
            except SelectionError:
                return
        try:
            src = self.resolve(src_file, dname, field)
            if isinstance(src, h5py.Dataset):
                self.check_vds(src, field, depth + 1)
        except Forbidden as e:
            raise Forbidden(field, f"{what}: {e.message}") from None

