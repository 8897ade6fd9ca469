"""What a new user meets first (issue 14): what wait() returns, the one rate of the progress bar,
loud dropped frames, continuous acquisition said explicitly, short tracebacks, exported errors,
stop/abort on a finished run."""
from __future__ import annotations

import re
import socket
import traceback
import warnings
from pathlib import Path

import pytest

import daqlab

PACKAGE = Path(daqlab.__file__).resolve().parent


def test_wait_returns_a_short_result_with_the_final_numbers_never_stale(client):
    acq = client.detector("sim-eiger-500k").prepare(acquisition={"nb_frames": 50, "expo_time": 0.001},
                                                    scan={"name": "ux-result"})
    result = acq.start().wait(timeout=30, progress=False)
    assert isinstance(result, daqlab.AcqResult)
    text = repr(result)
    assert len(text) < 200 and "\n" not in text, text
    assert (result.state, result.acquired, result.processed, result.dropped) == ("STOPPED", 50, 50, 0)
    assert result.scan == acq.scan.key and result.nb_frames == 50
    assert result.rate_asked == pytest.approx(1000)
    assert result.rate == pytest.approx(result.acquired / result.elapsed)
    assert "50/50 frames" in text and "frames/s" in text
    # the complete final status is still there, without the scan as it was at prepare
    assert result["state"] == "STOPPED" and result["counters"]["nb_frames_acquired"] == 50
    assert "scan_summary" not in result.status
    # the scan is seen as it ended: closed, its stream sealed with every frame
    scan = acq.scan
    assert scan.summary["state"] == "CLOSED" and "CLOSED" in repr(scan)
    frames = scan.summary["streams"][0]
    assert frames["name"] == "frame" and frames["length"] == 50 and frames["sealed"]


def test_wait_refreshes_a_scan_object_taken_before_the_run(client):
    acq = client.detector("sim-camera").prepare(acquisition={"nb_frames": 5, "expo_time": 0.01})
    scan = acq.scan  # taken at prepare
    assert scan.summary["state"] == "PREPARED"
    acq.start().wait(timeout=30, progress=False)
    assert scan.summary["state"] == "CLOSED"
    assert [s["length"] for s in scan.summary["streams"] if s["name"] == "frame"] == [5]


def test_the_progress_bar_shows_one_rate_that_agrees_with_the_result(client, capsys):
    acq = client.detector("sim-eiger-500k").prepare(acquisition={"nb_frames": 200, "expo_time": 0.001})
    result = acq.start().wait(timeout=30)
    err = capsys.readouterr().err
    final = err.replace("\r", "\n").strip().splitlines()[-1]
    assert "frame/s" not in err and "it/s" not in err, final  # tqdm's own rate is not shown
    assert final.count("fps=") == 1 and "200/200" in final, final
    shown = float(re.search(r"fps=([\d.]+)", final).group(1))
    assert shown == pytest.approx(result.rate, abs=0.06), (final, result)


def test_dropped_frames_are_loud(client, capsys):
    # one receiver that may hold one frame, at 2 kHz: most frames are dropped
    acq = client.detector("sim-eiger-500k").prepare(acquisition={"nb_frames": 60, "expo_time": 0.0005},
                                                    processing={"pipeline": "smx", "max_pending": 1})
    with pytest.warns(daqlab.DroppedFramesWarning) as record:
        result = acq.start().wait(timeout=60)
    assert result.dropped > 0 and result.processed + result.dropped == 60
    message = str(record[0].message)
    assert f"{result.dropped} of 60 frames ({100 * result.dropped / 60:.1f} %)" in message
    assert "nb_receivers" in message
    assert record[0].filename == __file__  # points at the user's call, not into daqlab
    assert f"dropped={result.dropped} (" in capsys.readouterr().err
    info = acq.scan.info
    assert any("dropped" in w for w in info["warnings"])
    assert info["counters"]["nb_frames_dropped"] == result.dropped
    assert info["frame_rate"]["asked"] == pytest.approx(2000) and info["frame_rate"]["achieved"] > 0
    assert issubclass(daqlab.DroppedFramesWarning, daqlab.DaqlabWarning)


