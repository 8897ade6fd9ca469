"""The `jungfraujoch` plugin end to end, against `daqlab-detector-sim --jungfraujoch`.

No Jungfraujoch broker can run here (it needs its FPGA boards or its own build): the counterpart is our
simulated broker, which serves the REST routes of Jungfraujoch's OpenAPI and a Stream2-compatible stream
synthesised from its stream description (int32 images in bslz4 or bitshuffle+zstd, `calibration` pedestals,
spots and azimuthal profiles in image messages and on the metadata PUB socket). PSI's own `jfjoch-client`
(generated from that OpenAPI, in its venv `.venv-jfjoch`) must parse every answer of the simulated broker.

Checked: frames equal the built-in simulator's (same scene and seed) as int32; `peaks`, `peak_counter` and
`intensity` equal the metadata messages the broker published (read independently with pyzmq + cbor2);
pedestal streams; software triggers; cancel; bad settings refused by name.
"""
from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import cbor2
import numpy as np
import pytest
import zmq

import daqlab
from procs import ReadyProcess

# the simulated broker makes frames slower than the 1 kHz asked (the tests need not wait for a real rate)
pytestmark = pytest.mark.filterwarnings("ignore::daqlab.FrameRateWarning")

ROOT = Path(__file__).resolve().parents[1]
SIM_CLI = ROOT / "daq-server" / "dist" / "src" / "detector-sim" / "cli.js"
JFJOCH_PYTHON = ROOT / ".venv-jfjoch" / "bin" / "python"
N = 12
SMX = {"scene": "serial_crystallography", "seed": 2, "hit_rate": 0.5, "spots_per_hit": 60, "spot_intensity": 1000, "pool_size": N}
GEOMETRY = {"beam_center_x": 515.0, "beam_center_y": 257.0, "detector_distance": 0.12, "incident_energy": 12400.0}


class JfjochSim(ReadyProcess):
    """One simulated Jungfraujoch broker on free loopback ports."""

    def __init__(self, config: dict, *args: str):
        rest = {k: v for k, v in config.items() if k not in ("scene", "seed")}
        super().__init__(["node", str(SIM_CLI), "--jungfraujoch", "--model", "eiger-500k", "--port", "0", "--stream-port", "0",
                          "--scene", config["scene"], "--seed", str(config["seed"]), "--config", json.dumps(rest), *args],
                         r"broker (http://\S+) stream (tcp://\S+) metadata (tcp://\S+)", timeout=60, what="daqlab-detector-sim --jungfraujoch")
        self.http, self.stream, self.metadata = self.ready.group(1), self.ready.group(2), self.ready.group(3)

    def status(self) -> dict:
        with urllib.request.urlopen(f"{self.http}/status", timeout=10) as r:
            return json.loads(r.read())


@pytest.fixture(scope="module")
def jfsim():
    sim = JfjochSim(SMX)
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def jclient(jfsim):
    from conftest import ServerProcess

    server = ServerProcess("--detector", "sim-eiger-500k", "--jungfraujoch", f"jf={jfsim.http}")
    c = daqlab.connect(server.url)
    yield c
    c.close()
    server.stop()


@pytest.fixture(scope="module")
def builtin(jclient):
    acq = jclient.detector("sim-eiger-500k").prepare(acquisition={"nb_frames": N, "expo_time": 0.01}, detector=SMX)
    acq.start()
    acq.wait(timeout=60, progress=False)
    return acq.scan.streams["frame"][0:N]


def float32_tag(*args):
    """RFC 8746 float32 arrays (the profile) as numpy; other tags as they are (cbor2 5 and 6 call hooks differently)."""
    tag = next(a for a in args if isinstance(a, cbor2.CBORTag))
    return np.frombuffer(tag.value, "<f4") if tag.tag == 85 else tag


