"""Receiver hosts register with their control server (issue 17, groundwork): `daqlab-server --role receiver
--control ws://CONTROL:PORT` on loopback. The control server lists them in /status while their connection
lives, refuses a receiver whose pipelines differ (here: one started with a plugin the control server lacks),
one whose protocol differs, a name already taken, and a wrong token. The remote frame path is not built yet."""
from __future__ import annotations

import json

import pytest

import daqlab
from conftest import ROOT, wait_until

PLUGIN = str(ROOT / "test" / "plugins" / "frame_stats.mjs")


def receivers(control) -> list[dict]:
    return json.load(control.get("/status", token="T" if "--token" in control.proc.args else None)).get("receivers")


def registration(**over) -> dict:
    """A well-formed registration with this build's pipeline versions (taken from a registered host's view)."""
    return {"name": "raw", "address": "127.0.0.1", "port": 1, "protocol": 1, "version": "0.1.0", "pipelines": {}, **over}


@pytest.fixture(scope="module")
def control():
    from conftest import ServerProcess

    s = ServerProcess("--role", "control", "--detector", "sim-eiger-500k")
    yield s
    s.stop()


def test_receivers_register_and_leave(control, make_server):
    a = make_server("--role", "receiver", "--control", control.url, "--host-name", "recv-a", "--detector", "sim-eiger-500k")
    b = make_server("--role", "receiver", "--control", control.url, "--host-name", "recv-b", "--detector", "sim-eiger-500k")
    assert wait_until(lambda: {r["name"] for r in receivers(control)} >= {"recv-a", "recv-b"}, 20), receivers(control)
    by_name = {r["name"]: r for r in receivers(control)}
    assert by_name["recv-a"]["port"] == a.port and by_name["recv-b"]["port"] == b.port
    assert by_name["recv-a"]["address"] == "127.0.0.1" and by_name["recv-a"]["version"] == "0.1.0"
    assert by_name["recv-a"]["remote"].rsplit(":", 1)[0].endswith("127.0.0.1")
    assert wait_until(lambda: "registered with the control server" in a.log, 10), a.log
    # the same list over the protocol
    with daqlab.connect(control.url) as c:
        assert {r["name"] for r in c.call("receivers.list")["receivers"]} >= {"recv-a", "recv-b"}
    # a receiver that goes away leaves the registry
    a.stop()
    assert wait_until(lambda: "recv-a" not in {r["name"] for r in receivers(control)}, 10), receivers(control)
    assert wait_until(lambda: "receiver host left" in control.log, 5)
    assert "recv-b" in {r["name"] for r in receivers(control)}


def test_a_receiver_with_other_pipelines_is_refused_at_registration(control, make_server):
    # the plugin adds a step: the `chain` pipeline of this receiver is not the control server's
    r = make_server("--role", "receiver", "--control", control.url, "--host-name", "recv-plugin", "--plugin", PLUGIN)
    assert r.proc.wait(20) == 1, r.log
    assert "refused this receiver host" in r.log and "pipelines.chain" in r.log, r.log
    assert "recv-plugin" not in {x["name"] for x in receivers(control)}


def test_a_name_already_registered_is_refused(control, make_server):
    make_server("--role", "receiver", "--control", control.url, "--host-name", "recv-dup")
    assert wait_until(lambda: "recv-dup" in {x["name"] for x in receivers(control)}, 20)
    twin = make_server("--role", "receiver", "--control", control.url, "--host-name", "recv-dup")
    assert twin.proc.wait(20) == 1, twin.log
    assert "already registered" in twin.log, twin.log


def test_protocol_and_fields_are_checked(control):
    with daqlab.connect(control.url) as c:
        with pytest.raises(daqlab.ParameterError) as err:
            c.call("receivers.register", registration(protocol=99))
        assert [f["field"] for f in err.value.fields] == ["protocol"] and "speaks protocol 1" in str(err.value)
        with pytest.raises(daqlab.ParameterError) as err:
            c.call("receivers.register", registration(name="bad name"))
        assert err.value.fields[0]["field"] == "name"
        with pytest.raises(daqlab.ParameterError) as err:
            c.call("receivers.register", registration(pipelines={"azint": "0000"}))
        fields = {f["field"] for f in err.value.fields}
        assert "pipelines.azint" in fields and "pipelines.smx" in fields, fields  # every difference named
    assert "raw" not in {x["name"] for x in receivers(control)}


