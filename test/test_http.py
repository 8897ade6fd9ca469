"""HTTP endpoints, tokens and the loopback-by-default rule."""
from __future__ import annotations

import json
import subprocess
import urllib.error

import pytest

import daqlab
from conftest import CLI


def test_health_status_schema_openapi(server):
    assert json.load(server.get("/health")) == {"ok": True}
    status = json.load(server.get("/status"))
    assert status["server"] == "daqlab"
    assert {d["detector"] for d in status["detectors"]} >= {"sim-eiger-500k", "sim-eiger-4m", "sim-jungfrau-4m", "sim-camera"}
    schema = json.load(server.get("/schema?detector=sim-eiger-500k"))
    assert set(schema["properties"]) == {"acquisition", "detector", "processing", "saving", "scan"}
    assert schema["properties"]["acquisition"]["properties"]["trigger_mode"]["enum"] == ["internal", "software", "external"]
    api = json.load(server.get("/openapi.json"))
    assert api["openapi"].startswith("3.") and "/status" in api["paths"]
    with pytest.raises(urllib.error.HTTPError) as e:
        server.get("/schema?detector=nope")
    assert e.value.code == 404


def test_token_is_required_when_set(make_server):
    srv = make_server("--token", "s3cret")
    assert json.load(srv.get("/health")) == {"ok": True}
    with pytest.raises(urllib.error.HTTPError) as e:
        srv.get("/status")
    assert e.value.code == 401
    assert json.load(srv.get("/status", token="s3cret"))["server"] == "daqlab"
    with pytest.raises(daqlab.AuthError):
        daqlab.connect(srv.url)
    with pytest.raises(daqlab.AuthError):
        daqlab.connect(srv.url, token="wrong")
    c = daqlab.connect(srv.url, token="s3cret")
    assert "sim-camera" in c.detectors()
    c.close()
    with daqlab.connect(srv.url + "?token=s3cret") as c:  # the token in the URL works too
        assert "sim-camera" in c.detectors()


def test_refuses_to_listen_beyond_loopback_without_a_token():
    r = subprocess.run(["node", str(CLI), "--host", "0.0.0.0", "--port", "0"], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "token" in r.stderr


def test_cli_rejects_bad_flags():
    r = subprocess.run(["node", str(CLI), "--port", "99999"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "--port" in r.stderr
    r = subprocess.run(["node", str(CLI), "--detector", "sim-unknown", "--port", "0"], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "sim-eiger-500k" in r.stderr


def test_sigterm_shuts_down_cleanly(make_server):
    srv = make_server()
    srv.proc.terminate()
    assert srv.proc.wait(10) == 0
    assert "SIGTERM" in srv.log