class MetadataListener:
    """Jungfraujoch's metadata PUB socket, read with pyzmq and cbor2 (what a user's script would do)."""

    def __init__(self, address: str):
        self.ctx = zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"")
        self.sock.setsockopt(zmq.RCVTIMEO, 200)
        self.sock.connect(address)
        self.images: dict[int, dict] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            try:
                msg = cbor2.loads(self.sock.recv(), tag_hook=float32_tag)
            except zmq.Again:
                continue
            if msg.get("type") == "metadata":
                for image in msg["images"]:
                    self.images[image["image_id"]] = image

    def close(self):
        self.stop.set()
        self.thread.join()
        self.sock.close(0)


def wait_until(pred, timeout: float = 30):
    t0 = time.monotonic()
    while not pred():
        assert time.monotonic() - t0 < timeout, "timed out"
        time.sleep(0.05)


def run(client, config: dict | None = None, n: int = N, processing: dict | None = None, **acquisition):
    acq = client.detector("jf").prepare(acquisition={"nb_frames": n, "expo_time": 0.001, **acquisition},
                                       detector={**GEOMETRY, **(config or {})}, processing=processing or {})
    acq.start()
    return acq


def completed(acq, n: int = N, leftovers: bool = False):
    try:
        acq.wait(timeout=90, progress=False)
    except daqlab.errors.DaqlabError as e:
        raise AssertionError(f"{e}: {acq.scan.info.get('detector_series')}") from e
    assert acq.state == "STOPPED" and acq.reason == "completed", acq.status()
    series = acq.scan.info["detector_series"]
    assert series["counters"]["images_released"] == n and series["counters"]["invalid_images"] == 0, series
    # messages of another dataset (left queued after a cancel) are counted apart, never taken for this one's
    assert leftovers or not series["problems"], series["problems"]
    return acq


def test_jfjoch_client_parses_every_answer_of_the_simulated_broker():
    """PSI's generated client drives a whole dataset on the simulated broker: its models must accept our JSON."""
    assert JFJOCH_PYTHON.exists(), f"{JFJOCH_PYTHON} is missing: run DAQLAB_SETUP_FOR=test scripts/setup.sh"
    sim = JfjochSim({"scene": "flat", "seed": 1, "pool_size": 2})
    script = """
import sys, jfjoch_client as j
api = j.DefaultApi(j.ApiClient(j.Configuration(host=sys.argv[1])))
assert api.status_get().state == "Inactive"
api.initialize_post(); api.wait_till_done_post(timeout=10)
st = api.status_get(); assert st.state == "Idle", st
dl = api.config_select_detector_get(); d = dl.detectors[dl.current_id]
assert (d.width, d.height) == (1030, 514), d
assert api.config_detector_get().frame_time_us == 500
assert api.config_image_format_get().bit_depth_image == 32
assert api.config_zeromq_metadata_get().enabled
assert api.image_pusher_status_get().addr[0].startswith("tcp://")
assert api.detector_status_get().powerchip == j.DetectorPowerState.POWERON
try:
    api.start_post(j.DatasetSettings(beam_x_pxl=1, beam_y_pxl=1, detector_distance_mm=100, incident_energy_keV=12.4, image_time_us=700))
    raise SystemExit("an image time that is not a multiple of the frame time was accepted")
except j.ApiException as e:
    assert e.status == 400 and "image_time_us" in e.body, e
api.start_post(j.DatasetSettings(beam_x_pxl=1, beam_y_pxl=1, detector_distance_mm=100, incident_energy_keV=12.4, images_per_trigger=2, ntrigger=2, image_time_us=1000))
assert api.status_get().state == "Measuring"
try:
    api.start_post(j.DatasetSettings(beam_x_pxl=1, beam_y_pxl=1, detector_distance_mm=100, incident_energy_keV=12.4))
    raise SystemExit("a second start was accepted")
except j.ApiException as e:
    assert e.status == 500 and j.ErrorMessage.from_json(e.body).reason == "WrongDAQState", e
api.trigger_post(); api.cancel_post(); api.wait_till_done_post(timeout=10)
assert api.status_get().state == "Idle"
api.pedestal_post(); api.wait_till_done_post(timeout=10)
print("ok")
"""
    try:
        out = subprocess.run([str(JFJOCH_PYTHON), "-c", script, sim.http], capture_output=True, text=True, timeout=120)
    finally:
        sim.stop()
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-3000:]


