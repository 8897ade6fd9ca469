"""The client stack (connection, detector, acquisition, scans, streams, cursors)
against the fake daqlab server in tests/fakeserver.py."""

from __future__ import annotations

import gc
import threading
import time
import warnings

import numpy as np
import pytest

import daqlab
from daqlab import _connection
from daqlab.client import resolve_url
from fakeserver import FakeDaqlab, FakeStream


@pytest.fixture
def fake():
    srv = FakeDaqlab()
    yield srv
    srv.stop()


@pytest.fixture
def client(fake):
    c = daqlab.connect(fake.url, timeout=5)
    yield c
    c.close()


def wait_until(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.01)
    return False


def frame_scan(fake, n=20, sealed=True, shape=(8, 16), dtype="uint16"):
    scan = fake.add_scan({"name": "s", "proposal": "p1"})
    s = FakeStream("frame", "array", dtype, shape)
    scan.streams["frame"] = s
    ev = FakeStream("events", "event")
    scan.streams["events"] = ev
    fake.append(s, [np.full(shape, i, dtype=dtype) for i in range(n)], valid=[i % 7 != 3 for i in range(n)])
    fake.append(ev, [{"i": i} for i in range(n)])
    if sealed:
        fake.seal(s)
        fake.seal(ev)
        scan.state = "CLOSED"
    return scan, s


# ----------------------------------------------------------------- connecting
def test_resolve_url(monkeypatch):
    monkeypatch.delenv("DAQLAB_URL", raising=False)
    monkeypatch.delenv("DAQLAB_TOKEN", raising=False)
    assert resolve_url() == ("ws://127.0.0.1:8765/ws", "ws://127.0.0.1:8765/ws", None)
    assert resolve_url("ws://h:1") == ("ws://h:1/ws", "ws://h:1/ws", None)
    assert resolve_url("h:1/custom") == ("ws://h:1/custom", "ws://h:1/custom", None)
    # the token never stays in the URL (proxies log URLs): it travels in the Authorization header
    assert resolve_url("http://h:1/", "t") == ("ws://h:1/ws", "ws://h:1/ws", "t")
    assert resolve_url("ws://h:1/ws?token=abc&x=1") == ("ws://h:1/ws?x=1", "ws://h:1/ws?x=1", "abc")
    monkeypatch.setenv("DAQLAB_URL", "ws://env:9")
    monkeypatch.setenv("DAQLAB_TOKEN", "tok en")
    assert resolve_url() == ("ws://env:9/ws", "ws://env:9/ws", "tok en")


def test_connect_hello_and_detectors(client, fake):
    assert client.server_info["server"] == "daqlab"
    assert client.detectors() == ["fake-det"]
    det = client.detector("fake-det")
    assert det.info["shape"] == [8, 16] and det.shape == (8, 16) and det.dtype == np.uint16
    assert "fake-det" in repr(det) and "connected" in repr(client)
    with pytest.raises(daqlab.NotFoundError, match="known: fake-det"):
        client.detector("nope")


def test_connect_uses_env_and_sends_the_token_in_the_header_only(monkeypatch):
    srv = FakeDaqlab(token="s3cret")
    try:
        monkeypatch.setenv("DAQLAB_URL", srv.url.removesuffix("/ws"))
        monkeypatch.setenv("DAQLAB_TOKEN", "s3cret")
        with daqlab.connect() as c:
            assert c.detectors() == ["fake-det"]
        line, headers = srv.ws.requests[-1]
        assert "s3cret" not in line and headers["authorization"] == "token s3cret"
        with pytest.raises(daqlab.AuthError, match="refused the token"):
            daqlab.connect(srv.url, token="wrong")
        monkeypatch.delenv("DAQLAB_TOKEN")
        with pytest.raises(daqlab.AuthError, match="none given"):
            daqlab.connect(srv.url)
    finally:
        srv.stop()


def test_unreachable_server_says_so():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(ConnectionError, match="unreachable"):
        daqlab.connect(f"ws://127.0.0.1:{port}", timeout=2)


# ------------------------------------------------------------------- requests
def test_replies_are_matched_by_id_even_out_of_order(client, fake):
    fake.delay["detectors.list"] = 0.5
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("dets", client.detectors()))
    t.start()
    time.sleep(0.05)
    t0 = time.monotonic()
    assert client.detector("fake-det").state == "IDLE"  # answered before the slow one
    assert time.monotonic() - t0 < 0.4
    t.join(5)
    assert out["dets"] == ["fake-det"]


