"""`daqlab-detector-sim`: a simulated DECTRIS detector (SIMPLON 1.8.0 + Stream2 / stream v1 over ZeroMQ).

Read with what DECTRIS users read a real detector with: plain HTTP, a pyzmq PULL socket, `cbor2` and
DECTRIS's `dectris-compression`; frames compared with the built-in simulators (a daqlab server, or
test/simref.py for the flat scene) for the same seed.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import zmq

import simref
from detsim import API, SIM_CLI, SIM_OF, DetectorSim, decode1_blob, decode2


@pytest.fixture
def make_sim():
    started: list[DetectorSim] = []

    def make(*args: str) -> DetectorSim:
        s = DetectorSim(*args)
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()


@pytest.fixture
def zctx():
    ctx = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


def pull(ctx, sim: DetectorSim, n: int = 1) -> list[zmq.Socket]:
    """n PULL sockets connected to the stream, each past its ZMTP handshake (so the PUSH side serves it)."""
    from zmq.utils.monitor import recv_monitor_message

    socks = []
    for _ in range(n):
        s = ctx.socket(zmq.PULL)
        mon = s.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
        s.connect(sim.stream)
        assert mon.poll(10_000), "no ZMTP handshake with the simulated detector's stream"
        assert recv_monitor_message(mon)["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED
        s.disable_monitor()
        mon.close(linger=0)
        socks.append(s)
    time.sleep(0.05)
    return socks


def collect(socks, until_end: int = 1, timeout: float = 60, multipart: bool = False):
    """Messages per socket until `until_end` end messages arrived in all."""
    poller = zmq.Poller()
    for s in socks:
        poller.register(s, zmq.POLLIN)
    got: list[list] = [[] for _ in socks]
    ends = 0
    deadline = time.monotonic() + timeout
    while ends < until_end:
        left = deadline - time.monotonic()
        assert left > 0, f"timed out: {[len(g) for g in got]} messages, {ends} end messages"
        for sock, _ in poller.poll(left * 1000):
            i = socks.index(sock)
            if multipart:
                parts = sock.recv_multipart()
                head = json.loads(parts[0])
                got[i].append(parts)
                ends += head["htype"] == "dseries_end-1.0"
            else:
                m = decode2(sock.recv())
                got[i].append(m)
                ends += m["type"] == "end"
    return got


def builtin_frames(client, detector: str, config: dict, n: int) -> np.ndarray:
    """Frames 0..n-1 of the built-in simulator, acquired through a daqlab server."""
    acq = client.detector(detector).prepare(acquisition={"nb_frames": n, "expo_time": 0.01}, detector=config)
    acq.start()
    acq.wait(timeout=60, progress=False)
    assert acq.state == "STOPPED"
    return acq.scan.streams["frame"][0:n]


def arm_and_trigger(sim: DetectorSim, nimages: int, frame_time: float = 0.002, **stream):
    sim.command("initialize")
    sim.put("stream", "mode", "enabled")
    for k, v in stream.items():
        sim.put("stream", k, v)
    sim.put("detector", "frame_time", frame_time)
    sim.put("detector", "nimages", nimages)
    seq = sim.command("arm")["sequence id"]
    sim.command("trigger")
    return seq


# ---------------------------------------------------------------- SIMPLON


def test_parameters_describe_themselves_as_simplon_does(make_sim):
    sim = make_sim("--model", "eiger-500k", "--scene", "flat")
    assert sim.request("GET", "detector/api/version/") == (200, {"value": "1.8.0", "value_type": "string"})
    ct = sim.get("detector", "config", "count_time")
    assert ct["value_type"] == "float" and ct["access_mode"] == "rw" and ct["unit"] == "s"
    assert 0 < ct["min"] < ct["max"] and ct["min"] <= ct["value"] <= ct["max"]
    tm = sim.get("detector", "config", "trigger_mode")
    assert tm["allowed_values"] == ["ints", "inte", "exts", "exte"] and tm["value"] == "ints"
    assert sim.get("detector", "config", "x_pixels_in_detector") == {"value": 1030, "value_type": "uint", "access_mode": "r"}
    assert sim.value("detector", "config", "y_pixels_in_detector") == 514
    assert sim.value("detector", "config", "description").startswith("Dectris EIGER 500K")
    assert sim.value("detector", "config", "software_version").startswith("daqlab-detector-sim")
    assert sim.value("detector", "status", "state") == "na"
    keys = sim.get("detector", "config", "keys")
    assert {"count_time", "frame_time", "nimages", "ntrigger", "trigger_mode", "threshold/1/energy"} <= set(keys)
    assert sim.value("stream", "config", "format") == "legacy" and sim.value("stream", "config", "mode") == "disabled"
    for sub in ("monitor", "filewriter"):
        assert "mode" in sim.get(sub, "config", "keys")
    assert sim.value("stream", "status", "dropped") == 0


def test_put_answers_every_parameter_it_changed(make_sim):
    sim = make_sim("--model", "eiger2-4m", "--scene", "flat", "--config", '{"pool_size": 1}')
    dead = sim.value("detector", "config", "detector_readout_time")
    assert sim.put("detector", "count_time", 0.1) == ["count_time", "frame_time"]
    assert sim.value("detector", "config", "frame_time") == pytest.approx(0.1 + dead)
    assert sim.put("detector", "frame_time", 0.01) == ["frame_time", "count_time"]
    assert sim.value("detector", "config", "count_time") == pytest.approx(0.01 - dead)
    assert sim.put("detector", "count_time", 0.005) == ["count_time"]
    assert sim.put("detector", "frame_time", 0.5) == ["frame_time"]
    changed = sim.put("detector", "incident_energy", 10000.0)
    assert changed[0] == "incident_energy" and {"threshold/1/energy", "wavelength"} <= set(changed)
    assert sim.value("detector", "config", "threshold/1/energy") == 5000.0
    assert sim.value("detector", "config", "wavelength") == pytest.approx(1.23984, rel=1e-4)
    assert sim.put("detector", "nimages", 5) == ["nimages"]
    assert sim.put("detector", "nimages", 5) == ["nimages"]  # the parameter put is listed even when unchanged


@pytest.mark.parametrize(
    "path, body, status, words",
    [
        ("detector/api/1.8.0/config/count_time", {"value": "fast"}, 400, ["count_time", "number"]),
        ("detector/api/1.8.0/config/count_time", {"value": -1}, 400, ["count_time", ">="]),
        ("detector/api/1.8.0/config/frame_time", {"value": 1e-9}, 400, ["frame_time", ">="]),
        ("detector/api/1.8.0/config/nimages", {"value": 1.5}, 400, ["nimages", "integer"]),
        ("detector/api/1.8.0/config/nimages", {"value": 0}, 400, ["nimages", ">= 1"]),
        ("detector/api/1.8.0/config/trigger_mode", {"value": "auto"}, 400, ["trigger_mode", "ints"]),
        ("detector/api/1.8.0/config/x_pixels_in_detector", {"value": 5}, 400, ["x_pixels_in_detector", "read only"]),
        ("detector/api/1.8.0/config/count_time", {"val": 1}, 400, ["count_time", "value"]),
        ("detector/api/1.8.0/config/no_such_thing", {"value": 1}, 404, ["no_such_thing"]),
        ("stream/api/1.8.0/config/format", {"value": "hdf5"}, 400, ["format", "cbor"]),
        ("filewriter/api/1.8.0/config/mode", {"value": "enabled"}, 400, ["filewriter", "files"]),
        ("detector/api/1.6.0/config/count_time", {"value": 1}, 404, ["1.8.0"]),
        ("detector/api/1.8.0/command/arm", None, 400, ["arm", "initialize"]),
        ("detector/api/1.8.0/command/explode", None, 404, ["explode"]),
    ],
)
def test_bad_values_are_answered_400_naming_the_parameter(make_sim, path, body, status, words):
    sim = make_sim("--model", "eiger-500k", "--scene", "dark")
    before = sim.value("detector", "config", "count_time")
    got = sim.request("PUT", path, body)
    assert got[0] == status, got
    for w in words:
        assert w in got[1], got[1]
    assert sim.value("detector", "config", "count_time") == before
    assert sim.state() == "na"


def test_a_body_that_is_not_json_or_too_large_is_refused(make_sim):
    sim = make_sim("--model", "eiger-500k", "--scene", "dark")
    req = urllib.request.Request(f"{sim.http}/detector/{API}/config/count_time", data=b"{nope", method="PUT")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 400 and "JSON" in e.value.read().decode()
    big = json.dumps({"value": "x" * (2 << 20)}).encode()
    req = urllib.request.Request(f"{sim.http}/stream/{API}/config/header_appendix", data=big, method="PUT")
    try:
        urllib.request.urlopen(req, timeout=10)
        raise AssertionError("a 2 MB body was accepted")
    except urllib.error.HTTPError as err:
        assert err.code == 413
    except (urllib.error.URLError, ConnectionError):
        pass  # the server may close the connection while the client still sends
    assert sim.state() == "na"


def test_state_machine_and_commands(make_sim, zctx):
    sim = make_sim("--model", "eiger-500k", "--scene", "flat", "--config", '{"pool_size": 2}')
    assert sim.state() == "na"
    assert sim.command("initialize") is None
    assert sim.state() == "idle"
    sim.put("stream", "mode", "enabled")
    sim.put("stream", "format", "cbor")
    sim.put("detector", "nimages", 3)
    sim.put("detector", "ntrigger", 2)
    (sock,) = pull(zctx, sim)
    assert sim.command("arm") == {"sequence id": 1}
    assert sim.state() == "ready"
    assert sim.request("PUT", f"detector/{API}/config/nimages", {"value": 4})[0] == 400  # not while armed
    assert sim.request("PUT", f"detector/{API}/command/arm")[0] == 400  # armed already
    sim.command("trigger")
    assert sim.state() == "ready"  # one of two triggers done
    sim.command("trigger")
    assert sim.state() == "idle"  # the series ended by itself
    msgs = collect([sock])[0]
    assert [m["type"] for m in msgs] == ["start"] + ["image"] * 6 + ["end"]
    assert [m["image_id"] for m in msgs[1:-1]] == list(range(6))
    assert msgs[0]["number_of_images"] == 6 and {m["series_id"] for m in msgs} == {1}
    assert sim.command("disarm") == {"sequence id": 1}
    assert sim.request("PUT", f"detector/{API}/command/trigger")[0] == 400  # not armed

    # disarm in the middle of a series: an end message after the images acquired so far
    sim.put("detector", "ntrigger", 1)
    sim.put("detector", "nimages", 1000)
    sim.put("detector", "frame_time", 0.01)
    assert sim.command("arm") == {"sequence id": 2}
    t = threading.Thread(target=lambda: sim.request("PUT", f"detector/{API}/command/trigger"))
    t.start()
    time.sleep(0.3)
    assert sim.state() == "acquire"
    assert sim.command("disarm") == {"sequence id": 2}
    t.join(10)
    assert sim.state() == "idle"
    msgs = collect([sock])[0]
    assert msgs[0]["type"] == "start" and msgs[-1]["type"] == "end" and 2 <= len(msgs) - 2 < 1000
    assert [m["image_id"] for m in msgs[1:-1]] == list(range(len(msgs) - 2))

    # inte: one image per trigger exposed for the trigger's value
    sim.put("detector", "trigger_mode", "inte")
    sim.put("detector", "ntrigger", 2)
    assert sim.command("arm") == {"sequence id": 3}
    assert sim.request("PUT", f"detector/{API}/command/trigger")[0] == 400  # inte needs the exposure
    sim.command("trigger", 0.02)
    sim.command("trigger", 0.03)
    msgs = collect([sock])[0]
    assert msgs[0]["number_of_images"] == 2
    assert [list(m["real_time"]) for m in msgs[1:-1]] == [[20_000_000, 10**9], [30_000_000, 10**9]]

    # exts: the simulator triggers itself after arm
    sim.put("detector", "trigger_mode", "exts")
    sim.put("detector", "nimages", 2)
    sim.put("detector", "frame_time", 0.002)
    assert sim.command("arm") == {"sequence id": 4}
    msgs = collect([sock])[0]
    assert [m["image_id"] for m in msgs if m["type"] == "image"] == [0, 1, 2, 3]
    deadline = time.monotonic() + 5
    while sim.state() != "idle" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sim.state() == "idle"

    # abort while armed
    sim.put("detector", "trigger_mode", "ints")
    sim.command("arm")
    assert sim.command("abort") == {"sequence id": 5}
    assert sim.state() == "idle"
    assert [m["type"] for m in collect([sock])[0]] == ["start", "end"]


# ---------------------------------------------------------------- frames


SCENES = ["serial_crystallography", "powder", "saxs", "xpcs", "flat", "dark", "tomography"]


@pytest.mark.parametrize("scene", SCENES)
def test_stream2_frames_equal_the_builtin_simulator_for_every_scene(make_sim, zctx, client, scene):
    extra = {
        "serial_crystallography": {"hit_rate": 1.0, "pool_size": 3},
        "tomography": {"pool_size": 0, "tomo_darks": 1, "tomo_flats": 1, "tomo_projections": 2},
    }.get(scene, {"pool_size": 3})
    config = {"scene": scene, "seed": 7}
    sim = make_sim("--model", "eiger-500k", "--scene", scene, "--seed", "7", "--config", json.dumps(extra))
    (sock,) = pull(zctx, sim)
    arm_and_trigger(sim, 4, format="cbor")
    msgs = collect([sock])[0]
    images = [m for m in msgs if m["type"] == "image"]
    expected = builtin_frames(client, "sim-eiger-500k", {**config, **extra}, 4)
    assert len(images) == 4
    for k, m in enumerate(images):
        assert m["image_id"] == k
        got = m["data"]["threshold_1"]
        assert got.dtype == np.uint32 and got.shape == (514, 1030)
        np.testing.assert_array_equal(got, expected[k], err_msg=f"{scene} frame {k}")
    assert scene == "dark" or np.asarray(expected).any()  # the comparison saw photons


def test_eiger2_4m_default_scene_equals_the_builtin_sim_eiger_4m(make_sim, zctx, client):
    """The default model and scene (serial crystallography on sim-eiger-4m): spots, solvent ring, module gaps."""
    extra = {"pool_size": 2, "hit_rate": 1.0}
    sim = make_sim("--seed", "5", "--config", json.dumps(extra))
    assert "sim-eiger-4m, scene serial_crystallography" in "".join(sim.lines)
    (sock,) = pull(zctx, sim)
    arm_and_trigger(sim, 3, format="cbor")
    images = [m for m in collect([sock])[0] if m["type"] == "image"]
    expected = builtin_frames(client, "sim-eiger-4m", {"seed": 5, **extra}, 3)
    assert len(images) == 3
    for k, m in enumerate(images):
        np.testing.assert_array_equal(m["data"]["threshold_1"], expected[k], err_msg=f"frame {k}")
    assert (expected[0] == 2**32 - 1).any() and (expected[0][:514] > 100).any()  # gaps and Bragg spots


def test_stream2_start_message_and_every_compression(make_sim, zctx):
    sim = make_sim("--model", "eiger2-4m", "--scene", "flat", "--seed", "11", "--config", '{"pool_size": 2}')
    (sock,) = pull(zctx, sim)
    config = {"scene": "flat", "seed": 11, "pool_size": 2}
    for series, compression in enumerate(["bslz4", "lz4", "none"], start=1):
        sim.put("detector", "compression", compression)
        arm_and_trigger(sim, 3, format="cbor", header_detail="all", header_appendix={"sample": "CeO2"}, image_appendix="hello")
        msgs = collect([sock])[0]
        start, images, end = msgs[0], msgs[1:-1], msgs[-1]
        assert start["type"] == "start" and end["type"] == "end" and len(images) == 3
        assert start["series_id"] == series == end["series_id"]
        assert start["series_unique_id"] == end["series_unique_id"] == images[0]["series_unique_id"]
        assert list(start["channels"]) == ["threshold_1"] and start["image_dtype"] == "uint32"
        assert (start["image_size_x"], start["image_size_y"]) == (2070, 2167)
        assert start["number_of_images"] == 3 and dict(start["user_data"]) == {"sample": "CeO2"}
        assert isinstance(start["count_time"], float) and isinstance(start["beam_center_x"], float)
        assert start["threshold_energy"]["threshold_1"] == pytest.approx(6200.0)
        assert start["incident_energy"] == pytest.approx(12400.0)
        assert start["detector_description"].startswith("Dectris EIGER2")
        mask = start["pixel_mask"]["threshold_1"]
        assert mask.shape == (2167, 2070) and mask[514, 0] == 1 and mask[0, 0] == 0  # gap rows 514..550
        assert start["flatfield"]["threshold_1"].shape == (2167, 2070)
        assert set(start["goniometer"]) == {"chi", "kappa", "omega", "phi", "two_theta"}
        for k, m in enumerate(images):
            assert m["user_data"] == "hello"
            s0, den = m["start_time"]
            assert den == 10**9 and m["stop_time"][0] - s0 == m["real_time"][0]
            np.testing.assert_array_equal(m["data"]["threshold_1"], simref.frame("sim-eiger-4m", config, k),
                                          err_msg=f"{compression} frame {k}")


@pytest.mark.parametrize("compression", ["bslz4", "lz4", "none"])
def test_stream_v1_frames_equal_the_simulator_reference(make_sim, zctx, compression):
    sim = make_sim("--model", "eiger-500k", "--scene", "flat", "--seed", "3", "--config", '{"pool_size": 5}')
    (sock,) = pull(zctx, sim)
    sim.put("detector", "compression", compression)
    seq = arm_and_trigger(sim, 7, format="legacy", header_detail="all")
    msgs = collect([sock], multipart=True)[0]
    header, images, end = msgs[0], msgs[1:-1], msgs[-1]
    h = json.loads(header[0])
    assert h == {"htype": "dheader-1.0", "series": seq, "header_detail": "all"}
    assert len(header) == 8
    assert json.loads(header[1])["x_pixels_in_detector"] == 1030
    ff = json.loads(header[2])
    assert ff["htype"] == "dflatfield-1.0" and ff["shape"] == [1030, 514] and len(header[3]) == 514 * 1030 * 4
    assert json.loads(header[4])["htype"] == "dpixelmask-1.0" and len(header[5]) == 514 * 1030 * 4
    assert json.loads(header[6])["htype"] == "dcountrate_table-1.0"
    assert json.loads(end[0]) == {"htype": "dseries_end-1.0", "series": seq}
    assert len(images) == 7
    encoding = {"bslz4": "bs32-lz4<", "lz4": "lz4<", "none": "<"}[compression]
    for k, parts in enumerate(images):
        assert len(parts) == 4
        d = json.loads(parts[0])
        assert d["htype"] == "dimage-1.0" and d["series"] == seq and d["frame"] == k
        assert d["hash"] == hashlib.md5(parts[2]).hexdigest()
        dd = json.loads(parts[1])
        assert dd["htype"] == "dimage_d-1.0" and dd["shape"] == [1030, 514] and dd["type"] == "uint32"
        assert dd["encoding"] == encoding
        conf = json.loads(parts[3])
        assert conf["htype"] == "dconfig-1.0" and conf["stop_time"] - conf["start_time"] == conf["real_time"] > 0
        np.testing.assert_array_equal(decode1_blob(dd, parts[2]),
                                      simref.frame("sim-eiger-500k", {"scene": "flat", "seed": 3, "pool_size": 5}, k))


@pytest.mark.parametrize("model, receivers", [("eiger-500k", 2), ("eiger2-4m", 4)])
def test_receivers_share_a_series_round_robin_without_loss(make_sim, zctx, model, receivers):
    config = {"scene": "flat", "seed": 21, "pool_size": 3}
    sim = make_sim("--model", model, "--scene", "flat", "--seed", "21", "--config", '{"pool_size": 3}')
    socks = pull(zctx, sim, receivers)
    n = 4 * receivers + 1
    arm_and_trigger(sim, n, format="cbor")
    got = collect(socks)
    ids = sorted(m["image_id"] for g in got for m in g if m["type"] == "image")
    assert ids == list(range(n))
    assert all(any(m["type"] == "image" for m in g) for g in got), [len(g) for g in got]
    assert sum(m["type"] == "start" for g in got for m in g) == 1
    for g in got:
        for m in g:
            if m["type"] == "image":
                np.testing.assert_array_equal(m["data"]["threshold_1"], simref.frame(SIM_OF[model], config, m["image_id"]))


def test_pilatus4_1m_serves_the_eiger_500k_frames_under_its_own_name(make_sim, zctx):
    sim = make_sim("--model", "pilatus4-1m", "--scene", "flat", "--seed", "2", "--config", '{"pool_size": 1}')
    assert "PILATUS4" in sim.value("detector", "config", "description")
    assert sim.get("detector", "config", "frame_time")["min"] == pytest.approx(1 / 2000)
    (sock,) = pull(zctx, sim)
    arm_and_trigger(sim, 2, format="cbor")
    images = [m for m in collect([sock])[0] if m["type"] == "image"]
    for k, m in enumerate(images):
        np.testing.assert_array_equal(m["data"]["threshold_1"],
                                      simref.frame("sim-eiger-500k", {"scene": "flat", "seed": 2, "pool_size": 1}, k))


# ---------------------------------------------------------------- timing, buffering, faults


def test_images_come_no_faster_than_frame_time_and_http_answers_meanwhile(make_sim, zctx):
    sim = make_sim("--model", "eiger-500k", "--scene", "dark", "--config", '{"pool_size": 1}')
    (sock,) = pull(zctx, sim)
    sim.command("initialize")
    sim.put("stream", "mode", "enabled")
    sim.put("stream", "format", "cbor")
    sim.put("detector", "frame_time", 0.1)
    sim.put("detector", "nimages", 10)
    sim.command("arm")
    t0 = time.monotonic()
    t = threading.Thread(target=lambda: sim.command("trigger"))
    t.start()
    time.sleep(0.15)
    latencies = []
    for _ in range(3):
        a = time.monotonic()
        assert sim.state() == "acquire"
        latencies.append(time.monotonic() - a)
    t.join(10)
    assert time.monotonic() - t0 >= 0.9  # 10 images 0.1 s apart
    assert max(latencies) < 0.3, latencies  # answered while the series runs, not after it
    images = [m for m in collect([sock])[0] if m["type"] == "image"]
    starts = [m["start_time"][0] / 1e9 for m in images]
    assert len(starts) == 10 and all(b - a >= 0.099 for a, b in zip(starts, starts[1:])), starts


def test_a_full_buffer_drops_images_counts_them_and_keeps_start_and_end(make_sim, zctx):
    sim = make_sim("--model", "eiger-500k", "--scene", "flat", "--config", '{"pool_size": 1}',
                   "--stream-buffer", str(1 << 20))
    sim.command("initialize")
    sim.put("stream", "mode", "enabled")
    sim.put("stream", "format", "cbor")
    sim.put("detector", "compression", "none")  # 2 MB an image: nothing fits a 1 MB buffer without a client
    sim.put("detector", "frame_time", 0.001)
    sim.put("detector", "nimages", 5)
    sim.command("arm")
    sim.command("trigger")
    assert sim.state() == "idle"
    assert sim.value("stream", "status", "dropped") == 5
    (sock,) = pull(zctx, sim)
    assert [m["type"] for m in collect([sock])[0]] == ["start", "end"]
    sim.command("initialize", sub="stream")
    assert sim.value("stream", "status", "dropped") == 0


def test_a_simulated_fault_ends_the_series_in_error(make_sim, zctx):
    sim = make_sim("--model", "eiger-500k", "--scene", "flat", "--config", '{"pool_size": 1, "fault_at_frame": 2}')
    (sock,) = pull(zctx, sim)
    arm_and_trigger(sim, 5, format="cbor")
    assert sim.state() == "error"
    assert "image 2" in sim.value("detector", "status", "error")[0]
    assert [m["type"] for m in collect([sock])[0]] == ["start", "image", "image", "end"]
    sim.command("initialize")
    assert sim.state() == "idle"


def test_bad_command_line_is_refused_with_the_field(tmp_path):
    r = subprocess.run(["node", str(SIM_CLI), "--port", "0", "--stream-port", "0", "--scene", "nebula"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "detector.scene" in r.stderr
    r = subprocess.run(["node", str(SIM_CLI), "--model", "eiger9"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "--model" in r.stderr
