"""The `dectris` detector plugin against real counterparts: Diamond's tickit-devices EIGER simulator
(SIMPLON 1.8.0, Stream2 and stream v1; in its own venv, see scripts/setup.sh) and, for the faults tickit
can not produce, a scriptable SIMPLON (fake_simplon.py) whose stream the test writes with pyzmq.
Frames daqlab stores are compared with the same messages decoded here with cbor2 + dectris-compression."""
from __future__ import annotations

import glob
import os
import subprocess
import time
import urllib.request
import json
from pathlib import Path

import cbor2
import numpy as np
import pytest
from dectris.compression import decompress

import daqlab
from daqlab.errors import ParameterError, FaultError
from fake_simplon import ROWS, COLS, FakeSimplon, Stream2Sender, end_message, frame, image_message, start_message, typed, free_port

ROOT = Path(__file__).resolve().parents[1]
ACQ = {"nb_frames": 2, "expo_time": 0.05, "latency_time": 0.05}


def tickit_venv() -> Path:
    venv = Path(os.environ.get("DAQLAB_TICKIT_VENV") or ROOT / ".venv-tickit")
    if not (venv / "bin" / "python").exists():
        raise RuntimeError(f"{venv} is missing: scripts/setup.sh creates it (tickit-devices==0.4.1, cbor2<6), or set $DAQLAB_TICKIT_VENV")
    return venv


# tickit 0.4.3's ZeroMqPushIo makes its PUSH socket both bind AND connect to the same address: the socket
# then deals messages round robin between our PULL and a connection to itself that never completes its
# handshake, and loses about half of them (headers, images, ends). The launcher binds only, as a detector does.
LAUNCHER = """
import sys, aiozmq, zmq
from tickit.adapters.io import zeromq_push_io as z
async def bind_only(host, port):
    return await aiozmq.create_zmq_stream(zmq.PUSH, bind=f"tcp://{host}:{port}")
d = z.ZeroMqPushIo.__init__.__defaults__
z.ZeroMqPushIo.__init__.__defaults__ = (*d[:-1], bind_only)
from tickit.cli import main
main(["all", sys.argv[1]])
"""


class Tickit:
    def __init__(self, tmp: Path):
        self.venv = tickit_venv()
        self.http, self.v1, self.cbor = free_port(), free_port(), free_port()
        config = tmp / "eiger.yaml"
        config.write_text(
            "- type: tickit_devices.eiger.Eiger\n  name: eiger\n  inputs: {}\n"
            f"  host: 127.0.0.1\n  port: {self.http}\n  stream_host: 127.0.0.1\n"
            f"  stream_legacy_port: {self.v1}\n  stream_cbor_port: {self.cbor}\n"
        )
        self.log = open(tmp / "tickit.log", "w")
        self.proc = subprocess.Popen([str(self.venv / "bin" / "python"), "-c", LAUNCHER, str(config)], stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.http}"
        deadline = time.monotonic() + 30
        while True:
            try:
                self.get("detector/api/1.8.0/status/state")
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError("tickit's EIGER did not start: " + (tmp / "tickit.log").read_text()[-2000:])
                time.sleep(0.2)

    def get(self, path: str):
        with urllib.request.urlopen(f"{self.url}/{path}", timeout=5) as r:
            return json.loads(r.read())

    def data_file(self, name: str) -> Path:
        [path] = glob.glob(str(self.venv / "lib" / "python3*" / "site-packages" / "tickit_devices" / "eiger" / "data" / name))
        return Path(path)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture(scope="module")
def tickit(tmp_path_factory):
    t = Tickit(tmp_path_factory.mktemp("tickit"))
    yield t
    t.stop()


@pytest.fixture(scope="module")
def tickit_server(tickit):
    from conftest import ServerProcess

    s = ServerProcess(
        "--detector", "sim-camera",
        "--dectris", f"eiger={tickit.url},stream=tcp://127.0.0.1:{tickit.cbor}",
        "--dectris", f"eiger-v1={tickit.url},stream=tcp://127.0.0.1:{tickit.v1},format=legacy",
    )
    yield s
    s.stop()