def test_a_request_timeout_is_a_timeout_error(fake):
    fake.delay["detectors.list"] = 2
    c = daqlab.connect(fake.url, timeout=0.3)
    try:
        with pytest.raises(daqlab.TimeoutError, match="detectors.list"):
            c.detectors()
        assert isinstance(daqlab.TimeoutError("x"), TimeoutError)
        assert c.call("hello")["server"] == "daqlab"  # the connection is still fine
    finally:
        c.close()


def test_server_errors_are_typed(client):
    with pytest.raises(daqlab.ProtocolError, match="unknown op"):
        client.call("launch.missiles")


def test_numpy_values_in_params_are_sent_as_json(client, fake):
    det = client.detector("fake-det")
    acq = det.prepare(acquisition={"nb_frames": np.int64(3), "expo_time": np.float32(0.001)})
    assert acq.nb_frames == 3
    assert fake.requests[-1]["params"]["acquisition"]["nb_frames"] == 3


def test_when_the_server_dies_pending_calls_fail_clearly_and_connect_reconnects(fake):
    c = daqlab.connect(fake.url, timeout=5)
    fake.delay["scans.wait_next"] = 0
    scan, _ = frame_scan(fake, 4)
    errors = []

    def waiter():
        try:
            c.scans.wait_next(timeout=None)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    c.scans.search()
    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.2)
    url = fake.url
    port = fake.ws.port
    fake.stop()
    t.join(5)
    assert not t.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], ConnectionError)
    assert "unreachable" in str(errors[0]) and url in str(errors[0])
    with pytest.raises(ConnectionError, match="unreachable"):
        c.detectors()  # tries to reconnect, the server is still gone
    # a new server on the same port: the next call reconnects
    srv2 = FakeDaqlab()
    try:
        c2 = daqlab.connect(srv2.url)
        assert c2.detectors() == ["fake-det"]
        c2.close()
    finally:
        srv2.stop()
    c.close()
    with pytest.raises(ConnectionError, match="closed"):
        c.detectors()
    del port


def test_reconnect_after_connection_loss(fake):
    c = daqlab.connect(fake.url, timeout=5)
    fake.peers[0].drop()
    assert wait_until(lambda: not c.connection._dead is None if False else not c._conn.alive)
    assert c.detectors() == ["fake-det"]  # reconnected transparently
    assert len(fake.ws.requests) == 2
    c.close()


# --------------------------------------------------------------- acquisitions
def test_prepare_sends_the_sections_given(client, fake):
    det = client.detector("fake-det")
    acq = det.prepare(acquisition={"nb_frames": 5, "expo_time": 0.001}, scan={"name": "x", "proposal": "p"})
    req = fake.requests[-1]
    assert req["op"] == "acq.prepare" and req["detector"] == "fake-det"
    assert set(req["params"]) == {"acquisition", "scan"}
    assert acq.state == "PREPARED" and det.state == "PREPARED"
    assert acq.scan.identity["name"] == "x"
    assert set(acq.counters) == {"nb_frames_acquired", "nb_frames_transferred", "nb_frames_processed",
                                 "nb_frames_saved", "nb_frames_dropped", "nb_frames_invalid"}


def test_parameter_errors_list_every_field(client):
    with pytest.raises(daqlab.ParameterError) as e:
        client.detector("fake-det").prepare(acquisition={"nb_frames": -1, "expo_time": "1ms", "colour": "red"})
    assert {f["field"] for f in e.value.fields} == {"acquisition.nb_frames", "acquisition.expo_time", "acquisition.colour"}
    assert "acquisition.colour" in str(e.value)


def test_start_wait_and_read(client, fake):
    det = client.detector("fake-det")
    acq = det.prepare(acquisition={"nb_frames": 30})
    with pytest.raises(daqlab.StateError, match="not started"):
        acq.wait(progress=False)
    status = acq.start().wait(timeout=10, progress=False)
    assert status["state"] == "STOPPED" and status["counters"]["nb_frames_acquired"] == 30
    assert acq.state == "STOPPED"
    frames = acq.scan.streams["frame"]
    assert len(frames) == 30 and frames.sealed
    assert acq.scan.state == "CLOSED" and acq.scan.info["end_reason"] == "completed"
    np.testing.assert_array_equal(frames[7], np.full((8, 16), 7, np.uint16))
    assert "STOPPED" in repr(acq)


