"""The scan store in Redis (`--store redis://…`): ESRF's real blissdata client reads daqlab scans.

One Redis (with the JSON module) and one daqlab server attached to it per module; blissdata 2.4.5 runs in its
own venv (.venv-blissdata) through test/blissdata_reader.py, and its view is compared with daqlab's own client.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import daqlab
from conftest import ServerProcess, wait_until
from redis_server import BLISSDATA_PYTHON, RedisServer, free_port, redis_server  # noqa: F401 - session fixture

READER = Path(__file__).resolve().parent / "blissdata_reader.py"
SMX_SCENE = {"scene": "serial_crystallography", "seed": 3, "hit_rate": 0.5, "spots_per_hit": 30, "spot_intensity": 1000, "pool_size": 20}
SMX = {"pipeline": "smx", "npt": 100, "min_nb_peaks": 10}
FRAMES = 40


@pytest.fixture(scope="module")
def data_root():
    return Path(tempfile.mkdtemp(prefix="daqlab-redis-data-"))


@pytest.fixture(scope="module")
def redis_daqlab(redis_server, data_root):  # noqa: F811
    s = ServerProcess("--store", redis_server.url(0), env={"DAQLAB_DATA_ROOTS": str(data_root)})
    yield s
    s.stop()


def reader(*args: str, timeout: float = 60) -> dict:
    out = subprocess.run([str(BLISSDATA_PYTHON), str(READER), *args], capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def sha1s(frames) -> list[str]:
    return [hashlib.sha1(np.ascontiguousarray(f).tobytes()).hexdigest() for f in frames]


@pytest.fixture(scope="module")
def followed(redis_server, redis_daqlab, data_root):  # noqa: F811
    """One SMX scan with saving, followed live by blissdata from before it is created."""
    follow = subprocess.Popen(
        [str(BLISSDATA_PYTHON), str(READER), "follow", redis_server.url(0), "bliss-live", "120"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    # a second daqlab server on the same Redis, and a notebook on it following the frames live
    second = ServerProcess("--store", redis_server.url(0), env={"DAQLAB_DATA_ROOTS": str(data_root)})
    seen: dict = {"frames": [], "first_at": None, "error": None}

    def watch():
        try:
            with daqlab.connect(second.url) as c2:
                while True:
                    scan = c2.scans.wait_next(timeout=60)
                    if scan.identity["name"] == "bliss-live":
                        break
                assert wait_until(lambda: _has(scan, "frame"), timeout=30)
                for batch in scan.streams["frame"].cursor(start=0, timeout=60):
                    if seen["first_at"] is None:
                        seen["first_at"] = time.monotonic()
                    seen["frames"].extend(sha1s(batch.data))
        except Exception as err:  # noqa: BLE001 - reported by the test
            seen["error"] = repr(err)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        assert follow.stdout.readline().strip() == "READY", follow.stderr.read()
        time.sleep(1)  # the watcher waits for the next scan
        with daqlab.connect(redis_daqlab.url) as c:
            acq = c.detector("sim-eiger-500k").prepare(
                acquisition={"nb_frames": FRAMES, "expo_time": 0.05}, detector=SMX_SCENE, processing=SMX,
                saving={"enabled": True, "base_path": str(data_root)}, scan={"name": "bliss-live", "proposal": "ih-0017", "sample": "lysozyme"},
            )
            acq.start()
            acq.wait(timeout=120, progress=False)
            ended_at = time.monotonic()
            assert acq.state == "STOPPED", acq.status
            scan = acq.scan
            ours = {
                "key": scan.key,
                "number": scan.identity["number"],
                "frames": sha1s(scan.streams["frame"][0:FRAMES]),
                "background": sha1s(scan.streams["background"][0:FRAMES]),
                "peak_counter": list(scan.streams["peak_counter"][0:FRAMES]),
                "streams": sorted(scan.streams),
                "master": scan.info["saving"]["master"],
            }
        watcher.join(120)
        ours["second"] = {**seen, "live": seen["first_at"] is not None and seen["first_at"] < ended_at}
        out, err = follow.communicate(timeout=120)
        assert follow.returncode == 0, err
        theirs = json.loads(out.strip().splitlines()[-1])
    finally:
        if follow.poll() is None:
            follow.kill()
        second.stop()
    return ours, theirs


def _has(scan, name: str) -> bool:
    try:
        scan.streams[name]
        return True
    except daqlab.errors.NotFoundError:
        return False


def test_a_notebook_on_a_second_daqlab_server_follows_the_scan_of_the_first_live(followed):
    ours, _ = followed
    second = ours["second"]
    assert second["error"] is None, second["error"]
    assert second["frames"] == ours["frames"]
    assert second["live"]  # its first frames came while the first server was still acquiring


def test_blissdata_finds_a_daqlab_scan_with_its_identity_state_and_streams(followed):
    ours, theirs = followed
    assert theirs["state"] == "CLOSED"
    assert theirs["states"][-1] == "CLOSED" and theirs["states"] == sorted(theirs["states"], key=["CREATED", "PREPARED", "STARTED", "STOPPED", "CLOSED"].index)
    assert theirs["id"]["name"] == "bliss-live" and theirs["id"]["number"] == ours["number"]
    assert theirs["id"]["proposal"] == "ih-0017" and theirs["id"]["collection"] == "lysozyme"
    assert theirs["info"]["daqlab_key"] == ours["key"]
    assert theirs["info"]["daqlab_redis"] == {"lost_items": 0}
    # every stream daqlab has is declared in Redis by PREPARED (blissdata's CursorGroup took them all)
    assert sorted(theirs["live"]) == ours["streams"]
    frame = theirs["streams"]["frame"]
    assert frame["encoding"] == {"type": "numeric", "dtype_str": "<u4", "shape": [514, 1030]}
    assert frame["dtype"] == "uint32" and frame["shape"] == [514, 1030] and frame["len"] == FRAMES and frame["sealed"]
    assert frame["plugin"] == "hdf5_fallback"
    assert frame["info"]["file_path"] == ours["master"] and frame["info"]["data_path"] == "/entry/data/data"
    assert theirs["streams"]["peak_counter"]["encoding"] == {"type": "json"}


def test_blissdata_cursors_read_frames_and_results_live_equal_to_daqlabs_own_client(followed):
    ours, theirs = followed
    assert theirs["live"]["frame"] == ours["frames"]
    assert theirs["live"]["background"] == ours["background"]
    assert theirs["live"]["peak_counter"] == ours["peak_counter"]
    # live: some frames reached blissdata while the scan was still acquiring (2 s of acquisition)
    assert theirs["while_running"]["frame"] > 0, theirs["states"]


def test_blissdata_reads_the_finished_scan_after_the_end(redis_server, followed):  # noqa: F811
    ours, theirs = followed
    after = reader("read", redis_server.url(0), theirs["key"])
    assert after["points"]["frame"] == ours["frames"]
    assert after["last"]["frame"] == ours["frames"][-1]
    assert after["points"]["peak_counter"] == ours["peak_counter"]
    assert all(s["sealed"] for s in after["streams"].values())


def test_frames_trimmed_from_redis_are_read_from_the_saved_master_file(redis_server, followed):  # noqa: F811
    """blissdata's hdf5_fallback plugin: points gone from Redis come from `info.file_path` / `data_path`."""
    ours, theirs = followed
    pk = json.loads(redis_server.cli("JSON.GET", theirs["key"], "$.data_streams.frame.pk"))[0]
    trimmed = int(redis_server.cli("XTRIM", f"esrf:stream:{pk}", "MINID", "10").strip())
    assert trimmed == 10  # one entry per frame: frames 0 … 9 are gone from Redis
    after = reader("read", redis_server.url(0), theirs["key"])
    assert after["points"]["frame"] == ours["frames"]