def test_a_server_that_is_not_a_control_server_refuses_registrations(server):
    with daqlab.connect(server.url) as c:
        with pytest.raises(daqlab.DaqlabError, match="not a control server"):
            c.call("receivers.register", registration())
    assert "receivers" not in json.load(server.get("/status"))


def test_the_token_is_required(make_server):
    control = make_server("--role", "control", "--token", "T", "--detector", "sim-eiger-500k")
    bad = make_server("--role", "receiver", "--control", control.url, "--host-name", "recv-notoken")
    assert bad.proc.wait(20) == 1, bad.log
    assert "refused the token" in bad.log, bad.log
    good = make_server("--role", "receiver", "--control", control.url, "--host-name", "recv-token", "--token", "T")
    assert wait_until(lambda: [x["name"] for x in receivers(control)] == ["recv-token"], 20), receivers(control)
    assert good.alive()


def test_one_topology_file_two_hosts_in_network_namespaces(tmp_path):
    """The same topology file on two hosts (network namespaces joined by a veth pair): each takes its part,
    the receiver finds its control server in the file and registers across the link with the token."""
    import subprocess

    import netns

    why = netns.available()
    assert why is None, why
    with netns.Network() as net:
        ctrl, recv = net.host("ctrl"), net.host("recv1")
        link = net.link(ctrl, recv)
        topology = tmp_path / "topology.json"
        topology.write_text(json.dumps({
            "token": "T", "detectors": ["sim-eiger-500k"], "data_roots": [str(tmp_path)], "store": "memory",
            "hosts": {"ctrl": {"role": "control", "address": link.address(ctrl), "port": 8765},
                      "recv1": {"role": "receiver", "address": link.address(recv), "port": 8766}},
        }))
        logs = {}
        for host in (ctrl, recv):
            logs[host.name] = open(tmp_path / f"{host.name}.log", "w")
            host.popen(["node", str(ROOT / "daq-server" / "dist" / "src" / "cli.js"), "--config", str(topology),
                        "--host-name", host.name, "--state-dir", str(tmp_path / host.name)],
                       stdout=logs[host.name], stderr=subprocess.STDOUT, cwd=ROOT)
        status = f"http://{link.address(ctrl)}:8765/status"
        read = ("import json, sys, urllib.request as u; r = u.Request(sys.argv[1], headers={'Authorization': 'token T'}); "
                "print(json.dumps(json.load(u.urlopen(r, timeout=5)).get('receivers')))")

        def listed():
            out = recv.run(["python3", "-c", read, status]).stdout.strip()
            return json.loads(out) if out.startswith("[") else None

        assert wait_until(lambda: bool(listed()), 30, 0.3), [p.read_text() for p in tmp_path.glob("*.log")]
        (host,) = listed()
        assert host["name"] == "recv1" and host["address"] == link.address(recv) and host["port"] == 8766, host
        assert host["remote"].rsplit(":", 1)[0].endswith(link.address(recv)), host  # it came over the link
        # the receiver's own server binds its address from the file, not the control host's
        health = ctrl.run(["python3", "-c", "import urllib.request as u, sys; print(u.urlopen(sys.argv[1], timeout=5).read().decode())",
                           f"http://{link.address(recv)}:8766/health"]).stdout
        assert '"ok":true' in health, health


def test_a_receiver_started_first_waits_for_its_control_server_and_comes_back_after_a_restart(make_server):
    """Hosts boot in any order: the receiver retries until the control server answers, and registers again
    with a restarted control server (whose registry starts empty)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    recv = make_server("--role", "receiver", "--control", f"ws://127.0.0.1:{port}", "--host-name", "recv-early")
    assert wait_until(lambda: "unreachable or gone: retrying" in recv.log, 10), recv.log
    control = make_server("--role", "control", "--port", str(port), "--detector", "sim-eiger-500k")
    assert wait_until(lambda: [x["name"] for x in receivers(control)] == ["recv-early"], 20), recv.log
    control.stop()
    again = make_server("--role", "control", "--port", str(port), "--detector", "sim-eiger-500k")
    assert wait_until(lambda: [x["name"] for x in receivers(again)] == ["recv-early"], 30), recv.log
    assert recv.alive()