@pytest.fixture
def tclient(tickit_server):
    c = daqlab.connect(tickit_server.url)
    yield c
    c.close()


def run(det, acquisition=None, **kw):
    acq = det.prepare(acquisition=acquisition or ACQ, **kw)
    acq.start()
    try:
        acq.wait(timeout=20, progress=False)
    except daqlab.errors.DaqlabError as e:
        raise AssertionError(f"{e}: {acq.scan.info.get('detector_series')}") from e
    return acq


def test_simplon_control_through_daqlab(tclient, tickit):
    det = tclient.detector("eiger")
    info = det.info
    assert info["model"] == "Simulated Eiger X 16M Detector"
    assert info["shape"] == [4362, 4148] and info["dtype"] == "uint16" and info["pixel_size"] == [0.01, 0.01]
    sensor = info["sensor"]
    assert sensor["serial_number"] == "EIGERSIM001" and sensor["material"] == "Silicon" and sensor["bit_depth"] == 16
    assert sensor["simplon_version"] == "1.8.0" and set(sensor["thresholds"]) == {"1", "2"}
    status = det.status()
    assert {"state", "temperature", "humidity", "high_voltage", "stream_dropped"} <= set(status)
    assert status["temperature"] == 24.5 and status["stream_dropped"] == 0
    acq = det.prepare(acquisition={"nb_frames": 6, "expo_time": 0.02, "latency_time": 0.03, "trigger_mode": "software", "nb_frames_per_trigger": 3},
                      detector={"photon_energy": 9000.0, "thresholds": {"2": {"energy": 20000.0}}, "header_detail": "basic"})
    cfg = lambda p: tickit.get(f"detector/api/1.8.0/config/{p}")["value"]  # noqa: E731
    assert cfg("count_time") == 0.02 and cfg("frame_time") == pytest.approx(0.05)
    assert cfg("nimages") == 3 and cfg("ntrigger") == 2 and cfg("trigger_mode") == "ints"
    assert cfg("photon_energy") == 9000.0 and cfg("threshold/2/energy") == 20000.0
    assert tickit.get("stream/api/1.8.0/config/format")["value"] == "cbor"
    assert tickit.get("stream/api/1.8.0/config/header_detail")["value"] == "basic"
    # what each PUT changed was read back into the run's configuration
    applied = acq.scan.info["detector_config"]["applied"]
    assert applied["detector/count_time"] == 0.02 and "detector/bit_depth_image" in applied
    acq.abort()


def test_refuses_what_the_detector_does_not_have(tclient):
    with pytest.raises(ParameterError) as e:
        tclient.detector("eiger").prepare(acquisition=ACQ, detector={"thresholds": {"3": {"energy": 5000.0}}})
    assert [f["field"] for f in e.value.fields] == ["detector.thresholds.3.energy"]
    assert "threshold/3/energy" in e.value.fields[0]["message"]


def expected_stream2_frame(tickit) -> np.ndarray:
    msg = cbor2.loads(tickit.data_file("stream2/image.cbor").read_bytes())
    msg = msg.value if isinstance(msg, cbor2.CBORTag) else msg
    arr = msg["data"]["threshold_1"]
    dims, typed_array = arr.value
    assert typed_array.tag == 69
    alg, elem, blob = typed_array.value.value
    return np.frombuffer(decompress(blob, alg, elem_size=elem), dtype="<u2").reshape(dims)


