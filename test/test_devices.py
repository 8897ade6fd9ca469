"""Devices in the server: axes (motion, limits, LIMIT/FAULT, encoder), counters, the MCA's ROIs,
seen through daqlab's proxies and the raw protocol."""
from __future__ import annotations

import threading

import pytest

import daqlab
from daqlab.scanning import mv, umv, wm

AXES = ("samx", "samy", "samz", "omega")
DEFAULT_LIMITS = {"samx": [-10, 10], "samy": [-10, 10], "samz": [-5, 5], "omega": [-360, 360]}


def reset_devices(c) -> None:
    """Put the shared server's devices back as they start (other tests may have moved them)."""
    for name in AXES:
        a = c.axis(name)
        a.stop()
        a.reset()
        a.configure(limits=DEFAULT_LIMITS[name], fault_at=None)
    mv(*[x for name in AXES for x in (c.axis(name), 0)])
    c.mca("mca").rois.clear()


@pytest.fixture
def dev(client):
    reset_devices(client)
    yield client
    reset_devices(client)


def test_the_default_simulated_set_in_one_registry(dev):
    assert dev.devices() == ["samx", "samy", "samz", "omega", "i0", "diode", "mca"]
    kinds = {d["name"]: d["kind"] for d in dev.call("devices.list")["devices"]}
    assert kinds == {"samx": "axis", "samy": "axis", "samz": "axis", "omega": "axis", "i0": "counter",
                     "diode": "counter", "mca": "mca"}
    assert isinstance(dev.device("samy"), daqlab.devices.Axis)
    assert isinstance(dev.device("diode"), daqlab.devices.Counter)
    assert dev.mca("mca").info()["channels"] == 4096
    with pytest.raises(daqlab.NotFoundError, match="samx, samy, samz, omega"):
        dev.axis("samq")
    with pytest.raises(daqlab.NotFoundError, match="not a axis|is a counter"):
        dev.axis("diode")


def test_move_wait_position_encoder_and_state_events(dev, server):
    samy = dev.axis("samy")
    events = []
    seen = threading.Event()

    def on_state(msg):
        if msg["device"]["name"] == "samy":
            events.append(msg["device"]["state"])
            if msg["device"]["state"] == "READY" and "MOVING" in events:
                seen.set()

    # a second client sees the same axis move (devices live in the server)
    other = daqlab.connect(server.url)
    try:
        other.on("device.state", on_state)
        samy.move(1.2345)
        assert samy.state == "READY"
        assert samy.position == pytest.approx(1.2345)
        assert samy.encoder == pytest.approx(1.2345, abs=1e-4)
        assert other.axis("samy").position == pytest.approx(1.2345)
        assert seen.wait(5), events
        # wait=False returns while it moves; the profile brings it there
        samy.move(-1.0, wait=False)
        assert samy.state == "MOVING"
        samy.wait_move(10)
        assert samy.position == pytest.approx(-1.0)
        samy.move(0.5, relative=True)
        assert samy.position == pytest.approx(-0.5)
    finally:
        other.close()


def test_limits_refused_with_the_axis_named_and_nothing_moves(dev):
    samy, samz = dev.axis("samy"), dev.axis("samz")
    with pytest.raises(daqlab.ParameterError, match="samy: 11 is outside the limits") as err:
        samy.move(11)
    assert err.value.fields[0]["field"] == "position"
    assert samy.position == 0 and samy.state == "READY"
    samz.limits = (-1, 1)
    assert samz.limits == (-1, 1)
    # umv checks every target before anything moves
    with pytest.raises(daqlab.ParameterError, match="samz"):
        umv(samy, 2, samz, 3)
    assert samy.position == 0
    with pytest.raises(daqlab.ParameterError) as err:
        samz.configure(limits=[2, 1])
    assert err.value.fields[0]["field"] == "limits"
    with pytest.raises(daqlab.ParameterError) as err:
        samz.configure(velocity="fast")
    assert err.value.fields[0]["field"] == "velocity"


def test_umv_and_wm(dev, capsys):
    samx, samy = dev.axis("samx"), dev.axis("samy")
    umv(samx, 0.25, samy, -0.75)
    out = capsys.readouterr().out
    assert "samx" in out and "0.25" in out and "-0.75" in out
    assert wm(samx, samy) == pytest.approx({"samx": 0.25, "samy": -0.75})


def test_hardware_limit_and_simulated_fault_then_reset(dev):
    samx = dev.axis("samx")
    samx.limits = (-20, 20)  # wider than the travel (±12)
    with pytest.raises(daqlab.FaultError, match="LIMIT"):
        samx.move(15)
    assert samx.state == "LIMIT" and samx.position == pytest.approx(12)
    samx.move(0)  # away from the switch
    samx.configure(fault_at=0.5)
    with pytest.raises(daqlab.FaultError, match="simulated fault at 0.5"):
        samx.move(1)
    assert samx.state == "FAULT" and samx.position == pytest.approx(0.5)
    with pytest.raises(daqlab.StateError, match="FAULT"):
        samx.move(0)
    samx.reset()
    samx.configure(fault_at=None)
    samx.move(0)
    assert samx.state == "READY"


def test_mca_rois(dev):
    mca = dev.mca("mca")
    mca.rois.add("Fe", 6300, 6500)
    mca.rois.add("Cu", 7900, 8200)
    assert [r["name"] for r in mca.rois] == ["Fe", "Cu"]
    assert mca.rois["Fe"] == {"name": "Fe", "start": 6300, "stop": 6500}
    assert mca.energy[1] - mca.energy[0] == pytest.approx(mca.calibration["gain"])
    mca.rois.remove("Cu")
    assert len(mca.rois) == 1
    with pytest.raises(daqlab.ParameterError) as err:
        mca.rois.add("Zn", 9000, 8000)
    assert err.value.fields[0]["field"] == "stop"
    with pytest.raises(daqlab.NotFoundError, match="no ROI"):
        mca.rois.remove("Ni")


def test_raw_protocol_names_bad_fields(dev):
    for req, field in [
        ({"axis": "samy", "position": "1"}, "position"),
        ({"axis": "samy", "position": 1, "relative": "yes"}, "relative"),
        ({"axis": 3, "position": 1}, "axis"),
    ]:
        with pytest.raises(daqlab.ParameterError) as err:
            dev.call("axis.move", req)
        assert err.value.fields[0]["field"] == field
    with pytest.raises(daqlab.ParameterError, match="colour: unknown"):
        dev.call("axis.configure", axis="samy", colour="red")
    truth = dev.sample()
    assert set(truth["elements"]) == {"Ca", "Fe", "Cu", "Zn"} and truth["flux"] > 0