def test_a_clean_run_does_not_warn(client):
    acq = client.detector("sim-camera").prepare(acquisition={"nb_frames": 10, "expo_time": 0.01})
    with warnings.catch_warnings():
        warnings.simplefilter("error", daqlab.DaqlabWarning)
        result = acq.start().wait(timeout=30, progress=False)
    assert result.dropped == 0 and result.warnings == ()
    assert acq.scan.info["warnings"] == []


def test_continuous_acquisition_is_explicit(client, capsys):
    det = client.detector("sim-camera")
    with pytest.raises(daqlab.ParameterError) as e:
        det.prepare(acquisition={"nb_frames": -1})
    (field,) = e.value.fields
    assert field["field"] == "acquisition.nb_frames"
    assert "must be >= 0" in field["message"] and "0 = continuous" in field["message"] and "stop()" in field["message"]
    assert "continuous" in det.schema()["properties"]["acquisition"]["properties"]["nb_frames"]["description"]
    acq = det.prepare(acquisition={"nb_frames": 0, "expo_time": 0.01})
    assert acq.continuous and "continuous" in repr(acq)
    acq.start()
    import threading

    threading.Timer(0.3, acq.stop).start()
    result = acq.wait(timeout=30)
    assert "continuous until stop()" in capsys.readouterr().err
    assert result.nb_frames == 0 and result.acquired > 0 and "continuous" in repr(result)


def test_stop_and_abort_on_a_finished_acquisition_do_nothing(client):
    det = client.detector("sim-camera")
    acq = det.prepare(acquisition={"nb_frames": 3, "expo_time": 0.01})
    acq.start().wait(timeout=30, progress=False)
    assert acq.stop() is acq and acq.abort() is acq
    assert acq.state == "STOPPED" and acq.reason == "completed"
    # also once a newer acquisition has replaced it on the detector
    newer = det.prepare(acquisition={"nb_frames": 1, "expo_time": 0.01})
    acq.stop()
    acq.abort()
    assert acq.state == "STOPPED" and newer.state == "PREPARED"
    newer.abort()


def test_errors_a_user_meets_are_exported_and_documented():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for name in ("ServerUnreachable", "NotFoundError", "TimeoutError", "ParameterError", "StateError",
                 "FaultError", "DroppedFramesWarning", "FrameRateWarning"):
        assert name in daqlab.__all__ and hasattr(daqlab, name), name
        assert f"daqlab.{name}" in readme, name
    assert issubclass(daqlab.TimeoutError, TimeoutError)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(daqlab.ServerUnreachable):
        daqlab.connect(f"ws://127.0.0.1:{port}/ws", timeout=2)


def _daqlab_frames(err: BaseException) -> list:
    return [f for f in traceback.extract_tb(err.__traceback__) if Path(f.filename).resolve().is_relative_to(PACKAGE)]


def test_server_errors_surface_at_the_users_call(client):
    with pytest.raises(daqlab.ParameterError) as e:
        client.detector("sim-camera").prepare(acquisition={"nb_frames": -1})
    assert len(_daqlab_frames(e.value)) <= 1, traceback.format_tb(e.value.__traceback__)
    with pytest.raises(daqlab.NotFoundError) as e:
        client.detector("no-such-detector")
    assert len(_daqlab_frames(e.value)) <= 1, traceback.format_tb(e.value.__traceback__)
    acq = client.detector("sim-camera").prepare(acquisition={"nb_frames": 1, "expo_time": 0.01})
    with pytest.raises(daqlab.StateError) as e:
        acq.trigger()
    assert len(_daqlab_frames(e.value)) <= 1, traceback.format_tb(e.value.__traceback__)
    acq.abort()