def test_stream2_frames_equal_the_messages_decoded_independently(tclient, tickit):
    acq = run(tclient.detector("eiger"))
    assert acq.state == "STOPPED" and acq.reason == "completed", acq.status()
    c = acq.counters
    assert c["nb_frames_acquired"] == 2 and c["nb_frames_invalid"] == 0
    expected = expected_stream2_frame(tickit)
    frames = acq.scan.streams["frame"]
    assert len(frames) == 2
    for k in range(2):
        np.testing.assert_array_equal(frames[k], expected)
    series = acq.scan.info["detector_series"]
    assert series["series_unique_id"] == "01HBV3JPF9T4ZDPADX6EMK6XMZ" and series["channels"] == ["threshold_1"]
    assert series["counters"]["images_released"] == 2 and series["counters"]["missing_image_ids"] == 0


def test_stream_v1_frames_equal_the_blobs_decoded_independently(tclient, tickit):
    acq = run(tclient.detector("eiger-v1"))
    assert acq.state == "STOPPED" and acq.reason == "completed", acq.status()
    blob = tickit.data_file("frame_sample").read_bytes()
    expected = np.frombuffer(decompress(blob, "bslz4", elem_size=2), dtype="<u2").reshape(4362, 4148)
    frames = acq.scan.streams["frame"]
    assert len(frames) == 2 and acq.counters["nb_frames_invalid"] == 0, acq.scan.info["detector_series"]
    np.testing.assert_array_equal(frames[1], expected)


# ------------------------------------------------------------------ faults and bad input (scriptable detector)


@pytest.fixture
def fake(make_server):
    f = FakeSimplon()
    sender = Stream2Sender()
    server = make_server("--detector", "sim-camera", "--dectris", f"fake={f.url},stream={sender.address}")
    c = daqlab.connect(server.url)
    yield f, sender, c.detector("fake"), c
    c.close()
    sender.close()
    f.gone()


def started(det, fake, nb_frames=3):
    acq = det.prepare(acquisition={"nb_frames": nb_frames, "expo_time": 0.01})
    acq.start()
    assert fake.armed.wait(5)
    return acq


def series_of(acq):
    acq.wait(timeout=10, progress=False)
    return acq.scan.info["detector_series"]


def test_fake_detector_frames_and_multi_threshold_channels(fake):
    f, sender, det, client = fake
    acq = started(det, f, 2)
    channels = ("threshold_1", "threshold_2")
    sender.send(start_message(channels=channels, number_of_images=2))
    for k in range(2):
        sender.send(image_message(k, channels=channels))
    sender.send(end_message())
    series = series_of(acq)
    assert acq.reason == "completed" and series["counters"]["images_released"] == 2
    np.testing.assert_array_equal(acq.scan.streams["frame"][1], frame(1, 0))
    np.testing.assert_array_equal(acq.scan.streams["frame_threshold_2"][1], frame(1, 1))
    assert series["series_unique_id"] == "FAKE-1" and series["start"]["beam_center_x"] == 3.5
    # frame times are the detector's image times (stop_time k+1 tenths of a second after the trigger)
    _, data = client._conn.request("stream.read", {"scan": acq.scan.key, "stream": "frame", "start": 0, "stop": 2}, collect=True)
    times = [t for h, _ in data for t in h["times"]]
    assert times[1] - times[0] == pytest.approx(100.0, abs=0.01)


def test_start_message_pixel_mask_is_stored(fake):
    f, sender, det, _ = fake
    acq = started(det, f, 1)
    mask = np.zeros((ROWS, COLS), np.uint32)
    mask[2, 3] = 1
    sender.send(start_message(number_of_images=1, pixel_mask={"threshold_1": cbor2.CBORTag(40, [[ROWS, COLS], cbor2.CBORTag(70, mask.astype("<u4").tobytes())])}))
    sender.send(image_message(0))
    sender.send(end_message())
    series_of(acq)
    np.testing.assert_array_equal(acq.scan.streams["pixel_mask"][0], mask)


