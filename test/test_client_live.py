"""The Python client end to end against a real daqlab server (fixtures in conftest.py)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import daqlab


def acquire(client, name="sim-camera", nb_frames=10, expo_time=0.01, **sections):
    acq = client.detector(name).prepare(acquisition={"nb_frames": nb_frames, "expo_time": expo_time}, **sections)
    acq.start()
    acq.wait(timeout=60, progress=False)
    return acq


# ------------------------------------------------------------------ connect
def test_connect_and_describe(client, server):
    assert client.server_info["server"] == "daqlab" and client.server_info["protocol"] == 1
    assert client.server_info["max_message_bytes"] == 8 * 1024 * 1024
    dets = client.detectors()
    assert {"sim-camera", "sim-eiger-500k", "sim-eiger-4m", "sim-jungfrau-4m"} <= set(dets)
    det = client.detector("sim-eiger-500k")
    assert det.shape == (514, 1030) and det.dtype == np.uint32
    assert {"model", "pixel_size", "trigger_modes", "max_frame_rate", "scenes"} <= set(det.info)
    assert det.state in ("IDLE", "STOPPED", "PREPARED", "FAULT")
    assert set(det.schema()["properties"]) == {"acquisition", "detector", "processing", "saving", "scan"}
    with pytest.raises(daqlab.NotFoundError, match="sim-eiger-500k"):
        client.detector("sim-nothing")
    assert server.url in repr(client)


def test_url_without_path_and_env(server, monkeypatch):
    monkeypatch.setenv("DAQLAB_URL", f"127.0.0.1:{server.port}")
    with daqlab.connect() as c:
        assert c.url == server.url and "sim-camera" in c.detectors()


def test_prepare_errors_name_every_field(client):
    with pytest.raises(daqlab.ParameterError) as e:
        client.detector("sim-eiger-500k").prepare(acquisition={"nb_frames": -5, "expo_time": "1ms", "colour": "red"},
                                                  detector={"scene": "moon"})
    fields = {f["field"] for f in e.value.fields}
    assert {"acquisition.nb_frames", "acquisition.expo_time", "acquisition.colour", "detector.scene"} <= fields
    for f in fields:
        assert f in str(e.value)


def test_acquire_wait_and_read(client):
    acq = acquire(client, "sim-eiger-500k", 50, 0.001, detector={"scene": "flat", "seed": 3},
                  scan={"name": "live", "proposal": "kb-live"})
    assert acq.state == "STOPPED"
    c = acq.counters
    assert c["nb_frames_acquired"] == 50 and c["nb_frames_transferred"] == [50] and c["nb_frames_invalid"] == 0
    scan = acq.scan
    assert scan.state == "CLOSED" and scan.identity["name"] == "live" and scan.identity["proposal"] == "kb-live"
    assert scan.info["end_reason"] == "completed"
    s = scan.streams["frame"]
    assert len(s) == 50 and s.sealed and s.dtype == np.uint32 and s.shape == (514, 1030)
    all_frames = s[:]
    assert all_frames.shape == (50, 514, 1030) and all_frames.flags.writeable
    np.testing.assert_array_equal(s[7], all_frames[7])
    np.testing.assert_array_equal(s[-1], all_frames[49])
    np.testing.assert_array_equal(s[-3], all_frames[47])
    np.testing.assert_array_equal(s[5:45:10], all_frames[5:45:10])
    np.testing.assert_array_equal(s[40:], all_frames[40:])
    np.testing.assert_array_equal(s[-8:-2:3], all_frames[-8:-2:3])
    np.testing.assert_array_equal(s[30:5:-7], all_frames[30:5:-7])  # negative steps: read forwards, reversed
    b = s.read_batch(10, 13)
    assert b.index.tolist() == [10, 11, 12] and b.valid.tolist() == [True] * 3
    assert s.valid(0)
    np.testing.assert_array_equal(s.latest(), all_frames[-1])
    # ROI and binning on the server
    roi = s.read(0, 3, roi=(10, 20, 100, 200))
    np.testing.assert_array_equal(roi, all_frames[0:3, 10:110, 20:220])
    binned = s.read(0, 2, roi=(0, 0, 100, 200), binning=2)
    ref = all_frames[0:2, :100, :200].astype(np.uint64).reshape(2, 50, 2, 100, 2).sum(axis=(2, 4))
    assert binned.shape == (2, 50, 100) and binned.dtype == np.uint32
    np.testing.assert_array_equal(binned, ref)
    assert s[1000:1010].shape == (0, 514, 1030)
    with pytest.raises(daqlab.IndexWontBeThereError):
        s[50]
    with pytest.raises(IndexError):
        s[60]


def test_wait_progress_bar(client, capsys):
    acq = client.detector("sim-camera").prepare(acquisition={"nb_frames": 12, "expo_time": 0.01})
    acq.start().wait(timeout=20)
    err = capsys.readouterr().err
    assert "12/12" in err and "fps=" in err and "dropped=0" in err


def test_states_stop_abort_trigger(client):
    det = client.detector("sim-camera")
    acq = det.prepare(acquisition={"nb_frames": 0, "expo_time": 0.01})
    assert acq.state == "PREPARED"
    with pytest.raises(daqlab.StateError):
        acq.stop()
    acq.start()
    time.sleep(0.1)
    status = acq.stop().status()
    assert status["state"] == "STOPPED" and acq.wait(progress=False)["state"] == "STOPPED"
    assert len(acq.scan.streams["frame"]) == acq.counters["nb_frames_acquired"]
    acq = det.prepare(acquisition={"nb_frames": 4, "expo_time": 0.01, "trigger_mode": "software",
                                   "nb_frames_per_trigger": 2})
    acq.start()
    acq.trigger()
    acq.trigger()
    assert acq.wait(timeout=10, progress=False)["counters"]["nb_frames_acquired"] == 4


def test_fault_and_reset(client):
    det = client.detector("sim-camera")
    acq = det.prepare(acquisition={"nb_frames": 50, "expo_time": 0.01}, detector={"fault_at_frame": 3})
    acq.start()
    with pytest.raises(daqlab.FaultError, match="fault") as e:
        acq.wait(timeout=20, progress=False)
    assert e.value.reason and acq.state == "FAULT"
    assert len(acq.scan.streams["frame"]) == 3
    assert det.reset() == "IDLE" and det.state == "IDLE"


def test_lost_frames_are_flagged_invalid(client):
    acq = acquire(client, "sim-eiger-500k", 12, 0.001, detector={"scene": "flat", "lost_frames": [2, 9]})
    assert acq.counters["nb_frames_invalid"] == 2
    s = acq.scan.streams["frame"]
    assert np.flatnonzero(~s.read_batch(0, 12).valid).tolist() == [2, 9]
    assert not s.valid(2) and s.valid(3)
    valid = [b.valid for b in s.cursor()]
    assert np.flatnonzero(~np.concatenate(valid)).tolist() == [2, 9]


def test_event_stream(client):
    acq = acquire(client, "sim-eiger-500k", 20, 0.001, detector={"scene": "serial_crystallography", "seed": 2,
                                                                 "hit_rate": 0.5})
    truth = acq.scan.streams["sim_truth"]
    assert truth.kind == "event" and truth.dtype is None
    events = truth[0:20]
    assert [e["frame_idx"] for e in events] == list(range(20))
    assert truth[3]["frame_idx"] == 3 and truth[-1]["frame_idx"] == 19
    followed = [e for b in truth.cursor() for e in b.data]
    assert followed == events
    assert list(truth)[5] == events[5]


def test_calibration_maps(client):
    maps = client.detector("sim-jungfrau-4m").calibration()
    assert maps and all(isinstance(v, np.ndarray) for v in maps.values())
    for name, m in maps.items():
        assert m.size > 0, name


# -------------------------------------------------------------- following
def test_lossless_cursor_during_acquisition(client):
    det = client.detector("sim-eiger-500k")
    acq = det.prepare(acquisition={"nb_frames": 400, "expo_time": 0.0005}, detector={"scene": "flat", "seed": 9})
    s = acq.scan.streams["frame"]
    seen, sums = [], {}

    def consume():
        with s.cursor(window=4) as cur:
            for batch in cur:
                seen.extend(batch.index.tolist())
                for i, f in zip(batch.index, batch.data):
                    if i % 97 == 0:
                        sums[int(i)] = int(f.sum(dtype=np.uint64))
                time.sleep(0.001)

    t = threading.Thread(target=consume)
    t.start()
    acq.start().wait(timeout=60, progress=False)
    t.join(60)
    assert not t.is_alive()
    assert seen == list(range(400))
    for i, v in sums.items():
        assert int(s[i].sum(dtype=np.uint64)) == v


def test_cursor_options(client):
    acq = acquire(client, "sim-camera", 30, 0.01)
    s = acq.scan.streams["frame"]
    idx = lambda cur: [int(i) for b in cur for i in b.index]  # noqa: E731
    assert idx(s.cursor(start=25)) == [25, 26, 27, 28, 29]
    assert idx(s.cursor(start=-4)) == [26, 27, 28, 29]
    assert idx(s.cursor(start=3, stop=7)) == [3, 4, 5, 6]
    assert idx(s.cursor(every=10)) == [0, 10, 20]
    with s.cursor(roi=(0, 0, 64, 32), binning=2) as cur:
        b = next(cur)
        assert b.data.shape[1:] == (32, 16) and cur.shape == (32, 16)
        np.testing.assert_array_equal(b.data[0], s.read(b.first, b.first + 1, roi=(0, 0, 64, 32), binning=2)[0])


def test_latest_cursor_skips_and_break_unsubscribes(client):
    det = client.detector("sim-eiger-500k")
    acq = det.prepare(acquisition={"nb_frames": 2000, "expo_time": 0.0005}, detector={"scene": "flat"})
    s = acq.scan.streams["frame"]
    got = []

    def viewer():
        for batch in s.cursor(mode="latest"):
            got.extend(batch.index.tolist())
            time.sleep(0.1)
            if len(got) >= 5:
                break

    t = threading.Thread(target=viewer)
    t.start()
    t0 = time.monotonic()
    acq.start().wait(timeout=30, progress=False)
    assert time.monotonic() - t0 < 5
    t.join(10)
    assert 1 <= len(got) <= 20 and got == sorted(got)
    assert client.detectors()  # the connection is healthy after the early break


def test_large_frames_in_several_parts(client):
    """sim-eiger-4m frames are 17.9 MB: every payload is cut into parts."""
    acq = acquire(client, "sim-eiger-4m", 6, 0.01, detector={"scene": "flat", "seed": 4})
    s = acq.scan.streams["frame"]
    assert s.shape == (2167, 2070)
    frames = [b for b in s.cursor()]
    assert sum(len(b) for b in frames) == 6
    for b in frames:
        for i, f in zip(b.index, b.data):
            np.testing.assert_array_equal(f, s[int(i)])
    assert s[0:6].shape == (6, 2167, 2070)


def test_blocking_get_on_a_growing_stream(client):
    acq = client.detector("sim-camera").prepare(acquisition={"nb_frames": 20, "expo_time": 0.02})
    s = acq.scan.streams["frame"]
    with pytest.raises(daqlab.IndexNotYetThereError):
        s[0]
    acq.start()
    assert s.get(5, block=True, timeout=10).shape == (1024, 1024)
    with pytest.raises(daqlab.IndexNotYetThereError):
        s[-1]
    acq.wait(timeout=20, progress=False)
    assert s[-1].shape == (1024, 1024)


def test_consumer_group(client, server):
    acq = acquire(client, "sim-camera", 24, 0.01)
    other = daqlab.connect(server.url)
    try:
        streams = {"a": acq.scan.streams["frame"], "b": other.scans.get(acq.scan.key).streams["frame"]}
        got: dict = {}

        def work(name):
            got[name] = [int(i) for b in streams[name].cursor(group="kb-workers", member=name) for i in b.index]

        ts = [threading.Thread(target=work, args=(k,)) for k in streams]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        assert not set(got["a"]) & set(got["b"])
        assert set(got["a"]) | set(got["b"]) == set(range(24))
    finally:
        other.close()


# -------------------------------------------------------------------- scans
def test_scans_discovery(client, server):
    client.scans.search(proposal="kb-disc")
    other = daqlab.connect(server.url)
    try:
        acq = other.detector("sim-camera").prepare(acquisition={"nb_frames": 1, "expo_time": 0.01},
                                                   scan={"proposal": "kb-disc", "name": "d1"})
    finally:
        other.close()
    scan = client.scans.wait_next(timeout=5)  # created before wait_next: not missed
    assert scan.key == acq.scan.key and scan.identity["name"] == "d1"
    assert client.scans.last().key == scan.key
    assert [s.key for s in client.scans.search(proposal="kb-disc")] == [scan.key]
    assert client.scans.get(scan.key).key == scan.key
    with pytest.raises(daqlab.TimeoutError):
        client.scans.wait_next(timeout=0.3)
    with pytest.raises(daqlab.NotFoundError):
        client.scans.get("no-such-scan")
    with pytest.raises(KeyError, match="frame"):
        scan.streams["nope"]


def test_trimming_gives_index_errors_and_gaps(make_server):
    srv = make_server("--memory-budget", "30M")
    with daqlab.connect(srv.url) as c:
        acq = acquire(c, "sim-eiger-500k", 60, 0.001, detector={"scene": "flat"})
        s = acq.scan.streams["frame"]
        assert s.first > 0
        with pytest.raises(daqlab.IndexNoMoreThereError):
            s[0]
        gaps, got = [], []
        with pytest.warns(daqlab.DataGapWarning):
            for b in s.cursor():
                got.extend(b.index.tolist())
        for b in s.cursor(on_gap=lambda a, z, why: gaps.append((a, z))):
            pass
        assert gaps and gaps[0][0] == 0 and got[-1] == 59
        with pytest.raises(daqlab.IndexNoMoreThereError):
            for _ in s.cursor(on_gap="raise"):
                pass


def test_server_going_away(make_server):
    srv = make_server()
    c = daqlab.connect(srv.url)
    errors = []

    def waiter():
        try:
            c.scans.wait_next()
        except ConnectionError as e:
            errors.append(e)

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.3)
    srv.stop()
    t.join(10)
    assert errors and "unreachable" in str(errors[0])
    with pytest.raises(ConnectionError, match="unreachable"):
        c.detectors()
    c.close()


def test_cursor_throughput_from_the_real_server(client, capsys):
    acq = acquire(client, "sim-eiger-500k", 500, 0.0002, detector={"scene": "flat", "pool_size": 16})
    s = acq.scan.streams["frame"]
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        n = sum(b.data.nbytes for b in s.cursor())
        best = max(best, n / (time.perf_counter() - t0) / 1e9)
    t0 = time.perf_counter()
    n = s[0:500].nbytes
    read = n / (time.perf_counter() - t0) / 1e9
    with capsys.disabled():
        print(f"\n  real server → numpy over loopback: cursor {best:.2f} GB/s, stream.read {read:.2f} GB/s")
    assert best > 0.2