def test_scan_history_and_protocol_version_are_blissdatas(redis_server, followed):  # noqa: F811
    _, theirs = followed
    assert redis_server.cli("GET", "_PROTOCOL_VERSION_").strip() == "1"
    history = redis_server.cli("XRANGE", "_SCAN_HISTORY_", "-", "+").split()
    assert theirs["key"] in history


def test_a_bad_store_option_stops_the_server_at_start_naming_it(make_server, redis_server):  # noqa: F811
    with pytest.raises(RuntimeError, match=r"--store: Redis off loopback \(10\.9\.8\.7\) needs a password"):
        make_server("--store", "redis://10.9.8.7:6379/0")
    with pytest.raises(RuntimeError, match=r"--store: expected memory or"):
        make_server("--store", "mongodb://x")
    # an unreachable Redis: a clear error at start, and the password never shown
    with pytest.raises(RuntimeError) as err:
        make_server("--store", f"redis://:s3cret@127.0.0.1:{free_port()}/0")
    assert "--store redis://:***@127.0.0.1" in str(err.value) and "s3cret" not in str(err.value)


def test_redis_lost_mid_scan_faults_the_acquisition_keeps_the_frames_and_recovers(data_root):
    """Redis killed while acquiring: FAULT naming Redis, frames still in daqlab and on disk; Redis back: next scan published."""
    from redis_server import RedisServer

    r = RedisServer()
    s = ServerProcess("--store", r.url(0), env={"DAQLAB_DATA_ROOTS": str(data_root)})
    try:
        with daqlab.connect(s.url) as c:
            det = c.detector("sim-camera")
            acq = det.prepare(acquisition={"nb_frames": 200, "expo_time": 0.02}, detector={"scene": "flat", "seed": 1},
                              saving={"enabled": True, "base_path": str(data_root)}, scan={"name": "lost"})
            acq.start()
            frames = acq.scan.streams["frame"]
            assert wait_until(lambda: len(frames) >= 5, timeout=30)
            port = r.port
            r.stop()
            with pytest.raises(daqlab.errors.FaultError, match=r"Redis redis://127\.0\.0\.1:\d+/0 is unreachable"):
                acq.wait(timeout=60, progress=False)
            assert acq.state == "FAULT"
            n = len(frames)
            assert 5 <= n < 200
            assert frames[n - 1].shape == (1024, 1024)  # what was acquired stays readable in daqlab
            assert wait_until(lambda: acq.scan.info.get("saving", {}).get("finished"), timeout=30)
            assert acq.scan.info["saving"]["nb_frames_saved"] == n and Path(acq.scan.info["saving"]["master"]).exists()
            # Redis back (empty, same port): daqlab reconnects by itself and publishes the next scan
            r = RedisServer(port)
            assert wait_until(lambda: r.cli("GET", "_PROTOCOL_VERSION_").strip() == "1", timeout=30)
            det.reset()  # a FAULT is acknowledged, as after any detector fault
            acq2 = det.prepare(acquisition={"nb_frames": 3, "expo_time": 0.01}, detector={"scene": "flat", "seed": 1}, scan={"name": "back"})
            acq2.start()
            acq2.wait(timeout=30, progress=False)
            assert acq2.state == "STOPPED"
            assert wait_until(lambda: "esrf:scan:" in r.cli("XRANGE", "_SCAN_HISTORY_", "-", "+"), timeout=20)
            key = r.cli("XRANGE", "_SCAN_HISTORY_", "-", "+").split()[-1]
            assert wait_until(lambda: reader("read", r.url(0), key)["state"] == "CLOSED", timeout=20)
            back = reader("read", r.url(0), key)
            assert back["id"]["name"] == "back" and back["streams"]["frame"]["len"] == 3
            assert back["points"]["frame"] == sha1s(acq2.scan.streams["frame"][0:3])
        assert "publishing a scan to Redis failed" in s.log
    finally:
        s.stop()
        r.stop()


