"""The HDF5 viewer's server extension (daqlab.h5server) in a real `jupyter server`: structure,
attributes, links of every kind followed, virtual datasets, NeXus default plots, hyperslabs
with binning/decimation, and bad requests answered with 400/403/404 naming the problem."""
from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import h5py
import numpy as np
import pytest

from conftest import ROOT, wait_until
from h5files import HUGE_SHAPE, stack_frame, write_all

KERNEL_BRIDGE = ROOT / "kernel-bridge"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterServer:
    """`jupyter server` with only our extension (besides the defaults) on a free port. Its
    working directory is not the root: VDS and external links must resolve relative to the file."""

    def __init__(self, tmp: Path, extra_env: dict[str, str] | None = None):
        self.root = tmp / "root"
        self.expected = write_all(self.root / "sub")
        (tmp / "outside.h5").write_bytes((self.root / "sub" / "external.h5").read_bytes())
        (self.root / "escape.h5").symlink_to(tmp / "outside.h5")
        env = dict(os.environ)
        for d in ("config", "data", "runtime", "cwd"):
            (tmp / d).mkdir(exist_ok=True)
        env.update(JUPYTER_CONFIG_DIR=str(tmp / "config"), JUPYTER_DATA_DIR=str(tmp / "data"),
                   JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), JUPYTER_PLATFORM_DIRS="1",
                   PYTHONPATH=os.pathsep.join([str(KERNEL_BRIDGE), env.get("PYTHONPATH", "")]).rstrip(os.pathsep))
        env.update(extra_env or {})
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.base = "/jl/"  # a base URL, as JupyterHub gives: routes must honour it
        self.log_path = tmp / "server.log"
        args = [sys.executable, "-m", "jupyter", "server", "--no-browser", "--ip", "127.0.0.1", "--port", str(self.port),
                f"--ServerApp.token={self.token}", f"--ServerApp.root_dir={self.root}",
                f"--ServerApp.base_url={self.base}",
                "--ServerApp.jpserver_extensions={'daqlab.h5server': True}"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.append("--allow-root")
        self.proc = subprocess.Popen(args, env=env, cwd=tmp / "cwd", stdout=open(self.log_path, "w"),
                                     stderr=subprocess.STDOUT)
        if not wait_until(self._ready, timeout=60, interval=0.2) or self.proc.poll() is not None:
            self.stop()
            raise RuntimeError("jupyter server did not start:\n" + self.log_path.read_text())

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            return True
        try:
            return self.get_raw("api/status")[0] == 200
        except OSError:
            return False

    def get_raw(self, route: str, token: str | None = "default", timeout: float = 30,
                **params) -> tuple[int, bytes, dict]:
        url = f"http://127.0.0.1:{self.port}{self.base}{route}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        req = urllib.request.Request(url)
        if token:
            req.add_header("Authorization", f"token {self.token if token == 'default' else token}")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read(), dict(e.headers)

    def json(self, endpoint: str, **params):
        status, body, _ = self.get_raw(f"daqlab/h5/{endpoint}", **params)
        assert status == 200, (status, body[:500])
        return json.loads(body)

    def error(self, endpoint: str, **params) -> tuple[int, dict]:
        status, body, _ = self.get_raw(f"daqlab/h5/{endpoint}", **params)
        return status, json.loads(body)

    def array(self, **params) -> tuple[dict, np.ndarray, int]:
        status, body, headers = self.get_raw("daqlab/h5/data", **params)
        assert status == 200, (status, body[:500])
        assert headers["Content-Type"] == "application/octet-stream"
        return (*decode(body), len(body))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def decode(body: bytes) -> tuple[dict, np.ndarray]:
    """The binary format: u32 LE header length, JSON header, payload 8-byte aligned."""
    n = int.from_bytes(body[:4], "little")
    header = json.loads(body[4:4 + n])
    assert (4 + n) % 8 == 0
    data = np.frombuffer(body[4 + n:], dtype=np.dtype(header["dtype"]).newbyteorder("<")).reshape(header["shape"])
    assert data.nbytes == header["nbytes"]
    return header, data


@pytest.fixture(scope="module")
def js(tmp_path_factory):
    s = JupyterServer(tmp_path_factory.mktemp("h5server"))
    yield s
    s.stop()


def test_extension_loaded_and_authenticated(js):
    assert "daqlab HDF5 viewer endpoints at /jl/daqlab/h5" in js.log_path.read_text()
    status, _, _ = js.get_raw("daqlab/h5/meta", token=None, file="sub/plain.h5")
    assert status == 403  # no token, no data
    status, _, _ = js.get_raw("daqlab/h5/meta", token="wrong", file="sub/plain.h5")
    assert status == 403


def test_meta_of_the_root_group_lists_children_links_followed(js):
    m = js.json("meta", file="sub/plain.h5", path="/")
    assert m["kind"] == "group" and m["path"] == "/"
    assert {"name": "creator", "dtype": "string", "shape": [], "value": "daqlab tests"} in m["attrs"]
    kids = {c["name"]: c for c in m["children"]}
    assert kids["stack"] == {"name": "stack", "link": "hard", "kind": "dataset", "shape": [6, 64, 80], "dtype": "uint16"}
    assert kids["group"]["kind"] == "group" and kids["group"]["nx_class"] == "NXcollection"
    assert kids["soft"] == {"name": "soft", "link": "soft", "target": "/group/inner", "kind": "dataset",
                            "shape": [5], "dtype": "int16"}
    assert kids["ext"] == {"name": "ext", "link": "external", "file": "external.h5", "target": "/target",
                           "kind": "dataset", "shape": [3, 4], "dtype": "float64"}
    assert kids["dangling"]["kind"] == "missing" and kids["dangling"]["link"] == "soft"
    assert kids["ext_missing"]["kind"] == "missing" and kids["ext_missing"]["link"] == "external"
    assert kids["huge"]["shape"] == list(HUGE_SHAPE)


def test_meta_of_a_dataset_and_attrs_in_full(js):
    m = js.json("meta", file="sub/plain.h5", path="/stack")
    assert m["kind"] == "dataset" and m["ndim"] == 3 and m["chunks"] == [1, 64, 80]
    assert "deflate" in m["filters"]
    assert m["nbytes"] == 6 * 64 * 80 * 2
    assert {"name": "units", "dtype": "string", "shape": [], "value": "counts"} in m["attrs"]
    # long attributes are summarised in meta, sent whole by attrs
    g = js.json("meta", file="sub/plain.h5", path="/group")
    long = next(a for a in g["attrs"] if a["name"] == "long_array")
    assert long["truncated"] and "value" not in long and long["shape"] == [1000]
    full = js.json("attrs", file="sub/plain.h5", path="/group")
    assert next(a for a in full["attrs"] if a["name"] == "long_array")["value"] == list(range(1000))


def test_external_link_followed(js):
    m = js.json("meta", file="sub/plain.h5", path="/ext")
    assert m["link"] == "external" and m["file"] == "external.h5" and m["shape"] == [3, 4]
    header, data, _ = js.array(file="sub/plain.h5", path="/ext")
    np.testing.assert_array_equal(data, np.arange(12).reshape(3, 4) * 1.5)
    status, err = js.error("data", file="sub/plain.h5", path="/ext_missing")
    assert status == 400 and err["field"] == "path"


def test_virtual_dataset_reported_and_read(js):
    m = js.json("meta", file="sub/vds.h5", path="/frames")
    assert m["virtual"] is True and m["vds"]["count"] == 2
    assert {s["file"] for s in m["vds"]["sources"]} == {"src0.h5", "src1.h5"}
    expected = js.expected["vds"]
    for k in (0, 3, 7):  # frames from both source files, the server's cwd is elsewhere
        header, frame, _ = js.array(file="sub/vds.h5", path="/frames", select=f"{k},:,:")
        assert header["shape"] == [32, 48] and header["select"] == f"{k},0:32,0:48"
        np.testing.assert_array_equal(frame, expected[k])


def test_slices_of_3d_and_4d(js):
    header, data, _ = js.array(file="sub/plain.h5", path="/stack", select="4")
    assert header["shape"] == [64, 80] and header["dtype"] == "uint16" and header["method"] == "none"
    np.testing.assert_array_equal(data, stack_frame(4))
    header, data, _ = js.array(file="sub/plain.h5", path="/stack", select="-1,10:20:2,::4")
    np.testing.assert_array_equal(data, stack_frame(5)[10:20:2, ::4])
    # a 1D profile along the stack axis
    header, data, _ = js.array(file="sub/plain.h5", path="/stack", select=":,3,7")
    np.testing.assert_array_equal(data, [stack_frame(k)[3, 7] for k in range(6)])
    cube = np.arange(2 * 3 * 8 * 10, dtype=np.float32).reshape(2, 3, 8, 10)
    header, data, _ = js.array(file="sub/plain.h5", path="/cube4d", select="1,2,:,:")
    np.testing.assert_array_equal(data, cube[1, 2])
    # 64-bit integers travel as float64 (no BigInt arrays in the browser), said in the header
    header, data, _ = js.array(file="sub/plain.h5", path="/big_ints")
    assert header["dtype"] == "float64" and header["source_dtype"] == "int64"
    np.testing.assert_array_equal(data, np.arange(10) * 2.0**40)


def test_json_values_for_scalars_and_strings(js):
    assert js.json("data", file="sub/plain.h5", path="/scalar", format="json")["value"] == 42.5
    assert js.json("data", file="sub/plain.h5", path="/text", format="json")["value"] == "hello"
    assert js.json("data", file="sub/plain.h5", path="/labels", format="json")["value"] == ["a", "bb", "ccc"]
    v = js.json("data", file="sub/plain.h5", path="/stack", format="json", select="0,0:2,0:3")
    assert v["value"] == stack_frame(0)[0:2, 0:3].tolist() and v["shape"] == [2, 3]
    status, err = js.error("data", file="sub/plain.h5", path="/stack", format="json")
    assert status == 400 and err["field"] == "select" and "at most" in err["error"]


def test_large_slice_is_binned_on_the_server(js):
    """A 4096×4096 uint32 frame of a 64 GB (logical) dataset, asked with max_pixels=512²:
    the response is a 512×512 float32 mean image, 1 MB — not the 64 MB frame, nor the file."""
    header, data, nbytes = js.array(file="sub/plain.h5", path="/huge", select="5", max_pixels=512 * 512)
    assert header["binning"] == 8 and header["method"] == "mean" and data.shape == (512, 512)
    assert header["selected_shape"] == [4096, 4096] and header["source_shape"] == list(HUGE_SHAPE)
    assert nbytes < 1.1 * 512 * 512 * 4
    assert nbytes < 4096 * 4096 * 4 / 60 and nbytes < np.prod(HUGE_SHAPE) * 4 / 60000
    np.testing.assert_array_equal(data[:256], 1000)  # the bright half, binned exactly
    np.testing.assert_array_equal(data[256:], 0)
    # an unwritten frame reads as the fill value
    header, data, _ = js.array(file="sub/plain.h5", path="/huge", select="0", max_pixels=64 * 64)
    assert header["binning"] == 64 and np.all(data == 7)


def test_nxdefault_follows_the_default_chain(js):
    d = js.json("nxdefault", file="sub/nexus.nxs")
    assert d["path"] == "/entry/plot"
    assert d["signal"] == {"name": "I", "path": "/entry/plot/I", "shape": [3, 100], "dtype": "float32",
                           "units": None, "long_name": None}
    assert d["axes"][0] is None
    assert d["axes"][1]["path"] == "/entry/plot/q" and d["axes"][1]["units"] == "1/nm"
    assert d["interpretation"] == "spectrum" and d["errors"] == "/entry/plot/I_errors"
    # no @default: the first NXdata of the entry
    assert js.json("nxdefault", file="sub/nexus.nxs", path="/entry2")["path"] == "/entry2/img"
    # a @default cycle ends without a plot, as does a file without NeXus classes
    assert js.json("nxdefault", file="sub/nexus.nxs", path="/loop") == {"path": None}
    assert js.json("nxdefault", file="sub/plain.h5") == {"path": None}


@pytest.mark.parametrize("params, status, field, words", [
    ({"file": "../outside.h5"}, 403, None, "outside the Jupyter root"),
    ({"file": "escape.h5"}, 403, None, "outside the Jupyter root"),  # a symlink out of the root
    ({"file": "/etc/passwd"}, 404, None, "does not exist"),  # absolute paths are taken under the root
    ({"file": "sub/none.h5"}, 404, None, "does not exist"),
    ({}, 400, None, "file: missing"),
    ({"file": "sub"}, 400, None, "is a directory"),
    ({"file": "sub/not_hdf5.h5"}, 400, "file", "not an HDF5 file"),
    ({"file": "sub/plain.h5", "path": "/nope"}, 400, "path", "does not exist"),
    ({"file": "sub/plain.h5", "path": "stack"}, 400, "path", "must be absolute"),
    ({"file": "sub/plain.h5", "path": "/group"}, 400, "path", "is a group"),
    ({"file": "sub/plain.h5", "path": "/stack", "select": "9"}, 400, "select", "index 9 is out of range for size 6"),
    ({"file": "sub/plain.h5", "path": "/stack", "select": "0,0,0,0"}, 400, "select", "4 dimensions given, the dataset has 3"),
    ({"file": "sub/plain.h5", "path": "/stack", "select": "0,x"}, 400, "select", "'x' is not an index"),
    ({"file": "sub/plain.h5", "path": "/stack", "select": "0,5:5"}, 400, "select", "selects nothing"),
    ({"file": "sub/plain.h5", "path": "/stack", "select": "0,::-1"}, 400, "select", "step must be positive"),
    ({"file": "sub/plain.h5", "path": "/stack", "max_pixels": "many"}, 400, "max_pixels", "not an integer"),
    ({"file": "sub/plain.h5", "path": "/stack", "max_pixels": "0"}, 400, "max_pixels", "positive"),
    ({"file": "sub/plain.h5", "path": "/stack", "format": "xml"}, 400, "format", "not one of bin, json"),
    ({"file": "sub/plain.h5", "path": "/text"}, 400, "path", "ask format=json"),
])
def test_bad_requests_are_refused_with_a_reason(js, params, status, field, words):
    got, err = js.error("data", **params)
    assert got == status, err
    assert words in err["error"], err
    if field:
        assert err["field"] == field
    # and the server keeps serving
    assert js.json("meta", file="sub/plain.h5", path="/scalar")["kind"] == "dataset"


def test_reader_decimates_a_slice_too_large_to_read(tmp_path, monkeypatch):
    """Above MAX_READ_BYTES the server reads every b-th row/column instead of the whole slice."""
    from daqlab.h5server import reader

    monkeypatch.setattr(reader, "MAX_READ_BYTES", 1000)
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["img"] = np.arange(100 * 90, dtype=np.float32).reshape(100, 90)
        header, data = reader.read_selection(f["img"], None, 25 * 25)
        assert header["method"] == "stride" and header["binning"] == 4
        np.testing.assert_array_equal(data, f["img"][::4, ::4])
        # the binned mean of a ragged edge averages only the pixels that are there
        monkeypatch.setattr(reader, "MAX_READ_BYTES", 2**30)
        header, data = reader.read_selection(f["img"], "0:5,0:5", 4)
        assert header["binning"] == 3 and data.shape == (2, 2)
        block = np.arange(100 * 90, dtype=np.float32).reshape(100, 90)[0:5, 0:5]
        np.testing.assert_allclose(data, [[block[:3, :3].mean(), block[:3, 3:].mean()],
                                          [block[3:, :3].mean(), block[3:, 3:].mean()]])


# ---- the h5grove API that h5web reads (daqlab/h5grove/*) ----------------------------------


def grove(js, endpoint: str, **params) -> tuple[int, bytes, dict]:
    return js.get_raw(f"daqlab/h5grove/{endpoint}", **params)


def grove_json(js, endpoint: str, **params):
    status, body, headers = grove(js, endpoint, **params)
    assert status == 200, (status, body[:500])
    assert headers["Content-Type"] == "application/json"
    return json.loads(body)


def test_grove_meta_of_groups_and_datasets(js):
    assert "daqlab HDF5 viewer endpoints" in js.log_path.read_text()
    assert grove(js, "meta", token=None, file="sub/plain.h5", path="/")[0] == 403  # authenticated as the rest
    root = grove_json(js, "meta", file="sub/plain.h5", path="/")
    assert root["kind"] == "group" and root["name"] == ""
    assert [a["name"] for a in root["attributes"]] == ["creator"]
    kids = {c["name"]: c for c in root["children"]}
    stack = kids["stack"]
    assert stack["kind"] == "dataset" and stack["shape"] == [6, 64, 80] and stack["type"]["dtype"] == "<u2"
    assert stack["filters"][0]["name"] == "deflate" and stack["chunks"] == [1, 64, 80]
    assert kids["soft"]["kind"] == "dataset" and kids["soft"]["shape"] == [5]  # a valid soft link: resolved
    assert kids["ext"]["kind"] == "dataset" and kids["ext"]["shape"] == [3, 4]  # external, inside the root
    assert kids["dangling"] == {"kind": "soft_link", "name": "dangling", "target_path": "/nowhere"}
    assert kids["ext_missing"]["kind"] == "external_link" and kids["ext_missing"]["target_file"] == "not_there.h5"
    ds = grove_json(js, "meta", file="sub/plain.h5", path="/stack")
    assert ds["kind"] == "dataset" and {a["name"] for a in ds["attributes"]} == {"units", "long_name"}
    attrs = grove_json(js, "attr", file="sub/plain.h5", path="/stack")
    assert attrs == {"units": "counts", "long_name": "a 3D stack"}
    assert grove_json(js, "attr", file="sub/plain.h5", path="/stack", attr_keys="units") == {"units": "counts"}
    paths = grove_json(js, "paths", file="sub/plain.h5", path="/")
    assert "/group/inner" in paths and "/stack" in paths and paths[0] == "/"


def test_grove_data_as_h5web_asks(js):
    # numbers: binary, `dtype=safe` (float16/int64 → a typed array type), a slice of a 3D stack
    status, body, headers = grove(js, "data", file="sub/plain.h5", path="/stack", selection="2,:,:", format="bin",
                                  dtype="safe")
    assert status == 200 and headers["Content-Type"] == "application/octet-stream"
    np.testing.assert_array_equal(np.frombuffer(body, "<u2").reshape(64, 80), stack_frame(2))
    # strings, scalars and the rest: JSON
    assert grove_json(js, "data", file="sub/plain.h5", path="/text") == "hello"
    long = grove_json(js, "data", file="sub/plain.h5", path="/long_text")  # cut, and says so
    assert long.startswith("x" * 4096) and "[cut: longer than 4096 characters]" in long and len(long) < 4200
    assert grove_json(js, "data", file="sub/plain.h5", path="/scalar") == 42.5
    assert grove_json(js, "data", file="sub/plain.h5", path="/labels", flatten="true") == ["a", "bb", "ccc"]
    # a VDS over two files, read through the checked sources
    status, body, _ = grove(js, "data", file="sub/vds.h5", path="/frames", selection="3", format="bin", dtype="safe")
    assert status == 200
    np.testing.assert_array_equal(np.frombuffer(body, "<f4").reshape(32, 48), js.expected["vds"][3])
    # tiff/npy export (h5web's export menu)
    status, body, headers = grove(js, "data", file="sub/plain.h5", path="/line", format="npy")
    assert status == 200 and body[:6] == b"\x93NUMPY" and "data.npy" in headers["Content-Disposition"]


def test_grove_bad_requests_name_the_field(js):
    cases = [
        (dict(file="sub/plain.h5", path="/stack", selection="9,:,:"), 400, "selection"),
        (dict(file="sub/plain.h5", path="/stack", selection="a:b"), 400, "selection"),
        (dict(file="sub/plain.h5", path="/stack", selection="0,0,0,0"), 400, "selection"),
        (dict(file="sub/plain.h5", path="/stack", format="xml"), 400, "format"),
        (dict(file="sub/plain.h5", path="/text", dtype="safe"), 400, "dtype"),
        (dict(file="sub/plain.h5", path="/group"), 400, "path"),
        (dict(file="sub/plain.h5", path="/text", format="bin"), 400, "format"),  # no pointers sent as bytes
        (dict(file="sub/plain.h5", path="/huge", selection="5", format="json"), 400, "selection"),  # 16 M values as text
        (dict(file="sub/plain.h5", path="/nowhere"), 400, "path"),
    ]
    for params, status, field in cases:
        got, body, _ = grove(js, "data", **params)
        err = json.loads(body)
        assert got == status and err.get("field") == field, (params, got, err)
        assert err["message"] == err["error"] and field in err["message"]  # h5web shows `message`
    # the whole 64 GB dataset in one answer: refused before anything is read
    got, body, _ = grove(js, "data", file="sub/plain.h5", path="/huge", timeout=10)
    assert got == 400 and json.loads(body)["field"] == "selection" and len(body) < 1000
    # one frame of it is served (4096² uint32, 64 MiB of fill value and one written frame)
    got, body, _ = grove(js, "data", file="sub/plain.h5", path="/huge", selection="5", format="bin", timeout=60)
    assert got == 200 and len(body) == 4 * 4096 * 4096


def test_grove_files_confined_to_the_root(js):
    for endpoint in ("meta", "attr", "data", "paths"):
        for file, status in (("../outside.h5", 403), ("escape.h5", 403), ("/etc/passwd", 404), ("sub", 400)):
            got, body, _ = grove(js, endpoint, file=file, path="/")
            assert got == status, (endpoint, file, got, body[:300])
            assert "file" in json.loads(body)["message"]


def test_grove_reads_a_file_being_written(js):
    """Files held open for writing are read as far as they were flushed: one by a plain writer
    (HDF5 file lock held), one by a SWMR writer (superblock marked open for write)."""
    for name, swmr in (("writing.h5", False), ("writing_swmr.h5", True)):
        with h5py.File(js.root / "sub" / name, "w", libver="latest" if swmr else None) as f:
            ds = f.create_dataset("frames", shape=(0, 4, 4), maxshape=(None, 4, 4), dtype=np.float32, chunks=(1, 4, 4))
            if swmr:
                f.swmr_mode = True
            for k in range(3):
                ds.resize(k + 1, axis=0)
                ds[k] = k
                f.flush()
                meta = grove_json(js, "meta", file=f"sub/{name}", path="/frames")
                assert meta["shape"] == [k + 1, 4, 4], name
                status, body, _ = grove(js, "data", file=f"sub/{name}", path="/frames", selection=str(k), format="bin",
                                        dtype="safe")
                assert status == 200 and np.frombuffer(body, "<f4").tolist() == [float(k)] * 16, (name, body[:300])


def test_grove_on_a_daqlab_master_while_written_and_after(js, client):
    """What h5web reads of a scan the daqlab server saves under the Jupyter root: while it runs, the
    master written so far and its frames (data files still being written); once done, the default
    plot's NXdata with pixel axes and units, roi_stats as named columns equal to the live stream."""
    acq = client.detector("sim-eiger-500k").prepare(
        acquisition={"nb_frames": 100000, "expo_time": 0.005},
        detector={"scene": "flat", "seed": 11, "pool_size": 7},
        processing={"pipeline": "legacy", "rois": [{"name": "a", "roi": [0, 0, 10, 10]}]},
        saving={"enabled": True, "base_path": str(js.root / "daq"), "nb_frames_per_file": 50, "flush_interval": 0.2},
        scan={"name": "grove"})
    acq.start()
    try:
        master = f"daq/{acq.scan.files[0].rsplit('/', 1)[1]}"

        def frames_so_far() -> int:
            status, body, _ = grove(js, "meta", file=master, path="/entry/instrument/detector/data", timeout=10)
            return json.loads(body)["shape"][0] if status == 200 else 0

        assert wait_until(lambda: frames_so_far() > 0, timeout=30), "no frames in the master while the scan runs"
        assert acq.state == "RUNNING"
        status, body, _ = grove(js, "data", file=master, path="/entry/instrument/detector/data", selection="0",
                                format="bin", dtype="safe", timeout=20)
        assert status == 200 and len(body) % (514 * 1030) == 0, (status, body[:300])
        end = grove_json(js, "data", file=master, path="/entry/end_reason")
        assert end.startswith("running"), end
    finally:
        acq.stop()
        acq.wait(timeout=60, progress=False)
    n = len(acq.scan.streams["frame"])

    root = grove_json(js, "attr", file=master, path="/")
    assert root["default"] == "entry" and grove_json(js, "attr", file=master, path="/entry")["default"] == "data"
    plot = grove_json(js, "attr", file=master, path="/entry/data")
    assert plot["signal"] == "data" and plot["axes"] == [".", "y", "x"], plot
    x = grove_json(js, "meta", file=master, path="/entry/data/x")
    assert x["shape"] == [1030] and [a["name"] for a in x["attributes"]] == ["units"]
    assert grove_json(js, "attr", file=master, path="/entry/data/x") == {"units": "pixel"}

    rs = grove_json(js, "attr", file=master, path="/entry/roi_stats")
    assert rs["NX_class"] == "NXdata" and rs["signal"] == "a_sum" and rs["axes"] == ["index"]
    assert rs["auxiliary_signals"] == ["a_mean", "a_std", "a_min", "a_max"]
    kids = {c["name"] for c in grove_json(js, "meta", file=master, path="/entry/roi_stats")["children"]}
    assert kids == {"index", "a_sum", "a_mean", "a_std", "a_min", "a_max"}
    live = acq.scan.streams["roi_stats"][:]
    status, body, _ = grove(js, "data", file=master, path="/entry/roi_stats/a_mean", format="bin", dtype="safe")
    assert status == 200
    np.testing.assert_allclose(np.frombuffer(body, "<f8"), live[:, 0, 1])
    assert len(live) == n
    assert grove_json(js, "attr", file=master, path="/entry/process/results/roi_stats")["columns"] == "sum,mean,std,min,max"
