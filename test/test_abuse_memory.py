"""Resources a client can make the server spend: the store's memory budget holds across scans (items and
metadata), size parameters are bounded at prepare, and a client can only lower the server's limits."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

import daqlab
from conftest import wait_until

MiB = 1024 ** 2


def store_bytes(srv) -> int:
    return json.loads(srv.get("/status").read())["store"]["bytes"]


def test_the_memory_budget_holds_across_scans_and_old_scans_are_evicted(make_server, tmp_path):
    """Each 2-frame scan on sim-eiger-4m (18 MB frames) left its newest frame in memory for ever: store bytes
    grew by a frame per scan past any budget (4 scans fill 64 MB). Finished scans are now evicted whole, oldest
    first, every eviction is an event clients receive, and a scan that saved its frames stays readable."""
    budget = 64 * MiB
    srv = make_server("--memory-budget", "64M")
    c = daqlab.connect(srv.url)
    evicted = []
    c.on("store.evicted", evicted.append)
    try:
        det = c.detector("sim-eiger-4m")
        keys = []
        for i in range(6):
            saving = {"enabled": True, "base_path": str(tmp_path), "compression": "none"} if i == 0 else {"enabled": False}
            acq = det.prepare(acquisition={"nb_frames": 2, "expo_time": 0.002}, detector={"scene": "flat"},
                              processing={"pipeline": "legacy"}, saving=saving)
            acq.start()
            acq.wait(timeout=30, progress=False)
            keys.append(acq.scan.key)
            if i == 0:
                streamed = acq.scan.streams["frame"][:]
            held = store_bytes(srv)
            assert held <= budget, f"scan {i}: the store holds {held} bytes, over its budget of {budget}"
        assert wait_until(lambda: len(evicted) >= 2, timeout=5), evicted
        assert [e["key"] for e in evicted[:2]] == keys[:2], "oldest first"
        assert [e["files"] for e in evicted[:2]] == [True, False] and all(e["bytes"] > 0 and not e["dropped"] for e in evicted)
        assert "memory budget" in evicted[0]["reason"]
        assert "store evicted scan" in srv.log
        # evicted with its files: still listed, its frames read back from the files
        saved = c.scans.get(keys[0])
        assert saved.info["evicted"]["files"] is True
        np.testing.assert_array_equal(saved.streams["frame"][:], streamed)
        # evicted without files: still listed, says why; reading its frames says why they are gone
        lost = c.scans.get(keys[1])
        assert "memory budget" in lost.info["evicted"]["reason"], lost.info
        with pytest.raises(daqlab.IndexNoMoreThereError, match="evicted"):
            lost.streams["frame"][0]
        # the newest scan is whole
        assert c.scans.get(keys[-1]).streams["frame"][-1].shape == (2167, 2070)
        assert srv.alive()
    finally:
        c.close()


def test_scan_metadata_counts_against_the_budget_and_is_evicted(make_server):
    """Prepares carrying scan.info (the issue's 1 MB each; a client may now send at most 64 KiB): the store
    counted 0 bytes of metadata and kept every info for ever."""
    budget = 1 * MiB
    srv = make_server("--memory-budget", "1M")
    c = daqlab.connect(srv.url)
    try:
        det = c.detector("sim-camera")
        blob = "x" * 60_000  # under the 64 KiB a client's scan.info may have
        keys = []
        for i in range(40):
            acq = det.prepare(acquisition={"nb_frames": 1, "expo_time": 0.01}, scan={"info": {"blob": blob}})
            keys.append(acq.scan.key)
        held = store_bytes(srv)
        assert budget // 2 < held <= budget, f"the store counts {held} bytes for 40 scans of 60 kB of info (budget {budget})"
        # the oldest (re-prepare closed it) was evicted: listed, its info gone
        oldest = c.scans.get(keys[0])
        assert "blob" not in oldest.info and "evicted" in oldest.info
        assert c.scans.get(keys[-1]).info["blob"] == blob
        assert srv.alive()
    finally:
        c.close()


def test_tomo_memory_limit_is_a_ceiling_the_client_can_only_lower(client):
    """memory_limit=1e9 (MiB) lifted the server's own limit (half the machine memory): a reconstruction of
    ~155 GiB was accepted."""
    det = client.detector("sim-tomo-camera")
    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    need = 2048 * 7200 * 2049 * 4 + 2048 * 2048 * 2048 * 4  # sinogram + volume, at least
    assert need > total / 2, "this test needs a machine with less than 310 GB of memory"
    with pytest.raises(daqlab.ParameterError) as e:
        acq = det.prepare(acquisition={"nb_frames": 10, "expo_time": 0.001},
                          detector={"frame_shape": [2048, 2048], "tomo_projections": 7200},
                          processing={"pipeline": "tomo", "memory_limit": 1e9})
        acq.abort()
    fields = {f["field"]: f["message"] for f in e.value.fields}
    assert "processing.memory_limit" in fields, fields
    assert "the server's limit" in fields["processing.memory_limit"] and "cannot raise it" in fields["processing.memory_limit"]
    # lower than the server's limit: the client's limit rules
    with pytest.raises(daqlab.ParameterError) as e:
        det.prepare(acquisition={"nb_frames": 10, "expo_time": 0.001}, detector={"frame_shape": [64, 128]},
                    processing={"pipeline": "tomo", "memory_limit": 0.01})
    assert "raise memory_limit" in e.value.fields[0]["message"]


@pytest.mark.parametrize("processing", [
    {"pipeline": "azint", "npt": 100000},
    {"pipeline": "azint", "npt": 1000000},
    {"pipeline": "azint", "npt": 1 << 20, "npt_azim": 1 << 16},
])
def test_azint_sizes_beyond_memory_are_refused_at_prepare_naming_the_field(make_server, processing):
    """npt=100000 on sim-eiger-500k killed the process (V8 'invalid array size' growing the pixel → bin table
    element by element). Now the table is counted before it is built: a ParameterError names processing.npt
    (or, where memory allows, the prepare works) and the server stays up."""
    srv = make_server()
    c = daqlab.connect(srv.url)
    try:
        det = c.detector("sim-eiger-500k")
        try:
            acq = det.prepare(acquisition={"nb_frames": 1, "expo_time": 0.01}, processing=processing)
        except daqlab.ParameterError as e:
            fields = {f["field"]: f["message"] for f in e.fields}
            assert "processing.npt" in fields, fields
            assert "memory allows" in fields["processing.npt"], fields
            if "npt_azim" in processing:
                assert "processing.npt_azim" in fields, fields
        else:
            acq.start()
            acq.wait(timeout=60, progress=False)
            assert len(acq.scan.streams["intensity"]) == 1
        assert srv.alive(), srv.log[-2000:]
        # the server still serves, and a sensible integration works
        acq = det.prepare(acquisition={"nb_frames": 1, "expo_time": 0.01}, processing={"pipeline": "azint", "npt": 500})
        acq.start()
        acq.wait(timeout=30, progress=False)
        assert acq.scan.streams["intensity"][0].shape == (500,)
    finally:
        c.close()
