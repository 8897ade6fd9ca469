"""ScanPlot: selecting a point shows that point's frame in a LiveImage (ScanPlot.show_frames): the view sets `selected`
on a click, Python points the LiveImage at the step scan's `<detector>:image` stream, frame `selected`."""
from __future__ import annotations

import numpy as np
import pytest

from daqlab.scanning import ascan
from daqlab.widgets import LiveImage, ScanPlot
from test_devices import reset_devices

DET = "sim-eiger-500k"


def test_selecting_a_point_shows_its_frame(client):
    reset_devices(client)
    s = ascan(client.axis("samy"), 0, 0.2, 2, 0.01, "diode", client.detector(DET))
    sp = ScanPlot(s, client=client)
    live = sp.show_frames()
    assert isinstance(live, LiveImage) and live.scan == s.key and live.stream == f"{DET}:image" and not live.follow
    sp.selected = 2
    assert (live.scan, live.stream, live.index, live.follow) == (s.key, f"{DET}:image", 2, False)
    # that index is the third point's frame: the one the detector took at samy = 0.2
    frames = s.scan.streams[f"{DET}:image"]
    assert len(frames) == 3 and s.get_data("samy")["samy"][2] == pytest.approx(0.2)
    assert np.asarray(frames[2]).shape == (514, 1030)
    sp.selected = 0
    assert live.index == 0
    # an existing LiveImage is reused; a scan without frames of that detector is refused, named
    other = LiveImage(client=client)
    assert sp.show_frames(other, detector=DET) is other
    with pytest.raises(ValueError, match="detector: scan .* has no frames of sim-camera"):
        sp.show_frames(detector="sim-camera")
    counters_only = ascan(client.axis("samy"), 0, 0.1, 1, 0.01, "diode")
    with pytest.raises(ValueError, match="has no frames of any detector"):
        ScanPlot(counters_only, client=client).show_frames()