def test_wait_falls_back_to_polling_without_events(fake):
    fake.events = False
    c = daqlab.connect(fake.url)
    try:
        acq = c.detector("fake-det").prepare(acquisition={"nb_frames": 20})
        t0 = time.monotonic()
        acq.start().wait(timeout=10, progress=False)
        assert acq.counters["nb_frames_acquired"] == 20
        assert time.monotonic() - t0 < 3
    finally:
        c.close()


def test_wait_raises_fault_error_with_the_reason(client):
    det = client.detector("fake-det")
    acq = det.prepare(acquisition={"nb_frames": 50}, detector={"fault_at_frame": 5})
    acq.start()
    with pytest.raises(daqlab.FaultError, match="simulated detector fault at frame 5") as e:
        acq.wait(timeout=10, progress=False)
    assert e.value.reason == "simulated detector fault at frame 5"
    assert det.reset() == "IDLE"


def test_wait_timeout(client, fake):
    fake.frame_period = 0.05
    acq = client.detector("fake-det").prepare(acquisition={"nb_frames": 1000}).start()
    with pytest.raises(daqlab.TimeoutError, match="still RUNNING"):
        acq.wait(timeout=0.3, progress=False)
    acq.stop()
    assert acq.state == "STOPPED"


def test_wait_progress_bar_in_a_terminal(client, capsys):
    acq = client.detector("fake-det").prepare(acquisition={"nb_frames": 10}).start()
    acq.wait(timeout=10)
    err = capsys.readouterr().err
    assert "10/10" in err and "fps" in err and "invalid=0" in err and "dropped=0" in err


def test_wait_progress_bar_until_stopped(client, capsys, fake):
    acq = client.detector("fake-det").prepare(acquisition={"nb_frames": 0}).start()
    stopper = threading.Timer(0.3, acq.stop)
    stopper.start()
    acq.wait(timeout=10)
    stopper.join()
    err = capsys.readouterr().err
    last = err.replace("\r", "\n").strip().splitlines()[-1]
    # a count, no total, and said to be continuous
    assert "frames, continuous until stop() [" in last and "/" not in last.split(" [")[0]


def test_calibration_maps(client):
    maps = client.detector("fake-det").calibration(gain_mode="dynamic")
    assert set(maps) == {"pedestal", "gain"}
    assert maps["pedestal"].shape == (3, 8, 16) and maps["pedestal"].dtype == np.float32
    assert maps["pedestal"][2, 7, 15] == 3 * 8 * 16 - 1
    assert np.all(maps["gain"] == 2.5)


def test_events_reach_handlers(client, fake):
    got = []
    remove = client.on("scan.new", got.append)
    frame_scan(fake, 1)
    assert wait_until(lambda: got)
    assert got[0]["scan"]["identity"]["proposal"] == "p1"
    remove()
    frame_scan(fake, 1)
    time.sleep(0.2)
    assert len(got) == 1


# ---------------------------------------------------------------------- scans
def test_scans_last_get_search(client, fake):
    assert client.scans.last() is None
    a, _ = frame_scan(fake, 2)
    b = fake.add_scan({"name": "other", "proposal": "p2"})
    assert client.scans.last().key == b.key
    found = client.scans.search(proposal="p1")
    assert [s.key for s in found] == [a.key]
    assert client.scans.seq == b.seq
    with pytest.raises(TypeError, match="colour"):
        client.scans.search(colour="red")
    scan = client.scans.get(a.key)
    assert scan.identity["name"] == "s" and scan.name == "s" and scan.seq == a.seq
    assert set(scan.streams) == {"frame", "events"}
    assert a.key in repr(scan)
    with pytest.raises(daqlab.NotFoundError):
        client.scans.get("nope")


def test_wait_next_does_not_miss_a_scan_created_after_search(client, fake):
    client.scans.search(proposal="none")
    created = fake.add_scan({"name": "between"})  # before wait_next is called
    later = fake.add_scan({"name": "later"})
    assert client.scans.wait_next(timeout=2).key == created.key
    assert client.scans.wait_next(timeout=2).key == later.key
    with pytest.raises(daqlab.TimeoutError):
        client.scans.wait_next(timeout=0.2)