def test_a_second_daqlab_server_on_the_same_redis_serves_the_scans_of_the_first(redis_server, data_root, followed):  # noqa: F811
    ours, theirs = followed
    second = ServerProcess("--store", redis_server.url(0), env={"DAQLAB_DATA_ROOTS": str(data_root)})
    try:
        with daqlab.connect(second.url) as c:
            assert wait_until(lambda: c.scans.search(name="bliss-live"), timeout=30)
            scan = c.scans.search(name="bliss-live")[0]
            assert wait_until(lambda: c.scans.get(scan.key).state == "CLOSED", timeout=30)
            scan = c.scans.get(scan.key)
            assert scan.identity["number"] == ours["number"] and scan.identity["proposal"] == "ih-0017"
            assert scan.info["redis_source"]["key"] == theirs["key"] and scan.info["daqlab_key"] == ours["key"]
            # frames 0 … 9 were trimmed from Redis by the hdf5_fallback test: they come as invalid zero frames
            frames = scan.streams["frame"][0:FRAMES]
            assert sha1s(frames[10:]) == ours["frames"][10:]
            assert not frames[:10].any()
            assert list(scan.streams["peak_counter"][0:FRAMES]) == ours["peak_counter"]
            assert sha1s(scan.streams["background"][0:FRAMES]) == ours["background"]
    finally:
        second.stop()
    # the importing server wrote nothing back: one scan document per scan
    assert redis_server.cli("XRANGE", "_SCAN_HISTORY_", "-", "+").split().count(theirs["key"]) == 1
    assert "redis_source" not in redis_server.cli("JSON.GET", theirs["key"], "$.info")