@pytest.mark.parametrize("compression", ["bslz4", "bszstd"])
def test_frames_equal_the_simulator_and_results_equal_the_metadata_sent(jclient, jfsim, builtin, compression):
    listener = MetadataListener(jfsim.metadata)
    try:
        acq = completed(run(jclient, {"compression": compression, "min_spots_for_hit": 20}, processing={"nb_receivers": 2}))
        # the last metadata message travels on its own socket: it may come after the end of the image stream
        wait_until(lambda: len(listener.images) >= N, timeout=10)
    finally:
        listener.close()
    assert jfsim.status()["state"] == "Idle"
    streams = acq.scan.streams
    frames = streams["frame"][0:N]
    assert frames.dtype == np.int32
    np.testing.assert_array_equal(frames, builtin.astype(np.int32))

    sent = listener.images
    assert sorted(sent) == list(range(N)), sorted(sent)
    counters = sorted(streams["peak_counter"][0:N], key=lambda c: c["frame_idx"])
    assert [c["nb_peaks"] for c in counters] == [sent[i]["spot_count"] for i in range(N)]
    assert [c["is_hit"] for c in counters] == [sent[i]["spot_count"] >= 20 for i in range(N)]
    assert streams["peak_counter"].info["info"]["min_nb_peaks"] == 20
    assert any(c["nb_peaks"] > 0 for c in counters) and any(c["nb_peaks"] == 0 for c in counters)
    peaks = streams["peaks"][0:100000]
    got = sorted((p["frame_idx"], p["x"], p["y"], p["intensity"]) for p in peaks)
    want = sorted((i, s["x"], s["y"], s["I"]) for i in range(N) for s in sent[i]["spots"])
    assert got == want
    profiles = streams["intensity"][0:N]
    np.testing.assert_array_equal(profiles, np.stack([sent[i]["az_int_profile"] for i in range(N)]))
    assert streams["radial"].info["info"]["unit"] == "q_A^-1" and streams["radial"][0:1].shape == (1, 100)
    # the geometry of the dataset is the scan's
    poni = acq.scan.info["detector_description"]["geometry"]
    assert poni["dist"] == pytest.approx(0.12) and poni["poni2"] == pytest.approx(515 * 75e-6)


def test_calibration_messages_become_pedestal_streams(jclient):
    status = jclient.detector("jf").status()
    assert status["state"] == "Idle" and status["detector_status"]["powerchip"] == "PowerOn", status
    acq = completed(run(jclient, n=2), n=2)
    for gain, level in (("g0", 3000), ("g1", 1500), ("g2", 1000)):
        ped = acq.scan.streams[f"pedestal_{gain}"][0:1][0]
        assert ped.shape == (514, 1030) and ped.dtype == np.float32
        k = np.arange(514 * 1030, dtype=np.uint64)
        np.testing.assert_array_equal(ped.ravel(), (level + (k * 2654435761) % 97).astype(np.float32))


def test_software_triggers_and_a_pedestal_first(jclient, builtin):
    acq = run(jclient, {"pedestal": True}, n=4, trigger_mode="software", nb_frames_per_trigger=2)
    acq.trigger()
    # the broker acquires one trigger's images at a time
    wait_until(lambda: acq.counters["nb_frames_acquired"] >= 2)
    acq.trigger()
    acq = completed(acq, n=4)
    np.testing.assert_array_equal(acq.scan.streams["frame"][0:4], builtin[:4].astype(np.int32))
    assert acq.scan.info["detector_description"]["jungfraujoch"]["dataset_settings"]["ntrigger"] == 2


