"""Abuse of the wire (issue 13, items 2, 3, 6, 7, 14, 15): what one client sends over the WebSocket or
HTTP cannot break the other clients, starve them, take over their acquisitions, or come from a web page.
Every test is bounded in time and talks to loopback servers only."""
from __future__ import annotations

import base64
import getpass
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

import daqlab
from daqlab import _protocol as P
from conftest import wait_until
from rawws import RawWS


def nested(depth: int):
    """A JSON value nesting `depth` levels: [[[...]]]."""
    v: list = []
    for _ in range(depth - 1):
        v = [v]
    return v


def handshake(port: int, headers: dict[str, str], path: str = "/ws", keep: bool = False):
    """A WebSocket upgrade with exactly these headers (Host included); returns (status, response head),
    or with `keep` a RawWS on the upgraded connection."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        lines = [f"GET {path} HTTP/1.1", "Upgrade: websocket", "Connection: Upgrade",
                 f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}", "Sec-WebSocket-Version: 13"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
        status = int(head.split(b" ")[1])
        if keep:
            ws = RawWS.__new__(RawWS)
            ws.sock, ws.status, ws.buffer = sock, status, head.split(b"\r\n\r\n", 1)[1]
            sock = None
            return ws
        return status, head
    finally:
        if sock is not None:
            sock.close()


def http_get(port: int, path: str, headers: dict[str, str]) -> int:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    try:
        return urllib.request.urlopen(req, timeout=10).status
    except urllib.error.HTTPError as e:
        return e.code


# ------------------------------------------------------------------ item 3: user JSON depth and size
def test_deep_or_large_scan_info_is_refused_and_names_the_field(server):
    with daqlab.connect(server.url) as c:
        det = c.detector("sim-camera")
        with pytest.raises(daqlab.ParameterError) as e:
            det.prepare(acquisition={"nb_frames": 1, "expo_time": 0.01}, scan={"info": {"deep": nested(40)}})
        assert [f["field"] for f in e.value.fields] == ["scan.info"]
        assert f"deeper than {P.MAX_JSON_DEPTH}" in str(e.value)
        with pytest.raises(daqlab.ParameterError) as e:
            det.prepare(acquisition={"nb_frames": 1, "expo_time": 0.01}, scan={"info": {"blob": "x" * (P.MAX_INFO_BYTES + 1)}})
        assert [f["field"] for f in e.value.fields] == ["scan.info"] and "bytes as JSON" in str(e.value)
        # deep user JSON elsewhere in prepare is refused too, naming its section
        with pytest.raises(daqlab.ParameterError) as e:
            det.prepare(acquisition={"nb_frames": 1, "expo_time": 0.01}, detector={"x": nested(40)})
        assert "detector" in [f["field"] for f in e.value.fields]
        # a reasonable info is kept
        acq = det.prepare(acquisition={"nb_frames": 1, "expo_time": 0.01}, scan={"info": {"sample": {"a": nested(10)}}})
        assert acq.scan.info["sample"]["a"] == nested(10)
        acq.abort()


def test_a_1100_level_control_message_is_refused_and_every_client_keeps_working(server):
    bystander = daqlab.connect(server.url)
    try:
        seen: list[dict] = []
        bystander.on("*", seen.append)
        ws = RawWS(server.url)
        msg = '{"id": 7, "op": "acq.prepare", "detector": "sim-camera", "params": {"scan": {"info": ' + \
            "[" * 1100 + "]" * 1100 + "}}}"
        assert len(msg) < 2300  # 2.2 kB, as in the issue
        ws.send_text(msg)
        reply = ws.recv_json()
        assert reply["ok"] is False and reply["error"]["type"] == "ProtocolError", reply
        assert reply["id"] == 7 and f"deeper than {P.MAX_MESSAGE_DEPTH}" in reply["error"]["message"]
        ws.send_json({"id": 8, "op": "hello"})
        assert ws.recv_json()["ok"] is True  # the connection is still served
        ws.close()
        assert bystander.detectors() and bystander.scans.search() is not None
        assert not any(e.get("event") == "scan.new" for e in seen)
    finally:
        bystander.close()


# ------------------------------------------------------------------ item 6: per-connection limits
def test_per_connection_caps_are_named_errors(server):
    with daqlab.connect(server.url) as c:
        acq = c.detector("sim-camera").prepare(acquisition={"nb_frames": 2, "expo_time": 0.01})
        acq.start().wait(timeout=30, progress=False)
        key = acq.scan.key
    ws = RawWS(server.url)
    try:
        ws.send_json({"id": 1, "op": "subscribe", "scan": key, "stream": "frame", "window": 1_000_000})
        r = ws.recv_json()
        assert r["error"]["type"] == "ParameterError" and r["error"]["fields"][0]["field"] == "window"
        for i in range(P.MAX_SUBSCRIPTIONS):  # one item each, then they wait for a sub.ack that never comes
            ws.send_json({"id": 100 + i, "op": "subscribe", "scan": key, "stream": "frame", "window": 1,
                          "roi": [0, 0, 8, 8], "max_rate": 1000})
        ws.send_json({"id": 999, "op": "subscribe", "scan": key, "stream": "frame", "roi": [0, 0, 8, 8]})
        replies = {}
        while 999 not in replies:
            m = ws.recv_json()
            replies[m["id"]] = m
        assert replies[999]["ok"] is False and replies[999]["error"]["type"] == "LimitError", replies[999]
        assert replies[999]["error"]["limit"] == "subscriptions"
    finally:
        ws.close()
    ws = RawWS(server.url)
    try:  # requests in flight: scans.wait_next blocks until its timeout
        n = P.MAX_INFLIGHT_REQUESTS + 5
        for i in range(n):
            ws.send_json({"id": i, "op": "scans.wait_next", "after": 10**9, "timeout": 3})
        ws.send_json({"id": "quick", "op": "hello"})  # answered at once: not limited by the waits
        limited, quick = [], None
        t0 = time.monotonic()
        while (len(limited) < 5 or quick is None) and time.monotonic() - t0 < 2.5:
            m = ws.recv_json()
            if m["id"] == "quick":
                quick = m
            elif not m["ok"] and m["error"]["type"] == "LimitError":
                limited.append(m["id"])
        assert sorted(limited) == list(range(P.MAX_INFLIGHT_REQUESTS, n))
        assert quick is not None and quick["ok"] is True
    finally:
        ws.close()


def test_a_never_reading_connection_is_closed_and_a_lossless_reader_loses_nothing(make_server):
    """The issue's case, bounded: one connection floods itself with never-read subscriptions (ROI) and
    stream.read requests; a victim follows the same stream losslessly; /health answers throughout."""
    srv = make_server("--memory-budget", "1G")
    victim = daqlab.connect(srv.url)
    nb = 300
    acq = victim.detector("sim-eiger-500k").prepare(acquisition={"nb_frames": nb, "expo_time": 0.01})
    key = acq.scan.key
    stream = acq.scan.streams["frame"]
    got, gaps = [], []
    cur = stream.cursor(on_gap=lambda a, b, why: gaps.append((a, b)), timeout=60)

    def follow():
        for batch in cur:
            got.extend(int(i) for i in batch.index)

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    latencies: list[float] = []
    probing = threading.Event()

    def probe():
        while not probing.is_set():
            t = time.monotonic()
            urllib.request.urlopen(srv.http + "/health", timeout=10).read()
            latencies.append(time.monotonic() - t)
            time.sleep(0.05)

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    attacker = RawWS(srv.url)
    attacker.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    try:
        for i in range(P.MAX_SUBSCRIPTIONS):
            attacker.send_json({"id": i, "op": "subscribe", "scan": key, "stream": "frame", "roi": [0, 0, 256, 256],
                                "window": P.MAX_WINDOW})
        acq.start()
        assert wait_until(lambda: len(got) >= 60, 30)
        for i in range(P.MAX_INFLIGHT_REQUESTS - 4):  # each asks for ~120 MB and reads none of it
            attacker.send_json({"id": 1000 + i, "op": "stream.read", "scan": key, "stream": "frame", "start": 0, "stop": 60})
        acq.wait(timeout=60, progress=False)
        reader.join(60)
        assert not reader.is_alive()
        assert wait_until(lambda: "closing an overloaded connection" in srv.log, 20), srv.log[-3000:]
    finally:
        probing.set()
        attacker.close()
        victim.close()
    assert got == list(range(nb)) and gaps == []
    prober.join(15)
    assert latencies and max(latencies) < 2.0, max(latencies)  # before the limits: 4–7 s on this scenario
    status = json.load(srv.get("/status"))
    assert len(status["clients"]) == 0 or all(cl["subscriptions"] < P.MAX_SUBSCRIPTIONS for cl in status["clients"])


# ------------------------------------------------------------------ item 7: acquisition ownership
def test_another_client_cannot_stop_abort_or_replace_an_acquisition_unless_forced(make_server):
    srv = make_server()
    a, b = daqlab.connect(srv.url), daqlab.connect(srv.url)
    try:
        det_a, det_b = a.detector("sim-camera"), b.detector("sim-camera")
        first = det_a.prepare(acquisition={"nb_frames": 1, "expo_time": 0.01})
        with pytest.raises(daqlab.StateError) as e:  # re-prepare over A's prepared acquisition
            det_b.prepare(acquisition={"nb_frames": 1, "expo_time": 0.01})
        assert a.client_id in e.value.body["owner"] and "force=True" in str(e.value)
        second = det_b.prepare(acquisition={"nb_frames": 1, "expo_time": 0.01}, force=True)
        assert wait_until(lambda: "forced replace" in srv.log, 5)
        assert first.status()["state"] != "PREPARED"
        second.abort(force=True)
        acq = det_a.prepare(acquisition={"nb_frames": 100000, "expo_time": 0.01})
        acq.start()
        from daqlab.acquisition import Acquisition  # B sees the acquisition and tries to end it

        as_b = Acquisition(b, acq.status())
        for action in (as_b.stop, as_b.abort):
            with pytest.raises(daqlab.StateError) as e:
                action()
            assert e.value.body["owner"] == f"client {a.client_id}"
        a.reconnect()  # the client id survives reconnection: A still owns it
        assert Acquisition(a, acq.status()).stop().status()["state"] in ("RUNNING", "STOPPED")
        acq.wait(timeout=30, progress=False)
        third = det_a.prepare(acquisition={"nb_frames": 100000, "expo_time": 0.01})
        third.start()
        Acquisition(b, third.status()).abort(force=True)
        assert wait_until(lambda: "forced abort" in srv.log, 5)
        fourth = det_a.prepare(acquisition={"nb_frames": 1, "expo_time": 0.01}).status()
        a.close()  # an owner that is gone does not hold its acquisition
        assert wait_until(lambda: json.load(srv.get("/status"))["clients"].__len__() == 1, 5)
        assert Acquisition(b, fourth).abort().status()["state"] in ("IDLE", "STOPPED")
    finally:
        a.close()
        b.close()


def test_token_users_own_acquisitions(make_server, tmp_path):
    me = getpass.getuser()
    other = "nobody" if me != "nobody" else "root"
    users = tmp_path / "users.json"
    users.write_text(json.dumps({"tokens": {"token-mine-1": {"user": me}, "token-mine-2": {"user": me},
                                            "token-other": {"user": other}}}))
    srv = make_server("--users", str(users))
    mine, mine2, theirs = (daqlab.connect(srv.url, token=t) for t in ("token-mine-1", "token-mine-2", "token-other"))
    try:
        from daqlab.acquisition import Acquisition

        acq = mine.detector("sim-camera").prepare(acquisition={"nb_frames": 100000, "expo_time": 0.01})
        acq.start()
        with pytest.raises(daqlab.StateError) as e:
            Acquisition(theirs, acq.status()).stop()
        assert e.value.body["owner"] == f"user {me}"
        Acquisition(mine2, acq.status()).stop()  # the same user, another connection and client
        acq.wait(timeout=30, progress=False)
    finally:
        for c in (mine, mine2, theirs):
            c.close()


# ------------------------------------------------------------------ item 14: Origin and Host
def test_foreign_origins_and_hosts_are_refused(make_server):
    srv = make_server("--allow-origin", "https://hub.example.org")
    port = srv.port
    ok = {"Host": f"127.0.0.1:{port}"}
    assert handshake(port, ok)[0] == 101  # the Python client: no Origin
    assert handshake(port, {**ok, "Origin": "http://evil.example"})[0] == 403
    assert handshake(port, {"Host": f"evil.example:{port}"})[0] == 403
    assert handshake(port, {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"})[0] == 403
    assert handshake(port, {**ok, "Origin": "null"})[0] == 403
    # what jupyter-server-proxy forwards from the browser: Jupyter's own Host and Origin
    assert handshake(port, {"Host": "127.0.0.1:8888", "Origin": "http://127.0.0.1:8888"}, "/ws?token=x")[0] == 101
    assert handshake(port, {"Host": "localhost:8888", "Origin": "http://localhost:8888"})[0] == 101
    assert handshake(port, {"Host": "[::1]:8888", "Origin": "http://[::1]:8888"})[0] == 101
    # a Jupyter elsewhere, named with --allow-origin
    assert handshake(port, {"Host": "hub.example.org", "Origin": "https://hub.example.org"})[0] == 101
    assert handshake(port, {"Host": "hub.example.org", "Origin": "https://hub.example.org.evil.example"})[0] == 403
    for path in ("/status", "/health", "/openapi.json"):
        assert http_get(port, path, {"Origin": "http://evil.example"}) == 403
        assert http_get(port, path, {"Host": f"evil.example:{port}"}) == 403
    assert http_get(port, "/status", {"Origin": f"http://localhost:{port}"}) == 200
    assert "refused a WebSocket upgrade" in srv.log and "evil.example" in srv.log


def test_the_browser_path_through_jupyter_server_proxy_still_works(make_server, tmp_path):
    """jupyter-server-proxy forwards the browser's Origin and Host (Jupyter's own) to the server."""
    srv = make_server()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        jport = s.getsockname()[1]
    token = "jupyter-token-1234"
    args = [sys.executable, "-m", "jupyter", "server", "--no-browser", "--ip", "127.0.0.1", "--port", str(jport),
            f"--ServerApp.token={token}", f"--ServerApp.root_dir={tmp_path}",
            "--ServerApp.allow_origin=*"]  # a permissive Jupyter: the server's own check must hold
    if os.geteuid() == 0:
        args.append("--allow-root")
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt")}
    lab = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, env=env)
    try:
        def up():
            try:
                req = urllib.request.Request(f"http://127.0.0.1:{jport}/api/status", headers={"Authorization": f"token {token}"})
                return urllib.request.urlopen(req, timeout=2).status == 200
            except OSError:
                return False

        assert wait_until(up, 60, 0.2), "jupyter server did not start"
        origin = f"http://127.0.0.1:{jport}"
        for host in (f"127.0.0.1:{jport}", f"localhost:{jport}"):
            o = origin.replace("127.0.0.1", "localhost") if host.startswith("localhost") else origin
            ws = handshake(jport, {"Host": host, "Origin": o}, f"/proxy/{srv.port}/ws?token={token}", keep=True)
            assert ws.status == 101
            ws.send_json({"id": 1, "op": "hello", "client": "browser test"})
            reply = ws.recv_json()
            assert reply["ok"] and reply["result"]["identity"] == "client browser test", reply
            ws.close()
        assert "refused" not in srv.log
        # a foreign page that Jupyter lets through: the proxy forwards its Origin, the server refuses it
        ws = handshake(jport, {"Host": f"127.0.0.1:{jport}", "Origin": "http://evil.example"},
                       f"/proxy/{srv.port}/ws?token={token}", keep=True)
        try:
            if ws.status == 101:
                ws.send_json({"id": 1, "op": "hello"})
                with pytest.raises((ConnectionError, OSError)):
                    ws.recv_json()
        finally:
            ws.close()
        assert wait_until(lambda: "refused a WebSocket upgrade" in srv.log and "evil.example" in srv.log, 5)
    finally:
        lab.terminate()
        lab.wait(15)


# ------------------------------------------------------------------ item 15: tokens
def test_openapi_needs_the_token_and_the_client_sends_it_in_a_header(make_server):
    srv = make_server("--token", "s3cret-token")
    assert json.load(srv.get("/health")) == {"ok": True}
    with pytest.raises(urllib.error.HTTPError) as e:
        srv.get("/openapi.json")
    assert e.value.code == 401
    api = json.load(srv.get("/openapi.json", token="s3cret-token"))
    assert api["components"]["securitySchemes"]["token"]["in"] == "header"
    with daqlab.connect(srv.url + "?token=s3cret-token") as c:  # a token given in the URL moves to the header
        assert "token" not in c.url and "s3cret" not in c._full_url
        assert c.detectors()


# ------------------------------------------------------------------ item 2 (client side): heartbeat
def test_a_stopped_server_shows_as_unresponsive_and_pending_calls_fail(make_server):
    srv = make_server()
    c = daqlab.connect(srv.url, heartbeat=0.5)
    outcome: list = []
    try:
        assert c.state == "connected"
        os.kill(srv.proc.pid, signal.SIGSTOP)
        t0 = time.monotonic()

        def call():
            try:
                outcome.append(c.call("hello", timeout=None))  # would wait forever without a heartbeat
            except Exception as exc:  # noqa: BLE001 - the test looks at it
                outcome.append(exc)

        th = threading.Thread(target=call, daemon=True)
        th.start()
        th.join(10)
        assert not th.is_alive(), "a call to a stopped server waited forever"
        assert isinstance(outcome[0], ConnectionError) and "unresponsive" in str(outcome[0])
        assert time.monotonic() - t0 < 5
        assert c.state == "unresponsive" and "unresponsive" in repr(c)
    finally:
        os.kill(srv.proc.pid, signal.SIGCONT)
    assert c.detectors()  # the next call reconnects once the server is back
    assert c.state == "connected"
    c.close()
