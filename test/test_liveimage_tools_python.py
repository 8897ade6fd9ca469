"""LiveImage's tools on the Python side, without a browser: the new traits and their checks, and
save_png's request/response over the widget comm (the view's answer is played by the test)."""
from __future__ import annotations

import pytest
from traitlets import TraitError

from daqlab.widgets import LiveImage

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


def test_tool_traits_defaults_and_checks(client):
    acq = client.detector("sim-camera").prepare(acquisition={"nb_frames": 2, "expo_time": 0.01})
    live = LiveImage(acq, profile="horizontal", profile_width=5, rings="2theta")
    state = live.get_state()
    assert state["auto_percentiles"] == [1.0, 99.5] and state["auto_range"] is True
    assert state["auto_scope"] == "frame", "autoscale on the whole frame: zooming does not move the levels"
    assert (state["profile"], state["profile_width"], state["profile_line"], state["rings"], state["show_axes"]) == (
        "horizontal", 5, [], "2theta", True)
    live.auto_percentiles = [0.1, 99.9]
    live.profile_line = [10, 0, 10, 100]
    for name, bad in [("auto_percentiles", [99, 1]), ("auto_percentiles", [0, 101]), ("profile_line", [1, 2, 3]),
                      ("profile_width", 0), ("profile", "circle"), ("rings", "d"), ("auto_scope", "zoom")]:
        with pytest.raises(TraitError, match=name.split("_")[0]):
            setattr(live, name, bad)
    acq.abort()


def test_save_png_needs_a_view_and_writes_what_the_view_sends(client, tmp_path):
    acq = client.detector("sim-camera").prepare(acquisition={"nb_frames": 2, "expo_time": 0.01})
    live = LiveImage(acq)
    with pytest.raises(RuntimeError, match="no view of this LiveImage is displayed"):
        live.save_png(tmp_path / "a.png")
    sent: list[dict] = []
    live.send = lambda content, buffers=None: sent.append(content)  # the comm to the browser
    live.set_state({"_view_count": 1})  # the frontend counts its views
    with pytest.raises(FileNotFoundError, match="does not exist"):
        live.save_png(tmp_path / "missing" / "a.png")
    fut = live.save_png(tmp_path / "a.png")
    assert sent[-1]["type"] == "png" and not fut.done()
    live._on_view_msg(live, {"type": "png", "id": sent[-1]["id"]}, [memoryview(PNG)])
    assert fut.result(timeout=1) == PNG and (tmp_path / "a.png").read_bytes() == PNG
    # the view could not draw: the Future says why, no file
    fut = live.save_png(tmp_path / "b.png")
    live._on_view_msg(live, {"type": "png", "id": sent[-1]["id"], "error": "no frame drawn yet"}, [])
    with pytest.raises(RuntimeError, match="no frame drawn yet"):
        fut.result(timeout=1)
    assert not (tmp_path / "b.png").exists()
    acq.abort()
