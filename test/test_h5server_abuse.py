"""The HDF5 viewer's HTTP endpoints under attack (issue 13, item 13), in a real `jupyter server`:

- a file inside the Jupyter root must not make the server read a file outside it: external
  links (absolute, relative, through a second file, through a symlinked file, found through
  HDF5_EXT_PREFIX or the working directory, behind a soft link) and virtual-dataset sources
  are refused with 403 naming the link, and listed as `forbidden` in `meta`;
- every response is bounded, whatever the file declares: no `max_pixels` on a small file
  declaring hundreds of MB, `max_pixels` above the cap (400 naming it), strings, attributes,
  value tables, group listings, giant chunks;
- a link or VDS source to a FIFO, a device or a folder errors at once, and other requests
  are served meanwhile; a read that takes too long is answered 504 while others are served.

The tests speak HTTP only (status, JSON error, size of the answer), so they apply as they are to
whatever replaces this server (issue 14: h5web / h5grove) once its routes are mapped here.
"""
from __future__ import annotations

import json
import os
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h5py
import numpy as np
import pytest

from test_h5viewer_server import JupyterServer, decode

SECRET = np.full(4, 31337.0)
SECRET_BYTES = SECRET.tobytes()

#: (path in links.h5, words the 403 must contain)
ESCAPING_LINKS = [
    ("/abs", "outside the Jupyter root"),  # an absolute external link
    ("/rel", "outside the Jupyter root"),  # ../../elsewhere/secret.h5
    ("/hop", "outside the Jupyter root"),  # to inner.h5 (inside), whose link leads out
    ("/symlinked", "outside the Jupyter root"),  # to a symlink inside the root → a file outside
    ("/prefixed", "outside the Jupyter root"),  # found by HDF5 through $HDF5_EXT_PREFIX
    ("/cwd", "outside the Jupyter root"),  # found by HDF5 in the server's working directory
    ("/soft_to_abs", "outside the Jupyter root"),  # a soft link to an escaping external link
    ("/grp_via/data", "outside the Jupyter root"),  # an escaping link in the middle of the path
    ("/devzero", "outside the Jupyter root"),  # a symlink in the root to /dev/zero
]