def test_a_scan_written_by_blissdatas_own_writer_appears_in_daqlab_live_and_reads_as_numpy(redis_server, redis_daqlab):  # noqa: F811
    with daqlab.connect(redis_daqlab.url) as c:
        key = reader("write", redis_server.url(0), "from-bliss", "12")["key"]
        assert wait_until(lambda: c.scans.search(name="from-bliss") and c.scans.search(name="from-bliss")[0].state == "CLOSED", timeout=30)
        scan = c.scans.search(name="from-bliss")[0]
        assert scan.identity["number"] == 7 and scan.identity["sample"] == "s1"
        assert scan.info["title"] == "written by blissdata" and scan.info["redis_source"]["key"] == key
        image = scan.streams["image"][0:12]
        assert image.dtype == np.uint16 and image.shape == (12, 16, 24)
        np.testing.assert_array_equal(image[:, 0, 0], np.arange(12))
        assert list(scan.streams["note"][0:12]) == [{"i": i} for i in range(12)]
        np.testing.assert_array_equal(scan.streams["diode"][0:12], np.arange(12) / 2)


def test_the_memory_budget_trims_redis_too_and_blissdata_reads_trimmed_frames_from_the_files(redis_server, data_root):  # noqa: F811
    s = ServerProcess("--store", redis_server.url(0), "--memory-budget", "40M", env={"DAQLAB_DATA_ROOTS": str(data_root)})
    try:
        with daqlab.connect(s.url) as c:
            trims: list[dict] = []
            c.on("store.trimmed", trims.append)  # every trim is an event to clients too
            acq = c.detector("sim-eiger-500k").prepare(
                acquisition={"nb_frames": 40, "expo_time": 0.01}, detector={"scene": "flat", "seed": 9, "pool_size": 40},
                saving={"enabled": True, "base_path": str(data_root)}, scan={"name": "budget"},
            )
            acq.start()
            acq.wait(timeout=60, progress=False)
            assert wait_until(lambda: acq.scan.info.get("saving", {}).get("finished"), timeout=30)
            ours = sha1s(acq.scan.streams["frame"][0:40])  # daqlab reads its trimmed frames from the files
            assert wait_until(lambda: any(t["key"] == acq.scan.key and t["stream"] == "frame" for t in trims), timeout=10), trims
        assert wait_until(lambda: "Redis trimmed with the store" in s.log, timeout=20), s.log[-3000:]
        key = next(k for k in reversed(redis_server.cli("XRANGE", "_SCAN_HISTORY_", "-", "+").split())
                   if k.startswith("esrf:scan:") and reader("read", redis_server.url(0), k)["id"]["name"] == "budget")
        pk = json.loads(redis_server.cli("JSON.GET", key, "$.data_streams.frame.pk"))[0]
        kept = int(redis_server.cli("XLEN", f"esrf:stream:{pk}").strip()) - 1  # less the seal
        # 40 frames of 2.1 MB do not fit in 40 MB (with the scans this server imported from Redis at start, the
        # whole scan may have been evicted): Redis holds what the store holds
        assert kept < 40
        after = reader("read", redis_server.url(0), key)
        assert after["streams"]["frame"]["len"] == 40
        assert after["points"]["frame"] == ours  # the trimmed ones through hdf5_fallback, from the master file
        # blissdata's reader of a trimmed index: IndexNoMoreThereError from Redis, then the same frame from the file
        gone = reader("trimmed", redis_server.url(0), key, "frame")
        assert gone["plugin"] == "hdf5_fallback" and len(gone["gone"]) == 40 - kept, gone
        assert gone["errors"] == {"IndexNoMoreThereError": 40 - kept}, gone
        assert all(gone["fallback"][str(i)] == ours[i] for i in gone["gone"]), gone
        # and the log names each trim of Redis
        assert "Redis trimmed with the store" in s.log
    finally:
        s.stop()