def test_wait_next_without_search_waits_for_a_new_scan(client, fake):
    fake.add_scan({"name": "old"})
    threading.Timer(0.2, lambda: fake.add_scan({"name": "new"})).start()
    assert client.scans.wait_next(timeout=5).name == "new"


def test_streams_mapping_refreshes_and_names_the_available(client, fake):
    scan = fake.add_scan({"name": "growing"})
    sc = client.scans.get(scan.key)
    assert list(sc.streams) == []
    scan.streams["late"] = FakeStream("late", "event")
    assert "late" in sc.streams
    with pytest.raises(KeyError, match="available: late"):
        sc.streams["nope"]
    assert sc["late"].kind == "event"


# -------------------------------------------------------------------- streams
def test_indexing_and_slicing(client, fake):
    scan, _ = frame_scan(fake, 20)
    s = client.scans.get(scan.key).streams["frame"]
    assert len(s) == 20 and s.dtype == np.uint16 and s.shape == (8, 16) and s.sealed
    assert s[0].shape == (8, 16) and s[5][0, 0] == 5
    assert s[-1][0, 0] == 19 and s[-2][0, 0] == 18
    block = s[2:12]
    assert block.shape == (10, 8, 16) and block[:, 0, 0].tolist() == list(range(2, 12))
    assert s[0:20:5][:, 0, 0].tolist() == [0, 5, 10, 15]
    assert s[:][:, 0, 0].tolist() == list(range(20))
    assert s[::-1][:, 0, 0].tolist() == list(range(20))[::-1]
    assert s[15:2:-4][:, 0, 0].tolist() == [15, 11, 7, 3]
    assert s.read_batch(10, 0, -3).index.tolist() == [10, 7, 4, 1]
    assert s[2:15:-1].shape == (0, 8, 16)
    assert s[18:100].shape == (2, 8, 16)
    assert s[30:40].shape == (0, 8, 16)
    b = s.read_batch(0, 8)
    assert b.index.tolist() == list(range(8)) and b.valid.tolist() == [i % 7 != 3 for i in range(8)]
    assert not s.valid(3) and s.valid(4)
    assert s.latest()[0, 0] == 19
    with pytest.raises(daqlab.IndexWontBeThereError):
        s[20]
    with pytest.raises(IndexError):
        s[25]
    ev = client.scans.get(scan.key).streams["events"]
    assert ev[3] == {"i": 3} and ev[0:3] == [{"i": 0}, {"i": 1}, {"i": 2}] and ev.dtype is None


def test_reading_a_growing_stream(client, fake):
    scan, fs = frame_scan(fake, 3, sealed=False)
    s = client.scans.get(scan.key).streams["frame"]
    with pytest.raises(daqlab.IndexNotYetThereError):
        s[-1]
    with pytest.raises(daqlab.IndexNotYetThereError):
        s[3]
    threading.Timer(0.2, lambda: fake.append(fs, [np.full((8, 16), 3, np.uint16)])).start()
    assert s.get(3, block=True, timeout=5)[0, 0] == 3


def test_trimmed_items(client, fake):
    scan, fs = frame_scan(fake, 10)
    fake.trim(fs, 4)
    s = client.scans.get(scan.key).streams["frame"]
    with pytest.raises(daqlab.IndexNoMoreThereError):
        s[2]
    assert s.first == 4


@pytest.mark.parametrize("fragment", [0, 100_000, 3_000_000])
def test_large_reads_are_reassembled_from_parts(fake, fragment):
    fake.max_message_bytes = 1024 * 1024  # force every payload into several parts
    fake.batch_items = 3
    fake.fragment = fragment  # whole frames, or a prefix frame then continuation frames (as the Node server)
    c = daqlab.connect(fake.url)
    try:
        scan, fs = frame_scan(fake, 10, shape=(514, 1030), dtype="uint32")
        s = c.scans.get(scan.key).streams["frame"]
        data = s[0:10]  # 4 messages of 3 items, each ~6.4 MB cut into 7 parts
        assert data.shape == (10, 514, 1030) and data.dtype == np.uint32
        assert data[:, 100, 100].tolist() == list(range(10))
        one = s[9]
        assert one.flags.writeable and one[513, 1029] == 9
    finally:
        c.close()