def test_missing_image_ids_are_counted_and_the_rest_kept(fake):
    f, sender, det, _ = fake
    acq = started(det, f, 3)
    sender.send(start_message(number_of_images=3))
    sender.send(image_message(0))
    sender.send(image_message(2))
    sender.send(end_message())
    series = series_of(acq)
    assert series["counters"]["missing_image_ids"] == 1 and any("image 1 never came" in p for p in series["problems"])
    assert len(acq.scan.streams["frame"]) == 2
    np.testing.assert_array_equal(acq.scan.streams["frame"][1], frame(2))


def test_a_series_that_ends_early_is_reported(fake):
    f, sender, det, _ = fake
    acq = started(det, f, 4)
    sender.send(start_message(number_of_images=4))
    sender.send(image_message(0))
    sender.send(end_message())
    series = series_of(acq)
    assert acq.state == "STOPPED" and any("ended early: 1 of 4" in p for p in series["problems"])
    assert series["counters"]["missing_image_ids"] == 3 and len(acq.scan.streams["frame"]) == 1


def test_duplicates_and_out_of_series_messages_are_counted_not_stored(fake):
    f, sender, det, _ = fake
    acq = started(det, f, 2)
    sender.send(start_message(number_of_images=2))
    sender.send(image_message(0))
    sender.send(image_message(0))
    sender.send(image_message(1, series_id=99))
    sender.send(end_message(series_id=99))
    sender.send(image_message(1))
    sender.send(end_message())
    series = series_of(acq)
    assert series["counters"]["duplicates"] == 1 and series["counters"]["out_of_series"] == 2
    assert acq.reason == "completed" and len(acq.scan.streams["frame"]) == 2


def test_garbage_cbor_is_counted_and_the_series_goes_on(fake):
    f, sender, det, _ = fake
    acq = started(det, f, 1)
    sender.send(start_message(number_of_images=1))
    sender.send(b"\xd9\xd9\xf7\xbf\x61")  # self-describe tag, an indefinite map cut short
    sender.send(b"not cbor at all")
    sender.send(image_message(0))
    sender.send(end_message())
    series = series_of(acq)
    assert series["counters"]["bad_messages"] == 2 and any("garbage CBOR" in p for p in series["problems"])
    assert acq.reason == "completed" and len(acq.scan.streams["frame"]) == 1


def test_unknown_tags_flag_the_frame_invalid_by_name(fake):
    f, sender, det, _ = fake
    acq = started(det, f, 1)
    sender.send(start_message(number_of_images=1))
    sender.send(image_message(0, data={"threshold_1": cbor2.CBORTag(40, [[ROWS, COLS], cbor2.CBORTag(4242, b"\0" * ROWS * COLS * 2)])}))
    sender.send(end_message())
    series = series_of(acq)
    assert acq.counters["nb_frames_invalid"] == 1 and any("unknown tag 4242" in p for p in series["problems"])
    assert len(acq.scan.streams["frame"]) == 1


def bslz4_sample(tickit) -> bytes:
    return tickit.data_file("frame_sample").read_bytes()