def write_secret(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f["data"] = SECRET


def write_abuse_files(tmp: Path, d: Path) -> None:
    """Files under the Jupyter root (`d`) that point out of it, or at things that are not files."""
    d.mkdir(parents=True)
    secret = tmp / "elsewhere" / "secret.h5"
    write_secret(secret)
    write_secret(tmp / "prefix" / "prefixed.h5")
    write_secret(tmp / "cwd" / "cwdsecret.h5")
    (d / "secret_link.h5").symlink_to(secret)
    (d / "zero.h5").symlink_to("/dev/zero")
    os.mkfifo(d / "pipe.h5")
    (d / "adir.h5").mkdir()
    with h5py.File(d / "inner.h5", "w") as f:
        f["ok"] = np.arange(3.0)
        f["out"] = h5py.ExternalLink(str(secret), "/data")
    with h5py.File(d / "links.h5", "w") as f:
        f["abs"] = h5py.ExternalLink(str(secret), "/data")
        f["rel"] = h5py.ExternalLink("../../elsewhere/secret.h5", "/data")
        f["hop"] = h5py.ExternalLink("inner.h5", "/out")
        f["hop_ok"] = h5py.ExternalLink("inner.h5", "/ok")
        f["symlinked"] = h5py.ExternalLink("secret_link.h5", "/data")
        f["prefixed"] = h5py.ExternalLink("prefixed.h5", "/data")
        f["cwd"] = h5py.ExternalLink("cwdsecret.h5", "/data")
        f["soft_to_abs"] = h5py.SoftLink("/abs")
        f["grp_via"] = h5py.ExternalLink(str(secret), "/")
        f["devzero"] = h5py.ExternalLink("zero.h5", "/data")
        f["fifo"] = h5py.ExternalLink("pipe.h5", "/data")
        f["dir"] = h5py.ExternalLink("adir.h5", "/data")
    # virtual datasets whose sources are outside the root, or not files
    with h5py.File(d / "inner_vds.h5", "w") as f:
        layout = h5py.VirtualLayout(shape=(4,), dtype=np.float64)
        layout[:] = h5py.VirtualSource(str(secret), "data", shape=(4,))
        f.create_virtual_dataset("frames", layout, fillvalue=-1)
    with h5py.File(d / "vds.h5", "w") as f:
        for name, src, dset in [("abs", str(secret), "data"), ("rel", "../../elsewhere/secret.h5", "data"),
                                ("nested", "inner_vds.h5", "frames"), ("fifo", "pipe.h5", "data"),
                                ("via_link", "links.h5", "abs")]:
            layout = h5py.VirtualLayout(shape=(4,), dtype=np.float64)
            layout[:] = h5py.VirtualSource(src, dset, shape=(4,))
            f.create_virtual_dataset(name, layout, fillvalue=-1)
        layout = h5py.VirtualLayout(shape=(3,), dtype=np.float64)
        layout[:] = h5py.VirtualSource("inner.h5", "ok", shape=(3,))
        f.create_virtual_dataset("ok", layout, fillvalue=-1)


def write_big_files(d: Path) -> None:
    """Small files that declare a lot."""
    with h5py.File(d / "declared.h5", "w", libver="latest") as f:
        # 400 MiB of unwritten chunks in a file of a few kB
        f.create_dataset("frames", shape=(100, 2048, 2048), dtype=np.uint8, chunks=(1, 2048, 2048),
                         compression="gzip", fillvalue=3)
        # 100 fixed-length strings of 1 MB each, never written
        f.create_dataset("strings", shape=(100,), dtype="S1000000", chunks=(1,))
        g = f.create_group("attrs")
        g.attrs["many"] = np.zeros(200_000)
        g.attrs["long"] = "x" * 100_000
        m = f.create_group("many_attrs")
        for i in range(1200):
            m.attrs[f"a{i}"] = i
        c = f.create_group("many_children")
        for i in range(5100):
            c[f"s{i}"] = h5py.SoftLink("/attrs")
        # one chunk of 320 MiB of zeros, gzip-compressed to a few hundred kB: a decompression bomb
        shape = (1, 8192, 40960)
        bomb = f.create_dataset("bomb", shape=shape, dtype=np.uint8, chunks=shape, compression="gzip")
        z = zlib.compressobj(1)
        block = bytes(2**20)
        payload = b"".join(z.compress(block) for _ in range(int(np.prod(shape)) // len(block))) + z.flush()
        bomb.id.write_direct_chunk((0, 0, 0), payload)


@pytest.fixture(scope="module")
def js(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("h5abuse")
    (tmp / "cwd").mkdir()
    # HDF5 looks for linked files in $HDF5_EXT_PREFIX first: here, a folder outside the root
    s = JupyterServer(tmp, extra_env={"HDF5_EXT_PREFIX": str(tmp / "prefix")})
    s.tmp = tmp
    write_abuse_files(tmp, s.root / "abuse")
    write_big_files(s.root / "abuse")
    warm_up(s, 2)
    yield s
    unblock_fifos(s.root / "abuse")
    s.stop()


def unblock_fifos(d: Path, name: str = "pipe.h5") -> None:
    """A reader blocked in open() on a FIFO returns once a writer opens it (only matters when a
    server follows links to FIFOs: let its threads go so it can stop)."""
    for _ in range(10):
        try:
            fd = os.open(d / name, os.O_WRONLY | os.O_NONBLOCK)
            os.close(fd)
        except OSError:
            return
        time.sleep(0.05)


def warm_up(server: JupyterServer, n: int) -> None:
    """`n` requests at once, so a server that reads in a pool has its readers started before
    anything is timed (on a loaded machine, starting one takes seconds)."""
    with ThreadPoolExecutor(n) as ex:
        for status, body, _ in ex.map(lambda _: server.get_raw("daqlab/h5/meta", file="sub/plain.h5", path="/line",
                                                              timeout=60), range(n)):
            assert status == 200, body[:300]


def assert_no_secret(body: bytes) -> None:
    assert SECRET_BYTES not in body and b"31337" not in body


# ---- links and virtual datasets out of the root -------------------------------------------


@pytest.mark.parametrize("path, words", ESCAPING_LINKS)
def test_links_out_of_the_root_are_refused(js, path, words):
    for route, extra in (("h5/data", {}), ("h5/data", {"format": "json"}), ("h5/meta", {}), ("h5/attrs", {}),
                         ("h5grove/data", {}), ("h5grove/data", {"format": "bin", "dtype": "safe"}),
                         ("h5grove/meta", {}), ("h5grove/attr", {})):  # daqlab's endpoints and h5web's (h5grove)
        status, body, _ = js.get_raw(f"daqlab/{route}", file="abuse/links.h5", path=path, timeout=10, **extra)
        assert_no_secret(body)
        assert status == 403, (route, status, body[:300])
        err = json.loads(body)
        assert words in err["error"] and err["field"] == "path", err
        assert path.split("/")[1] in err["error"], err  # the link is named


def test_meta_lists_escaping_links_as_forbidden(js):
    m = js.json("meta", file="abuse/links.h5", path="/")
    kids = {c["name"]: c for c in m["children"]}
    for name in ("abs", "rel", "hop", "symlinked", "prefixed", "cwd", "soft_to_abs", "grp_via", "devzero"):
        assert kids[name]["kind"] == "forbidden", kids[name]
        assert "outside the Jupyter root" in kids[name]["error"]
    # links that stay inside the root are followed as before
    assert kids["hop_ok"]["kind"] == "dataset" and kids["hop_ok"]["shape"] == [3]
    header, data, _ = js.array(file="abuse/links.h5", path="/hop_ok")
    np.testing.assert_array_equal(data, np.arange(3.0))
    # h5web's listing (h5grove meta): escaping links stay links, never followed
    status, body, _ = js.get_raw("daqlab/h5grove/meta", file="abuse/links.h5", path="/", timeout=10)
    assert status == 200, body[:300]
    assert_no_secret(body)
    kids = {c["name"]: c for c in json.loads(body)["children"]}
    for name in ("abs", "rel", "hop", "symlinked", "prefixed", "cwd", "devzero"):
        assert kids[name]["kind"] == "external_link", kids[name]
    assert kids["soft_to_abs"]["kind"] == "soft_link"
    assert kids["hop_ok"]["kind"] == "dataset" and kids["hop_ok"]["shape"] == [3]


@pytest.mark.parametrize("path", ["/abs", "/rel", "/nested", "/via_link"])
def test_virtual_dataset_sources_out_of_the_root_are_refused(js, path):
    for route, extra in (("h5", {}), ("h5", {"format": "json"}), ("h5", {"select": "1:3"}), ("h5grove", {}),
                         ("h5grove", {"selection": "1:3", "format": "bin", "dtype": "safe"})):
        status, body, _ = js.get_raw(f"daqlab/{route}/data", file="abuse/vds.h5", path=path, timeout=10, **extra)
        assert_no_secret(body)
        assert status == 403, (status, body[:300])
        err = json.loads(body)
        assert "outside the Jupyter root" in err["error"] and f"virtual dataset {path}" in err["error"], err
    m = js.json("meta", file="abuse/vds.h5", path=path)
    assert m["virtual"] is True and "forbidden" in m["vds"]["sources"][0]
    # a VDS over files inside the root still reads
    header, data, _ = js.array(file="abuse/vds.h5", path="/ok")
    np.testing.assert_array_equal(data, np.arange(3.0))


# ---- FIFOs, devices, folders; timeouts --------------------------------------------------


def test_links_to_fifos_and_folders_fail_at_once_and_others_are_served(js):
    """More FIFO requests than the server has reading threads, then a normal request: all
    answer within seconds (a FIFO opened by HDF5 would block its thread forever)."""
    bad = [("abuse/links.h5", "/fifo")] * 6 + [("abuse/vds.h5", "/fifo"), ("abuse/links.h5", "/dir")]
    warm_up(js, 4)
    t0 = time.monotonic()
    try:
        with ThreadPoolExecutor(len(bad)) as ex:
            futs = [ex.submit(js.get_raw, "daqlab/h5/data", file=f, path=p, timeout=8) for f, p in bad]
            time.sleep(0.3)
            status, body, _ = js.get_raw("daqlab/h5/meta", file="sub/plain.h5", path="/stack", timeout=8)
            assert status == 200, body[:300]
            results = [fut.result() for fut in futs]
    finally:
        unblock_fifos(js.root / "abuse")
    assert time.monotonic() - t0 < 8
    for (f, p), (status, body, _) in zip(bad, results):
        assert status == 403, (p, status, body[:300])
        assert "not a regular file" in json.loads(body)["error"], body[:300]


def test_slow_and_blocking_reads_time_out_and_others_are_served(tmp_path):
    """Reads HDF5 takes long over (a million chunks to visit) or blocks in (an unlimited VDS,
    whose sources HDF5 opens as soon as the dataset is opened, over a FIFO: no check can come
    first) are answered 504 after $DAQLAB_H5_TIMEOUT_S, and a normal request made meanwhile is
    served."""
    s = JupyterServer(tmp_path, extra_env={"DAQLAB_H5_TIMEOUT_S": "1"})
    try:
        with h5py.File(s.root / "slow.h5", "w") as f:  # 1.4 kB; a million chunks to visit: many seconds
            f.create_dataset("d", shape=(2**16, 2**16), dtype=np.uint8, chunks=(1, 1))
        with h5py.File(s.root / "src.h5", "w") as f:
            f.create_dataset("d", data=np.arange(4.0), maxshape=(None,))
        layout = h5py.VirtualLayout(shape=(4,), maxshape=(None,), dtype="f8")
        layout[:h5py.h5s.UNLIMITED] = h5py.VirtualSource("src.h5", "d", shape=(4,), maxshape=(None,))[:h5py.h5s.UNLIMITED]
        with h5py.File(s.root / "unlimited.h5", "w", libver="latest") as f:
            f.create_virtual_dataset("v", layout, fillvalue=-1)
        (s.root / "src.h5").unlink()
        os.mkfifo(s.root / "src.h5")
        warm_up(s, 3)
        with ThreadPoolExecutor(2) as ex:
            t0 = time.monotonic()
            slow = ex.submit(s.get_raw, "daqlab/h5/data", file="slow.h5", path="/d", select="0:512,0:2048",
                             timeout=15)
            blocked = ex.submit(s.get_raw, "daqlab/h5/meta", file="unlimited.h5", path="/", timeout=15)
            time.sleep(0.2)
            status, body, _ = s.get_raw("daqlab/h5/meta", file="sub/plain.h5", path="/stack", timeout=5)
            assert status == 200, body[:300]
            results = [slow.result(), blocked.result()]
            elapsed = time.monotonic() - t0
        for status, body, _ in results:
            assert status == 504, (status, body[:300])
            err = json.loads(body)
            assert err["field"] == "path" and "took longer than 1 s" in err["error"], err
        assert elapsed < 6
        # the reader that was stuck is replaced: the server still answers, also for that file
        status, body, _ = s.get_raw("daqlab/h5/meta", file="slow.h5", path="/d", timeout=10)
        assert status == 200 and json.loads(body)["shape"] == [2**16, 2**16]
    finally:
        unblock_fifos(s.root, "src.h5")
        s.stop()


# ---- bounded responses ------------------------------------------------------------------


def test_data_without_max_pixels_is_bounded(js):
    """400 MiB declared in a few kB: the answer is binned to the server's default, not 400 MiB."""
    assert (js.root / "abuse" / "declared.h5").stat().st_size < 2**20 + 330 * 2**20  # the bomb chunk included
    status, body, headers = js.get_raw("daqlab/h5/data", file="abuse/declared.h5", path="/frames", timeout=20)
    assert status == 200, body[:300]
    assert len(body) < 32 * 2**20
    header, data = decode(body)
    assert header["binning"] > 1 and np.all(data == 3)


def test_max_pixels_above_the_cap_is_refused(js):
    status, err = js.error("data", file="abuse/declared.h5", path="/frames", select="0", max_pixels=str(2**30))
    assert status == 400 and err["field"] == "max_pixels" and "more than" in err["error"], err


def test_json_values_are_bounded_in_bytes(js):
    status, body, _ = js.get_raw("daqlab/h5/data", file="abuse/declared.h5", path="/strings", format="json",
                                 timeout=20)
    assert status == 400, (status, len(body))
    err = json.loads(body)
    assert err["field"] == "select" and "bytes" in err["error"], err


def test_attributes_and_strings_are_bounded(js):
    full = {a["name"]: a for a in js.json("attrs", file="abuse/declared.h5", path="/attrs")["attrs"]}
    assert full["many"]["truncated"] is True and "value" not in full["many"] and full["many"]["shape"] == [200_000]
    m = {a["name"]: a for a in js.json("meta", file="abuse/declared.h5", path="/attrs")["attrs"]}
    assert len(m["long"]["value"]) < 5000 and m["long"]["value"].startswith("xxxx") and "cut" in m["long"]["value"]
    many = js.json("meta", file="abuse/declared.h5", path="/many_attrs")
    assert len(many["attrs"]) <= 1000 and many["attrs_truncated"] is True and many["attrs_count"] == 1200


def test_group_listing_is_bounded(js):
    m = js.json("meta", file="abuse/declared.h5", path="/many_children")
    assert m["truncated"] is True and len(m["children"]) == 5000 and m["count"] == 5100


def test_giant_chunks_are_not_decompressed(js):
    status, body, _ = js.get_raw("daqlab/h5/data", file="abuse/declared.h5", path="/bomb", select="0,0:4,0:4",
                                 timeout=20)
    assert status == 400, (status, body[:300])
    err = json.loads(body)
    assert err["field"] == "path" and "chunks of" in err["error"], err