def test_parts_of_two_payloads_interleaved_by_subscription_are_not_mixed(fake):
    fake.max_message_bytes = 256 * 1024
    c = daqlab.connect(fake.url)
    try:
        scan, fs = frame_scan(fake, 12, shape=(256, 256), dtype="uint16")
        s = c.scans.get(scan.key).streams["frame"]
        results = {}

        def follow(name):
            results[name] = [b.data[:, 0, 0].tolist() for b in s.cursor()]

        ts = [threading.Thread(target=follow, args=(k,)) for k in "ab"]
        for t in ts:
            t.start()
        for t in ts:
            t.join(10)
        for k in "ab":
            assert sum(results[k], []) == list(range(12))
    finally:
        c.close()


# ------------------------------------------------------------------- cursors
def test_cursor_follows_a_growing_stream_until_sealed(client, fake):
    scan, fs = frame_scan(fake, 0, sealed=False)
    s = client.scans.get(scan.key).streams["frame"]

    def produce():
        for i in range(50):
            fake.append(fs, [np.full((8, 16), i, np.uint16)])
            time.sleep(0.002)
        fake.seal(fs)

    threading.Thread(target=produce).start()
    seen = []
    with s.cursor() as cur:
        for batch in cur:
            assert batch.data.shape[1:] == (8, 16)
            seen.extend(batch.index.tolist())
            assert batch.data[:, 0, 0].tolist() == batch.index.tolist()
        assert cur.length == 50
    assert seen == list(range(50))
    sub = fake.sub_stats[cur.id]
    # everything consumed was acknowledged (the last ack goes out with the unsubscribe, without waiting)
    assert wait_until(lambda: sub["acked"] == sub["sent"] - 1), (sub["acked"], sub["sent"])


def test_a_slow_reader_bounds_what_is_in_flight(client, fake):
    scan, fs = frame_scan(fake, 200)
    s = client.scans.get(scan.key).streams["frame"]
    cur = s.cursor(window=4)
    seen = []
    for batch in cur:
        seen.extend(batch.index.tolist())
        time.sleep(0.005)
        # the server never runs more than `window` messages ahead of our acks
        assert fake.sub_stats[cur.id]["max_in_flight"] <= 4
        assert cur._sub.queue.qsize() <= 4
    assert seen == list(range(200))


def test_cursor_from_a_start_index_and_with_stop(client, fake):
    scan, fs = frame_scan(fake, 30)
    s = client.scans.get(scan.key).streams["frame"]
    assert sum((b.index.tolist() for b in s.cursor(start=25)), []) == [25, 26, 27, 28, 29]
    assert sum((b.index.tolist() for b in s.cursor(start=-3)), []) == [27, 28, 29]
    assert sum((b.index.tolist() for b in s.cursor(start=5, stop=9)), []) == [5, 6, 7, 8]


def test_cursor_gaps_warn_raise_or_call(client, fake):
    scan, fs = frame_scan(fake, 30)
    fake.trim(fs, 10)
    s = client.scans.get(scan.key).streams["frame"]
    with pytest.warns(daqlab.DataGapWarning, match="items 0…9"):
        got = sum((b.index.tolist() for b in s.cursor()), [])
    assert got == list(range(10, 30))
    with pytest.raises(daqlab.IndexNoMoreThereError, match="items 0…9"):
        for _ in s.cursor(on_gap="raise"):
            pass
    gaps = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cur = s.cursor(on_gap=lambda a, b, why: gaps.append((a, b, why)))
        assert sum((b.index.tolist() for b in cur), []) == list(range(10, 30))
    assert gaps == [(0, 10, "trimmed")] and cur.gaps[0]["from"] == 0


def test_breaking_out_unsubscribes(client, fake):
    scan, fs = frame_scan(fake, 100)
    s = client.scans.get(scan.key).streams["frame"]
    for batch in s.cursor(window=2):
        sub_id = None
        break
    gc.collect()
    assert wait_until(lambda: any(sub.get("unsubscribed") for sub in fake.sub_stats.values()))
    del sub_id
    with s.cursor() as cur:
        next(cur)
    assert wait_until(lambda: fake.sub_stats[cur.id].get("unsubscribed"))
    assert cur.closed
    with pytest.raises(StopIteration):
        next(cur)


def test_latest_mode(client, fake):
    scan, fs = frame_scan(fake, 0, sealed=False)
    s = client.scans.get(scan.key).streams["frame"]
    got = []

    def produce():
        for i in range(100):
            fake.append(fs, [np.full((8, 16), i, np.uint16)])
            time.sleep(0.002)
        fake.seal(fs)

    threading.Thread(target=produce).start()
    for batch in s.cursor(mode="latest"):
        got.extend(batch.index.tolist())
        time.sleep(0.03)
    assert got == sorted(got) and len(set(got)) == len(got) and len(got) < 50
    assert fake.requests[-1]["op"] in ("sub.ack", "unsubscribe")