def test_truncated_compressed_blocks_flag_the_frame_invalid(make_server, tickit):
    f = FakeSimplon()
    f.config["x_pixels_in_detector"]["value"], f.config["y_pixels_in_detector"]["value"] = 4148, 4362
    sender = Stream2Sender()
    server = make_server("--detector", "sim-camera", "--dectris", f"fake={f.url},stream={sender.address}")
    try:
        with daqlab.connect(server.url) as c:
            acq = started(c.detector("fake"), f, 2)
            blob = bslz4_sample(tickit)
            compressed = lambda b: cbor2.CBORTag(40, [[4362, 4148], cbor2.CBORTag(69, cbor2.CBORTag(56500, ["bslz4", 2, b]))])  # noqa: E731
            sender.send(start_message(number_of_images=2))
            sender.send(image_message(0, data={"threshold_1": compressed(blob[: len(blob) // 2])}))
            sender.send(image_message(1, data={"threshold_1": compressed(blob)}))
            sender.send(end_message())
            series = series_of(acq)
            assert acq.counters["nb_frames_invalid"] == 1 and any("image 0" in p and "bslz4" in p for p in series["problems"])
            expected = np.frombuffer(decompress(blob, "bslz4", elem_size=2), dtype="<u2").reshape(4362, 4148)
            np.testing.assert_array_equal(acq.scan.streams["frame"][1], expected)
    finally:
        sender.close()
        f.gone()


def test_a_wrong_declared_size_flags_the_frame_invalid(fake):
    f, sender, det, _ = fake
    acq = started(det, f, 1)
    sender.send(start_message(number_of_images=1))
    sender.send(image_message(0, data={"threshold_1": typed(np.zeros(ROWS * COLS + 3, np.uint16), dims=[ROWS, COLS])}))
    sender.send(end_message())
    series = series_of(acq)
    assert acq.counters["nb_frames_invalid"] == 1 and any("declares" in p for p in series["problems"])


def test_v1_bslz4_blobs_with_and_without_the_12_byte_header(make_server, tickit):
    f = FakeSimplon()
    f.config["x_pixels_in_detector"]["value"], f.config["y_pixels_in_detector"]["value"] = 4148, 4362
    sender = Stream2Sender()
    server = make_server("--detector", "sim-camera", "--dectris", f"fake={f.url},stream={sender.address},format=legacy")
    blob = bslz4_sample(tickit)
    expected = np.frombuffer(decompress(blob, "bslz4", elem_size=2), dtype="<u2").reshape(4362, 4148)
    j = lambda d: json.dumps(d).encode()  # noqa: E731
    try:
        with daqlab.connect(server.url) as c:
            acq = started(c.detector("fake"), f, 2)
            sender.send_multipart([j({"htype": "dheader-1.0", "series": 3, "header_detail": "none"})])
            for k, b in enumerate([blob, blob[12:]]):
                sender.send_multipart([
                    j({"htype": "dimage-1.0", "series": 3, "frame": k, "hash": ""}),
                    j({"htype": "dimage_d-1.0", "shape": [4148, 4362], "type": "uint16", "encoding": "bs16-lz4<", "size": len(b)}),
                    b,
                    j({"htype": "dconfig-1.0", "start_time": 0, "stop_time": 10**8 * (k + 1), "real_time": 10**8}),
                ])
            sender.send_multipart([j({"htype": "dseries_end-1.0", "series": 3})])
            acq.wait(timeout=10, progress=False)
            assert acq.reason == "completed" and acq.counters["nb_frames_invalid"] == 0, acq.scan.info["detector_series"]
            for k in range(2):
                np.testing.assert_array_equal(acq.scan.streams["frame"][k], expected)
    finally:
        sender.close()
        f.gone()


def test_a_detector_that_does_not_answer_fails_prepare_and_the_server_goes_on(make_server):
    server = make_server("--detector", "sim-camera", "--dectris", f"ghost=http://127.0.0.1:{free_port()}")
    with daqlab.connect(server.url) as c:
        with pytest.raises(FaultError) as e:
            c.detector("ghost").prepare(acquisition=ACQ)
        assert "127.0.0.1" in str(e.value)
        acq = c.detector("sim-camera").prepare(acquisition={"nb_frames": 2, "expo_time": 0.01})
        acq.start()
        acq.wait(timeout=10, progress=False)
        assert acq.reason == "completed"


def test_an_error_answer_shows_the_detectors_message(fake):
    f, _, det, _ = fake
    f.refuse["frame_time"] = (400, "frame_time 0.01 not supported in roi_mode 4M")
    with pytest.raises(ParameterError) as e:
        det.prepare(acquisition={"nb_frames": 1, "expo_time": 0.01})
    assert e.value.fields[0]["field"] == "acquisition.latency_time"
    assert "not supported in roi_mode 4M" in e.value.fields[0]["message"]


def test_limits_of_the_detector_are_enforced_before_anything_is_written(fake):
    f, _, det, _ = fake
    with pytest.raises(ParameterError) as e:
        det.prepare(acquisition={"nb_frames": 1, "expo_time": 0.01}, detector={"photon_energy": 1000.0})
    assert [x["field"] for x in e.value.fields] == ["detector.photon_energy"]
    assert "minimum 2000" in e.value.fields[0]["message"]
    assert f.config["count_time"]["value"] == 0.1  # nothing was written


def test_a_detector_in_error_state_faults_the_run_and_keeps_the_frames(fake):
    f, sender, det, _ = fake
    acq = started(det, f, 5)
    sender.send(start_message(number_of_images=5))
    sender.send(image_message(0))
    sender.send(image_message(1))
    time.sleep(0.3)
    f.errors = ["high voltage failure"]
    f.state = "error"
    with pytest.raises(FaultError):
        acq.wait(timeout=10, progress=False)
    assert acq.state == "FAULT" and "state error" in acq.reason and "high voltage failure" in acq.reason
    assert len(acq.scan.streams["frame"]) == 2


def test_a_detector_gone_mid_series_faults_the_run_and_keeps_the_frames(fake):
    f, sender, det, client = fake
    acq = started(det, f, 5)
    sender.send(start_message(number_of_images=5))
    sender.send(image_message(0))
    time.sleep(0.3)
    f.gone()
    with pytest.raises(FaultError):
        acq.wait(timeout=10, progress=False)
    assert acq.state == "FAULT" and "does not answer" in acq.reason
    assert len(acq.scan.streams["frame"]) == 1
    # the server still serves its other detectors
    other = client.detector("sim-camera").prepare(acquisition={"nb_frames": 1, "expo_time": 0.01})
    other.start()
    other.wait(timeout=10, progress=False)
    assert other.reason == "completed"


def test_two_receivers_get_the_series_round_robin_and_it_comes_out_in_order(fake):
    f, sender, det, _ = fake
    acq = det.prepare(acquisition={"nb_frames": 8, "expo_time": 0.01}, processing={"nb_receivers": 2})
    time.sleep(0.3)  # both PULL sockets connected: the PUSH deals between them
    acq.start()
    assert f.armed.wait(5)
    sender.send(start_message(number_of_images=8))
    for k in range(8):
        sender.send(image_message(k))
    sender.send(end_message())
    series = series_of(acq)
    assert acq.reason == "completed" and series["counters"]["images_released"] == 8
    assert sorted(series["images_per_receiver"]) == [4, 4] and series["detector_stream_dropped"] in (0, None)
    frames = acq.scan.streams["frame"]
    for k in range(8):
        np.testing.assert_array_equal(frames[k], frame(k))


def test_stop_and_abort_end_the_series_on_the_detector_and_keep_the_frames(tclient, tickit):
    det = tclient.detector("eiger")
    for command in ("stop", "abort"):
        acq = det.prepare(acquisition={"nb_frames": 50, "expo_time": 0.05, "latency_time": 0.05})
        acq.start()
        deadline = time.monotonic() + 20
        while acq.counters["nb_frames_acquired"] < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        getattr(acq, command)()
        acq.wait(timeout=20, progress=False)
        assert acq.reason == ("stopped" if command == "stop" else "aborted")
        assert len(acq.scan.streams["frame"]) >= 2
        deadline = time.monotonic() + 5
        while tickit.get("detector/api/1.8.0/status/state")["value"] != "idle" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert tickit.get("detector/api/1.8.0/status/state")["value"] == "idle", command


def test_an_eiger1_speaks_simplon_1_6_and_stream_v1_only(make_server):
    f = FakeSimplon(version="1.6.0")
    sender = Stream2Sender()
    try:
        server = make_server("--detector", "sim-camera", "--dectris", f"e1={f.url},stream={sender.address}",
                             "--dectris", f"e1v1={f.url},stream={sender.address},format=legacy")
        with daqlab.connect(server.url) as c:
            assert c.detector("e1").info["sensor"]["simplon_version"] == "1.6.0"
            with pytest.raises(ParameterError) as e:
                c.detector("e1").prepare(acquisition=ACQ)
            assert "format=legacy" in e.value.fields[0]["message"]
            acq = c.detector("e1v1").prepare(acquisition=ACQ)
            # configured, without stream/config/format (SIMPLON 1.6 has only stream v1)
            assert f.config["nimages"]["value"] == 2 and f.stream_config["format"]["value"] == "cbor"
            acq.abort()
    finally:
        sender.close()
        f.gone()


def test_frames_received_before_a_fault_are_saved(fake, tmp_path):
    import h5py
    import hdf5plugin  # noqa: F401  (the saved frames are bslz4)

    f, sender, det, _ = fake
    acq = det.prepare(acquisition={"nb_frames": 5, "expo_time": 0.01}, saving={"enabled": True, "base_path": str(tmp_path)}, scan={"name": "dx"})
    acq.start()
    assert f.armed.wait(5)
    sender.send(start_message(number_of_images=5))
    sender.send(image_message(0))
    sender.send(image_message(1))
    time.sleep(0.3)
    f.gone()
    with pytest.raises(FaultError):
        acq.wait(timeout=10, progress=False)
    deadline = time.monotonic() + 10
    while acq.scan.state != "CLOSED" and time.monotonic() < deadline:
        time.sleep(0.05)
    with h5py.File(acq.scan.files[0]) as h5:
        data = h5["entry/instrument/detector/data"]
        assert data.shape == (2, ROWS, COLS)
        np.testing.assert_array_equal(data[1], frame(1))


def test_software_triggers_fire_the_detector(tclient):
    acq = tclient.detector("eiger").prepare(acquisition={"nb_frames": 4, "expo_time": 0.02, "latency_time": 0.03, "trigger_mode": "software", "nb_frames_per_trigger": 2})
    acq.start()
    acq.trigger()  # at once: the plugin waits for the arm before it triggers
    deadline = time.monotonic() + 10
    while acq.counters["nb_frames_acquired"] < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert acq.counters["nb_frames_acquired"] == 2
    acq.trigger()
    acq.wait(timeout=20, progress=False)
    assert acq.reason == "completed" and len(acq.scan.streams["frame"]) == 4


def test_a_trigger_right_after_start_waits_for_the_arm(fake):
    f, sender, det, _ = fake
    f.arm_delay = 0.5
    acq = det.prepare(acquisition={"nb_frames": 2, "expo_time": 0.01, "trigger_mode": "software", "nb_frames_per_trigger": 2})
    acq.start()
    acq.trigger()
    deadline = time.monotonic() + 5
    while "trigger" not in f.commands and time.monotonic() < deadline:
        time.sleep(0.02)
    assert f.commands.index("arm") < f.commands.index("trigger"), f.commands
    acq.abort()


def test_a_detector_in_state_na_is_initialized_first_within_its_timeout(fake):
    f, _, det, client = fake
    f.state = "na"
    acq = det.prepare(acquisition=ACQ)
    assert f.commands[0] == "initialize" and f.state == "idle"
    acq.abort()
    f.state, f.initialize_delay = "na", 3.0
    t0 = time.monotonic()
    with pytest.raises(FaultError) as e:
        det.prepare(acquisition=ACQ, detector={"initialize_timeout": 1})
    assert time.monotonic() - t0 < 2.5 and "no answer within 1 s" in str(e.value)
    # a simulator has no hardware status
    assert client.detector("sim-camera").status() == {"detector": "sim-camera"}


def test_the_detectors_geometry_fills_the_scan(tclient, tickit):
    acq = tclient.detector("eiger").prepare(acquisition=ACQ, detector={"beam_center_x": 2000.5, "beam_center_y": 2100.25, "detector_distance": 0.25})
    d = acq.scan.info["detector_description"]
    g = d["geometry"]
    assert g["dist"] == 0.25 and g["poni1"] == pytest.approx(2100.25 * 0.01) and g["poni2"] == pytest.approx(2000.5 * 0.01)
    angstrom = tickit.get("detector/api/1.8.0/config/wavelength")["value"]  # earlier tests may have changed the energy
    assert g["pixel1"] == 0.01 and g["wavelength"] == pytest.approx(angstrom * 1e-10) and d["wavelength"] == g["wavelength"]
    acq.abort()


def test_an_image_declaring_more_pixels_than_the_detector_has_is_refused_unallocated(fake):
    f, sender, det, _ = fake
    acq = started(det, f, 1)
    sender.send(start_message(number_of_images=1))
    # 2^31 pixels declared (4 GiB), 12 bytes sent
    sender.send(image_message(0, data={"threshold_1": typed(np.zeros(6, np.uint16), dims=[65536, 32768])}))
    sender.send(end_message())
    series = series_of(acq)
    assert acq.counters["nb_frames_invalid"] == 1 and any("the detector has 48" in p for p in series["problems"])


def test_the_detectors_pixel_mask_feeds_the_pipelines_and_the_countrate_table_is_recorded(fake, tmp_path):
    """SIMPLON's pixel_mask (DECTRIS's base64 darray) becomes the pipelines' mask: azint leaves a masked hot
    pixel out; the Stream2 start message's count-rate table is stored in the scan and its master file."""
    import base64
    import h5py
    from fake_simplon import _param

    f, sender, det, _ = fake
    for name, value in {"beam_center_x": 4.0, "beam_center_y": 3.0, "detector_distance": 0.1, "wavelength": 1.0}.items():
        f.config[name] = _param(value)
    mask = np.zeros((ROWS, COLS), np.uint32)
    mask[2, 3] = 8  # DECTRIS's "hot" bit
    f.config["pixel_mask"] = _param({"__darray__": [1, 0, 0], "type": "<u4", "shape": [COLS, ROWS], "filters": ["base64"],
                                     "data": base64.b64encode(mask.astype("<u4").tobytes()).decode()}, "string", "rw")
    hot = np.ones((ROWS, COLS), np.uint16)
    hot[2, 3] = 60000
    table = np.arange(1000, dtype="<u4") * 3

    def azint(masked: bool):
        if not masked:
            f.config.pop("pixel_mask")
        acq = det.prepare(acquisition={"nb_frames": 1, "expo_time": 0.01}, processing={"pipeline": "azint", "npt": 8, "unit": "q_nm^-1"},
                          saving={"enabled": True, "base_path": str(tmp_path / str(masked))})
        acq.start()
        assert f.armed.wait(5)
        f.armed.clear()
        sender.send(start_message(number_of_images=1, countrate_correction_lookup_table=cbor2.CBORTag(70, table.tobytes())))
        sender.send(image_message(0, data={"threshold_1": typed(hot)}))
        sender.send(end_message())
        series_of(acq)
        return acq

    acq = azint(True)
    assert "1 pixels masked" in acq.scan.info["detector_description"]["pixel_mask"]
    assert np.nanmax(acq.scan.streams["intensity"][0]) < 2  # the hot pixel is left out
    np.testing.assert_array_equal(acq.scan.streams["countrate_correction_table"][0], table)
    deadline = time.monotonic() + 10
    while acq.scan.state != "CLOSED" and time.monotonic() < deadline:
        time.sleep(0.05)
    found = []
    with h5py.File(acq.scan.info["saving"]["master"]) as h5:
        h5.visititems(lambda name, obj: found.append(obj[()]) if name.endswith("countrate_correction_table") and isinstance(obj, h5py.Dataset) else None)
    assert found and np.array_equal(np.asarray(found[0]).ravel(), table)
    # the same frame without the detector's mask: the hot pixel is integrated
    assert np.nanmax(azint(False).scan.streams["intensity"][0]) > 100
