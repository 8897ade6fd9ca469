"""The Python half of the widgets, without a browser: what LiveImage puts in its synced state."""
from __future__ import annotations

import pytest
from traitlets import TraitError

from daqlab.widgets import LiveImage, browser_url


def test_browser_url(monkeypatch):
    monkeypatch.delenv("DAQLAB_BROWSER_URL", raising=False)
    # a server on the Jupyter machine: through jupyter-server-proxy, relative to Jupyter's base URL
    assert browser_url("ws://127.0.0.1:8765/ws") == "proxy/8765/ws"
    assert browser_url("localhost:9000") == "proxy/9000/ws"
    # elsewhere: the browser goes there itself
    assert browser_url("ws://det-server.lan:8765/ws") == "ws://det-server.lan:8765/ws"
    monkeypatch.setenv("DAQLAB_BROWSER_URL", "wss://hub.example.org/daq/ws")
    assert browser_url("ws://127.0.0.1:8765/ws") == "wss://hub.example.org/daq/ws"


def test_liveimage_state(client, server, monkeypatch):
    monkeypatch.delenv("DAQLAB_BROWSER_URL", raising=False)
    acq = client.detector("sim-camera").prepare(acquisition={"nb_frames": 3, "expo_time": 0.01})
    acq.start()
    acq.wait(progress=False)
    live = LiveImage(acq, colormap="inferno", scale="sqrt")
    state = live.get_state()
    assert state["_view_module"] == "@daqlab/widgets" and state["_view_name"] == "LiveImageView"
    assert state["scan"] == acq.scan.key and state["stream"] == "frame" and state["follow"] is False
    assert state["server_url"] == f"proxy/{server.port}/ws"
    assert (state["colormap"], state["scale"]) == ("inferno", "sqrt")
    assert LiveImage(acq.scan.streams["frame"]).scan == acq.scan.key
    newest = LiveImage(client=client)
    assert newest.scan == "" and newest.follow is True
    with pytest.raises(TraitError):
        live.colormap = "jet"
    with pytest.raises(TraitError):
        live.rois = [[0, 0, 0, 5]]
    with pytest.raises(TraitError):  # fps is measured by the view, not set from Python
        live.fps = 3.0
    # the view's messages set state as the widget protocol does
    live.set_state({"rois": [[10, 20, 30, 40]], "fps": 12.5})
    assert live.rois == [[10, 20, 30, 40]] and live.fps == 12.5
    with pytest.raises(TypeError):
        LiveImage(42)


def test_liveimage_browsing_overlays_and_rois_for_the_pipeline(client):
    acq = client.detector("sim-camera").prepare(acquisition={"nb_frames": 2, "expo_time": 0.01})
    live = LiveImage(acq)
    state = live.get_state()
    assert state["colormap"] == ""  # the JupyterLab setting's default colormap decides
    assert (state["index"], state["show_mask"], state["show_peaks"], state["peaks_stream"]) == (-1, True, True, "peaks")
    live.index = 1
    with pytest.raises(TraitError, match="index"):
        live.index = -2
    for name, value in [("latency", 3.0), ("view", [0, 0, 1, 1, 1]), ("length", 3)]:
        with pytest.raises(TraitError):  # measured by the view
            setattr(live, name, value)
    live.set_state({"rois": [[10, 20, 30, 40], [0, 0, 5, 5]], "latency": 42.0, "view": [0, 0, 1024, 1024, 2], "length": 2})
    assert live.latency == 42.0 and live.view == [0, 0, 1024, 1024, 2] and live.length == 2
    rois = live.legacy_rois()
    assert rois == [{"name": "roi0", "roi": [10, 20, 30, 40]}, {"name": "roi1", "roi": [0, 0, 5, 5]}]
    acq.abort()
    # the legacy pipeline takes them as they are
    legacy = client.detector("sim-camera").prepare(acquisition={"nb_frames": 2, "expo_time": 0.01},
                                                   processing={"pipeline": "legacy", "rois": rois})
    legacy.start()
    legacy.wait(progress=False)
    stats = legacy.scan.streams["roi_stats"][0:2]
    assert len(stats) == 2


def test_chart_widgets_state(client, server, monkeypatch):
    from daqlab.widgets import HitRate, Profile, Progress, RoiStats

    monkeypatch.delenv("DAQLAB_BROWSER_URL", raising=False)
    acq = client.detector("sim-camera").prepare(acquisition={"nb_frames": 2, "expo_time": 0.01})
    acq.start()
    acq.wait(progress=False)
    hr = HitRate(acq, window=50)
    state = hr.get_state()
    assert (state["_view_module"], state["_view_name"], state["_model_name"]) == ("@daqlab/widgets", "HitRateView", "HitRateModel")
    assert state["scan"] == acq.scan.key and state["stream"] == "peak_counter" and state["follow"] is False
    assert state["server_url"] == f"proxy/{server.port}/ws"
    assert (state["window"], state["max_points"], state["hit_fraction"]) == (50, 5000, 0.0)
    with pytest.raises(TraitError):  # measured by the view
        hr.hit_fraction = 0.5
    with pytest.raises(TraitError):
        hr.window = 0
    with pytest.raises(TraitError):
        hr.max_points = 2
    hr.set_state({"hit_fraction": 0.25})
    assert hr.hit_fraction == 0.25
    assert HitRate(client=client).follow is True and HitRate(client=client).scan == ""

    p = Profile(acq.scan, log_y=True)
    assert (p.stream, p.radial_stream, p.log_y, p.get_state()["_view_name"]) == ("intensity", "radial", True, "ProfileView")
    r = RoiStats(acq, roi=1, statistic="mean")
    assert (r.stream, r.roi, r.statistic, r.get_state()["_view_name"]) == ("roi_stats", 1, "mean", "RoiStatsView")
    with pytest.raises(TraitError):
        r.statistic = "median"
    with pytest.raises(TraitError):
        r.roi = -1

    pg = Progress(acq)
    state = pg.get_state()
    assert (state["_view_name"], state["acquisition"], state["follow"]) == ("ProgressView", acq.uuid, False)
    assert state["server_url"] == f"proxy/{server.port}/ws"
    newest = Progress(client=client)
    assert newest.acquisition == "" and newest.follow is True
    with pytest.raises(TypeError):
        Progress(42)
    with pytest.raises(TypeError, match="HitRate"):
        HitRate(3.5)
