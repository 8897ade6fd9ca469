"""The namespace helper (test/netns.py) the multi-host tests stand on: two namespaces joined by a veth pair
reach each other (a real daqlab server in one, its /health read from the other), `ip link set ... down`
cuts the link and `up` restores it, and closing removes every namespace and interface it made."""
from __future__ import annotations

import re
import subprocess
import time

import netns
from conftest import CLI, ROOT

#: an HTTP GET from inside a namespace, with a short timeout: prints the status and body, or the error
GET = """
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2])) as r:
        print(r.status, r.read().decode())
except Exception as err:
    print("ERROR", type(err).__name__, err)
"""


def get(host: netns.Host, url: str, timeout: float = 5) -> str:
    return host.run(["python3", "-c", GET, url, str(timeout)], timeout=timeout + 20).stdout.strip()


def test_two_namespaces_reach_each_other_and_a_downed_link_cuts_them(tmp_path):
    why = netns.available()
    assert why is None, why  # a missing prerequisite is a failure, not a skip
    with netns.Network() as net:
        ctrl, recv = net.host("ctrl"), net.host("recv")
        link = net.link(ctrl, recv)
        assert ctrl.netns in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        # each namespace is a host of its own: only its loopback and its end of the link
        devs = re.findall(r"^\d+: (\S+?)[@:]", recv.run(["ip", "-o", "link"]).stdout, re.M)
        assert sorted(devs) == sorted(["lo", f"v{net.tag}0b"]), devs
        addr = link.address(recv)
        log = open(tmp_path / "server.log", "w")
        server = recv.popen(["node", str(CLI), "--host", addr, "--port", "8765", "--token", "T",
                             "--detector", "sim-eiger-500k", "--state-dir", str(tmp_path / "state"), "--data-root", str(tmp_path)],
                            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        url = f"http://{addr}:8765/health"
        deadline = time.monotonic() + 30
        while (answer := get(ctrl, url)) != '200 {"ok":true}' and time.monotonic() < deadline:
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            time.sleep(0.3)
        assert answer == '200 {"ok":true}', (answer, (tmp_path / "server.log").read_text())
        # the server is not reachable from the root namespace: it lives on the link only
        assert "ERROR" in subprocess.run(["python3", "-c", GET, url, "2"], capture_output=True, text=True, timeout=30).stdout
        link.down()
        cut = get(ctrl, url, timeout=2)
        assert cut.startswith("ERROR"), cut  # unreachable: no route with the interface down
        link.up()
        deadline = time.monotonic() + 15
        while (answer := get(ctrl, url)) != '200 {"ok":true}' and time.monotonic() < deadline:
            time.sleep(0.3)
        assert answer == '200 {"ok":true}', answer
        names = (ctrl.netns, recv.netns)
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not any(n in left for n in names), left
    assert f"v{net.tag}" not in subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert server.poll() is not None  # what ran inside was stopped
