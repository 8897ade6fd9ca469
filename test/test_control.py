"""The LIMA2 control model through the API: validation at prepare, states, triggers, stop, abort, fault."""
from __future__ import annotations

import time

import numpy as np
import pytest

import daqlab
from conftest import wait_until


def test_prepare_reports_every_bad_field_by_name(client):
    det = client.detector("sim-eiger-500k")
    with pytest.raises(daqlab.ParameterError) as e:
        det.prepare(
            acquisition={"nb_frames": -5, "expo_time": "1ms", "trigger_mode": "sometimes", "colour": "red"},
            detector={"scene": "moon", "seed": 1.5},
            scan={"number": -1},
        )
    fields = {f["field"] for f in e.value.fields}
    assert {
        "acquisition.nb_frames",
        "acquisition.expo_time",
        "acquisition.trigger_mode",
        "acquisition.colour",
        "detector.scene",
        "detector.seed",
        "scan.number",
    } <= fields
    assert "acquisition.colour" in str(e.value)
    # nothing was prepared
    assert det.state == "IDLE" or det.state in ("STOPPED",)


def test_a_period_faster_than_the_detector_is_refused(client):
    with pytest.raises(daqlab.ParameterError) as e:
        client.detector("sim-camera").prepare(acquisition={"nb_frames": 10, "expo_time": 1e-5})
    assert [f["field"] for f in e.value.fields] == ["acquisition.expo_time"]
    assert "Hz" in e.value.fields[0]["message"]


def test_illegal_transitions_are_state_errors(client):
    det = client.detector("sim-camera")
    acq = det.prepare(acquisition={"nb_frames": 0, "expo_time": 0.01})
    assert acq.state == "PREPARED" and det.state == "PREPARED"
    with pytest.raises(daqlab.StateError, match="PREPARED"):
        acq.stop()
    acq.start()
    with pytest.raises(daqlab.StateError, match="software"):
        acq.trigger()
    assert acq.state == "RUNNING"
    with pytest.raises(daqlab.StateError, match="RUNNING"):
        det.prepare(acquisition={"nb_frames": 1})
    with pytest.raises(daqlab.StateError):
        acq.start()
    assert wait_until(lambda: acq.counters["nb_frames_acquired"] >= 2)
    acq.stop()
    assert acq.state == "STOPPED"
    acq.stop()  # stopping an ended acquisition does nothing (issue 14)
    assert acq.state == "STOPPED"
    # until-stopped acquisition kept what it acquired
    n = acq.counters["nb_frames_acquired"]
    assert n >= 1 and len(acq.scan.streams["frame"]) == n
    assert acq.scan.info["end_reason"] == "stopped"


def test_software_trigger_acquires_frames_per_trigger(client):
    det = client.detector("sim-eiger-500k")
    acq = det.prepare(
        acquisition={"nb_frames": 6, "expo_time": 0.001, "trigger_mode": "software", "nb_frames_per_trigger": 3},
        detector={"scene": "flat"},
    )
    acq.start()
    time.sleep(0.2)
    assert acq.counters["nb_frames_acquired"] == 0
    acq.trigger()
    assert wait_until(lambda: acq.counters["nb_frames_acquired"] == 3)
    time.sleep(0.1)
    assert acq.counters["nb_frames_acquired"] == 3 and acq.state == "RUNNING"
    acq.trigger()
    acq.wait(timeout=10, progress=False)
    assert acq.state == "STOPPED" and acq.counters["nb_frames_acquired"] == 6
    with pytest.raises(daqlab.StateError):
        acq.trigger()


def test_abort_keeps_what_was_acquired(client):
    acq = client.detector("sim-camera").prepare(acquisition={"nb_frames": 1000, "expo_time": 0.01})
    acq.start()
    assert wait_until(lambda: acq.counters["nb_frames_acquired"] >= 3)
    acq.abort()
    assert acq.state == "STOPPED"
    n = acq.counters["nb_frames_acquired"]
    s = acq.scan.streams["frame"]
    assert 3 <= n < 1000 and len(s) == n and s.sealed
    assert s[-1].shape == (1024, 1024)
    assert acq.scan.info["end_reason"] == "aborted"


def test_a_detector_fault_puts_fault_and_reset_recovers(client):
    det = client.detector("sim-camera")
    acq = det.prepare(acquisition={"nb_frames": 50, "expo_time": 0.01}, detector={"fault_at_frame": 5})
    acq.start()
    with pytest.raises(daqlab.FaultError, match="fault"):
        acq.wait(timeout=10, progress=False)
    assert acq.state == "FAULT" and det.state == "FAULT"
    # the frames before the fault stay readable
    s = acq.scan.streams["frame"]
    assert len(s) == 5 and s[4].shape == (1024, 1024)
    with pytest.raises(daqlab.StateError, match="reset"):
        det.prepare(acquisition={"nb_frames": 1})
    det.reset()
    assert det.state == "IDLE"
    acq2 = det.prepare(acquisition={"nb_frames": 2, "expo_time": 0.01})
    acq2.start()
    acq2.wait(timeout=10, progress=False)
    assert acq2.counters["nb_frames_acquired"] == 2


def test_lost_packets_mark_frames_invalid_never_silently(client):
    acq = client.detector("sim-eiger-500k").prepare(
        acquisition={"nb_frames": 20, "expo_time": 0.001}, detector={"scene": "flat", "lost_frames": [3, 11]}
    )
    acq.start()
    acq.wait(timeout=10, progress=False)
    assert acq.counters["nb_frames_invalid"] == 2
    batch = acq.scan.streams["frame"].read_batch(0, 20)
    assert [int(i) for i in np.flatnonzero(~np.asarray(batch.valid))] == [3, 11]


def test_a_new_acquisition_can_be_prepared_as_soon_as_the_previous_stopped(client):
    det = client.detector("sim-camera")
    first = det.prepare(acquisition={"nb_frames": 3, "expo_time": 0.01})
    first.start()
    first.wait(timeout=10, progress=False)
    second = det.prepare(acquisition={"nb_frames": 3, "expo_time": 0.01})
    assert second.uuid != first.uuid and second.scan.key != first.scan.key
    with pytest.raises(daqlab.StateError, match="not the current"):
        first.start()
    second.start()
    second.wait(timeout=10, progress=False)
    assert first.scan.streams["frame"][0].shape == second.scan.streams["frame"][0].shape


def test_wait_shows_a_progress_bar_in_a_terminal(client, capsys):
    acq = client.detector("sim-camera").prepare(acquisition={"nb_frames": 10, "expo_time": 0.01})
    acq.start()
    acq.wait(timeout=10, progress=True)
    err = capsys.readouterr().err
    assert "10/10" in err