def _redis_key_of(redis: RedisServer, name: str) -> str:
    return next(k for k in reversed(redis.cli("XRANGE", "_SCAN_HISTORY_", "-", "+").split())
                if k.startswith("esrf:scan:") and json.loads(redis.cli("JSON.GET", k, "$.id.name"))[0] == name)


def test_redis_near_its_maxmemory_trims_the_oldest_finished_scan_reported_and_read_from_the_files(data_root):
    """Issue 17: Redis's `maxmemory` beside the store's budget (store/redis/memory.ts). A Redis of its own (its limit
    is changed): a limit below the budget is a warning at start; near the limit, the oldest finished scan of this
    server leaves Redis (down to its seal), logged and counted; blissdata gets IndexNoMoreThereError for its frames
    and reads them from the files; the newer scan stays whole."""
    redis = RedisServer()
    try:
        redis.cli("CONFIG", "SET", "maxmemory", str(32 * 2 ** 20))
        s = ServerProcess("--store", redis.url(0), "--memory-budget", "1G", env={"DAQLAB_DATA_ROOTS": str(data_root)})
        try:
            assert "maxmemory is below what daqlab's store may hold" in s.log and "memory_budget=1073741824" in s.log, s.log[-2000:]
            redis.cli("CONFIG", "SET", "maxmemory", "0")
            ours, scan_keys = {}, {}
            c = daqlab.connect(s.url)
            told: list[dict] = []
            c.on("store.redis_trimmed", told.append)
            for name in ("mm_old", "mm_new"):
                acq = c.detector("sim-eiger-500k").prepare(
                    acquisition={"nb_frames": 10, "expo_time": 0.01}, detector={"scene": "flat", "seed": 5, "pool_size": 10},
                    saving={"enabled": True, "base_path": str(data_root)}, scan={"name": name},
                )
                acq.start()
                acq.wait(timeout=60, progress=False)
                assert wait_until(lambda: acq.scan.info.get("saving", {}).get("finished"), timeout=30)
                ours[name] = sha1s(acq.scan.streams["frame"][0:10])
                scan_keys[name] = acq.scan.key
            keys = {name: _redis_key_of(redis, name) for name in ours}
            pks = {name: json.loads(redis.cli("JSON.GET", k, "$.data_streams.frame.pk"))[0] for name, k in keys.items()}
            assert all(int(redis.cli("XLEN", f"esrf:stream:{pk}")) == 11 for pk in pks.values())  # 10 frames + the seal
            assert "because Redis near its maxmemory" not in s.log
            used = int(next(line.split(":")[1] for line in redis.cli("INFO", "memory").splitlines() if line.startswith("used_memory:")))
            redis.cli("CONFIG", "SET", "maxmemory", str(int(used / 0.95)))  # now at 95 % of the limit
            assert wait_until(lambda: "because Redis near its maxmemory" in s.log, timeout=20), s.log[-3000:]
            assert wait_until(lambda: int(redis.cli("XLEN", f"esrf:stream:{pks['mm_old']}")) == 1, timeout=10)
            time.sleep(1.5)  # a few more checks: below the limit now, the newer scan stays whole
            assert int(redis.cli("XLEN", f"esrf:stream:{pks['mm_new']}")) == 11
            gone = reader("trimmed", redis.url(0), keys["mm_old"], "frame")
            assert gone["errors"] == {"IndexNoMoreThereError": 10} and gone["plugin"] == "hdf5_fallback", gone
            assert [gone["fallback"][str(i)] for i in range(10)] == ours["mm_old"]
            assert reader("trimmed", redis.url(0), keys["mm_new"], "frame")["errors"] == {}
            # clients were told, once, naming the scan and what left Redis
            assert wait_until(lambda: told, timeout=5)
            assert [t["key"] for t in told] == [scan_keys["mm_old"]] and told[0]["entries"] >= 10, told
            assert "frame" in told[0]["streams"] and "maxmemory" in told[0]["reason"], told
            c.close()
        finally:
            s.stop()
    finally:
        redis.stop()