@pytest.mark.parametrize("how", ["stop", "abort"])
def test_stop_and_abort_cancel_the_dataset_and_keep_the_frames(jclient, jfsim, builtin, how):
    acq = run(jclient, n=400, expo_time=0.05)
    wait_until(lambda: acq.counters["nb_frames_acquired"] >= 3)
    getattr(acq, how)()
    acq.wait(timeout=30, progress=False)
    assert acq.state == "STOPPED" and acq.reason == {"stop": "stopped", "abort": "aborted"}[how]
    n = acq.counters["nb_frames_acquired"]
    assert 3 <= n < 400
    wait_until(lambda: jfsim.status()["state"] == "Idle", timeout=10)
    # the next dataset is whole, whatever of the cancelled one was still queued in the broker
    nxt = completed(run(jclient, n=2), n=2, leftovers=True)
    np.testing.assert_array_equal(nxt.scan.streams["frame"][0:2], builtin[:2].astype(np.int32))


@pytest.mark.parametrize("detector, acquisition, field", [
    ({"incident_energy": 600000.0}, {}, "detector.incident_energy"),
    ({"beam_center_x": None}, {}, "detector.beam_center_x"),
    ({}, {"expo_time": 0.00075}, "acquisition.expo_time"),
    ({}, {"nb_frames": 5, "trigger_mode": "software", "nb_frames_per_trigger": 2}, "acquisition.nb_frames"),
    ({"compression": "lz4"}, {}, "detector.compression"),
])
def test_bad_settings_are_refused_by_name_before_the_broker_is_touched(jclient, jfsim, detector, acquisition, field):
    config = {k: v for k, v in {**GEOMETRY, **detector}.items() if v is not None}
    with pytest.raises(daqlab.errors.DaqlabError) as e:
        jclient.detector("jf").prepare(acquisition={"nb_frames": 4, "expo_time": 0.001, **acquisition}, detector=config)
    assert field in str(e.value) or field in json.dumps(getattr(e.value, "fields", None) or []), e.value
    assert jfsim.status()["state"] == "Idle"


def test_a_broker_gone_mid_dataset_faults_the_run_and_keeps_the_frames(make_server):
    sim = JfjochSim({"scene": "flat", "seed": 1, "pool_size": 2})
    try:
        server = make_server("--detector", "sim-eiger-500k", "--jungfraujoch", f"gone={sim.http}")
        with daqlab.connect(server.url) as c:
            acq = c.detector("gone").prepare(acquisition={"nb_frames": 400, "expo_time": 0.05}, detector=GEOMETRY)
            acq.start()
            wait_until(lambda: acq.counters["nb_frames_acquired"] >= 3)
            sim.stop()
            with pytest.raises(daqlab.errors.DaqlabError):
                acq.wait(timeout=30, progress=False)
            assert acq.state == "FAULT" and "broker does not answer" in acq.reason, acq.reason
            assert acq.counters["nb_frames_acquired"] >= 3
            assert len(acq.scan.streams["frame"]) >= 3
            # the server goes on: the built-in simulator still acquires
            other = c.detector("sim-eiger-500k").prepare(acquisition={"nb_frames": 2, "expo_time": 0.01})
            other.start()
            other.wait(timeout=30, progress=False)
            assert other.reason == "completed"
    finally:
        sim.stop()


def test_results_from_the_metadata_socket_alone(make_server):
    """A broker that puts its analysis only on the metadata PUB socket: daqlab's SUB receiver gets the same streams."""
    sim = JfjochSim(SMX, "--results-in", "metadata")
    try:
        server = make_server("--detector", "sim-eiger-500k", "--jungfraujoch", f"meta={sim.http}")
        with daqlab.connect(server.url) as c:
            listener = MetadataListener(sim.metadata)
            try:
                acq = c.detector("meta").prepare(acquisition={"nb_frames": N, "expo_time": 0.001}, detector=GEOMETRY)
                acq.start()
                acq = completed(acq)
                wait_until(lambda: len(listener.images) >= N, timeout=10)
            finally:
                listener.close()
            sent = listener.images
            # the last metadata message may come after the image stream's end: what daqlab has is a prefix, in order
            counters = sorted(acq.scan.streams["peak_counter"][0:N], key=lambda e: e["frame_idx"])
            assert len(counters) >= 8, counters
            assert [e["nb_peaks"] for e in counters] == [sent[e["frame_idx"]]["spot_count"] for e in counters]
            assert acq.scan.info["detector_series"]["results"]["duplicates"] == 0
    finally:
        sim.stop()