def test_cursor_timeout(client, fake):
    scan, fs = frame_scan(fake, 0, sealed=False)
    s = client.scans.get(scan.key).streams["frame"]
    with pytest.raises(daqlab.TimeoutError, match="no data"):
        with s.cursor(timeout=0.2) as cur:
            next(cur)


def test_cursor_sees_the_connection_drop(fake):
    c = daqlab.connect(fake.url)
    scan, fs = frame_scan(fake, 0, sealed=False)
    s = c.scans.get(scan.key).streams["frame"]
    cur = s.cursor()
    threading.Timer(0.2, fake.peers[0].drop).start()
    with pytest.raises(ConnectionError, match="unreachable"):
        next(cur)
    c.close()


def test_iterating_a_stream_yields_items(client, fake):
    scan, fs = frame_scan(fake, 12)
    s = client.scans.get(scan.key).streams["frame"]
    assert [int(f[0, 0]) for f in s] == list(range(12))
    ev = client.scans.get(scan.key).streams["events"]
    assert list(ev)[5] == {"i": 5}


def test_data_for_a_subscription_arriving_before_its_reply_is_kept(fake):
    """Whatever order the server uses, nothing is lost (orphans are held until the reply is read)."""
    c = daqlab.connect(fake.url)
    try:
        conn: _connection.Connection = c.connection
        scan, fs = frame_scan(fake, 5)
        original = fake.op_subscribe

        def data_first(peer, msg):
            result = original(peer, msg)
            time.sleep(0.3)  # the pump sends data before we reply
            return result

        fake.op_subscribe = data_first
        s = c.scans.get(scan.key).streams["frame"]
        assert sum((b.index.tolist() for b in s.cursor()), []) == [0, 1, 2, 3, 4]
        assert not conn._orphans
    finally:
        c.close()


def allocation(arr: np.ndarray) -> int:
    """Size of the buffer a zero-copy array lives in."""
    base = arr
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    if isinstance(base, memoryview):
        base = base.obj
        while isinstance(base, np.ndarray) and base.base is not None:
            base = base.base
    return base.nbytes if isinstance(base, (np.ndarray, memoryview)) else len(base)


@pytest.mark.parametrize("fragment", [0, 777, 100_000])
def test_payload_buffers_are_exact_or_compacted(fake, fragment):
    """Whatever the framing, a small batch does not pin a large buffer, a large one is not copied."""
    fake.fragment = fragment
    c = daqlab.connect(fake.url)
    try:
        scan, fs = frame_scan(fake, 8, shape=(512, 512), dtype="float32")
        s = c.scans.get(scan.key).streams["frame"]
        b = s.read_batch(0, 4)  # 4 MiB of items in one message
        assert b.data.shape == (4, 512, 512)
        assert 4 * 2**20 <= allocation(b.data) < 4 * 2**20 + 64 * 1024  # received in place, little slack
        ev = c.scans.get(scan.key).streams["events"].read_batch(0, 2)
        assert ev.data == [{"i": 0}, {"i": 1}]
        small = s.read_batch(0, 1, roi=None)
        assert allocation(small.data) < 2 * 2**20  # not an 8 MiB upper-bound buffer
        with s.cursor() as cur:
            batches = list(cur)
        assert sum(len(x) for x in batches) == 8
        assert all(x.data.flags.writeable for x in batches)
    finally:
        c.close()


def test_a_blocking_call_from_an_event_handler_is_refused_not_a_deadlock(client, fake):
    errors = []

    def handler(msg):
        try:
            client.detectors()
        except RuntimeError as e:
            errors.append(e)

    client.on("scan.new", handler)
    fake.add_scan({"name": "x"})
    assert wait_until(lambda: errors)
    assert "reader thread" in str(errors[0])
    assert client.detectors() == ["fake-det"]


def test_raw_call_with_a_timeout_field(client, fake):
    fake.add_scan({"name": "x"})
    with pytest.raises(daqlab.TimeoutError):
        client.call("scans.wait_next", {"after": 99, "timeout": 0.2})
    assert client.call("scan.get", scan="scan-1")["key"] == "scan-1"
