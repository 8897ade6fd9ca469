"""The e-logbook: Python API, daqlab's own notifications, and ICAT+'s data-acquisition endpoints
driven by the real pyicat-plus client (BLISS's), in its own venv (.venv-icat, made by scripts/setup.sh)."""
from __future__ import annotations

import json
import subprocess
import textwrap
import threading
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest

import daqlab
from daqlab import _protocol as P
from conftest import ServerProcess, wait_until

ROOT = Path(__file__).resolve().parents[1]
ICAT_PY = ROOT / ".venv-icat" / "bin" / "python"
TOKEN = "logbook-token-0001"


@pytest.fixture(scope="module")
def lbserver():
    s = ServerProcess("--token", TOKEN, "--detector", "sim-eiger-500k")
    yield s
    s.stop()


@pytest.fixture
def lb(lbserver):
    c = daqlab.connect(lbserver.url, token=TOKEN)
    yield c
    c.close()


def test_python_constants_match_the_typescript_protocol():
    script = ("import('./daq-server/dist/src/protocol/index.js').then(p => console.log(JSON.stringify("
              "[p.LOGBOOK_TYPES, p.LOGBOOK_CATEGORIES, p.LOGBOOK_FORMATS, p.LOGBOOK_MAX_ATTACHMENT_BYTES])))")
    out = json.loads(subprocess.run(["node", "-e", script], cwd=ROOT, capture_output=True, text=True, check=True).stdout)
    assert out == [list(P.LOGBOOK_TYPES), list(P.LOGBOOK_CATEGORIES), list(P.LOGBOOK_FORMATS), P.LOGBOOK_MAX_ATTACHMENT_BYTES]


def test_add_search_edit_versions_stats_and_live_updates(lb):
    heard: list = []
    off = lb.logbook.on_entry(heard.append)
    try:
        a = lb.logbook.add("sample centred, beam on", tags=["alignment", "py"], category="comment", proposal="lb-py")
        assert a.type == "annotation" and a.category == "comment" and a.version == 1
        b = lb.logbook.add("<p>ok <script>alert(1)</script><a href='javascript:x()'>link</a></p>", format="html",
                           category="info", proposal="lb-py", tags=["py"])
        assert "script" not in b.html and "javascript" not in b.html and b.text == "ok link"
        assert b.id > a.id
        m = lb.logbook.add("**bold** move", format="markdown", proposal="lb-py", category="commandline")
        assert "<strong>bold</strong>" in m.html
        assert wait_until(lambda: {a.id, b.id, m.id} <= {e.id for e in heard})
    finally:
        off()
    assert [e.id for e in lb.logbook.search(text="beam", proposal="lb-py")] == [a.id]
    assert {e.id for e in lb.logbook.search(tags=["py"])} == {a.id, b.id}
    assert [e.id for e in lb.logbook.search(category="commandline", proposal="lb-py")] == [m.id]
    assert len(lb.logbook.search(proposal="lb-py", since=timedelta(minutes=10))) == 3
    assert lb.logbook.search(proposal="lb-py", until=timedelta(minutes=10)) == []
    e2 = lb.logbook.edit(a, "sample centred again, beam on", tags=["alignment"])
    assert e2.version == 2 and e2.created == a.created
    versions = lb.logbook.get(a.id, versions=True)
    assert [v.content for v in versions] == ["sample centred, beam on", "sample centred again, beam on"]
    assert [e.id for e in lb.logbook.search(tags=["py"])] == [b.id]
    stats = lb.logbook.stats(proposal="lb-py")
    assert stats["entries"] == 3
    assert stats["by_category"] == {"comment": 1, "info": 1, "commandline": 1}
    assert stats["tags"] == {"alignment": 1, "py": 1}


def test_add_a_matplotlib_figure(lb):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1, 4, 9])
    e = lb.logbook.add(fig, caption="a parabola", tags=["figure"], proposal="lb-py")
    plt.close(fig)
    assert e.text == "a parabola"
    (att,) = e.attachments
    assert att["mime"] == "image/png" and att["size"] > 1000
    data = lb.logbook.attachment(att)
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) == att["size"]


def test_bad_input_is_refused_naming_the_field(lb):
    with pytest.raises(daqlab.ParameterError) as err:
        lb.logbook.add("x", category="gossip")
    assert err.value.fields[0]["field"] == "category"
    with pytest.raises(daqlab.ParameterError) as err:
        lb.logbook.add("x", type="broadcast")
    assert err.value.fields[0]["field"] == "type"
    with pytest.raises(daqlab.ParameterError) as err:
        lb.call("logbook.add", content="x", colour="red")
    assert "colour" in str(err.value)
    with pytest.raises(ValueError, match=str(P.MAX_REQUEST_BYTES)):  # over the WebSocket, the request cap comes first
        lb.logbook.add(b"\x89PNG\r\n\x1a\n" + bytes(P.MAX_REQUEST_BYTES))
    with pytest.raises(daqlab.ParameterError) as err:
        lb.logbook.search(limit=10**6)
    assert err.value.fields[0]["field"] == "limit"
    with pytest.raises(daqlab.NotFoundError):
        lb.logbook.get(10**9)
    assert lb.logbook.search(text="x", proposal="never-written") == []


def test_daqlab_writes_scan_start_and_end(lb, tmp_path):
    det = lb.detector("sim-eiger-500k")
    acq = det.prepare(acquisition={"nb_frames": 5, "expo_time": 0.001},
                      scan={"name": "lbscan", "proposal": "lb-scan", "sample": "lyso"},
                      saving={"enabled": True, "base_path": str(tmp_path)})
    acq.start().wait()
    key = acq.scan.key

    def mine():
        return lb.logbook.search(dataset=key, type="notification")

    assert wait_until(lambda: len(mine()) >= 2, timeout=20), mine()
    entries = {tuple(e.tags): e for e in mine()}
    start, end = entries[("scan", "scan-start")], entries[("scan", "scan-end")]
    for e in (start, end):
        assert e.author == "daqlab" and e.software == "daqlab" and e.proposal == "lb-scan" and e.sample == "lyso"
    assert "lbscan" in start.text and "5 frames" in start.text
    assert "5 frames acquired" in end.text and ".h5" in end.text
    assert start.id < end.id


def _pyicat(script: str, url: str) -> str:
    assert ICAT_PY.exists(), f"{ICAT_PY} missing: run DAQLAB_SETUP_FOR=test scripts/setup.sh (pyicat-plus venv)"
    r = subprocess.run([str(ICAT_PY), "-c", textwrap.dedent(script), url], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr + r.stdout
    return r.stdout


def test_pyicat_plus_writes_into_the_logbook(lbserver, lb):
    out = _pyicat(f"""
        import sys
        from pyicat_plus.client.main import IcatClient
        url = sys.argv[1]
        c = IcatClient(elogbook_url=url, elogbook_token={TOKEN!r}, elogbook_timeout=30, beamline="id00", proposal="lb-icat")
        c.send_message("hello from bliss <script>alert(1)</script>", msg_type="comment", tags=["bliss"])
        c.send_message("<p>scan <b>12</b> done<img src=x onerror=alert(1)></p>", msg_type="info", mimetype="text/html", dataset="lyso_0001")
        c.send_message("umv samy 3", msg_type="command")
        c.send_binary_data(b"\\x89PNG\\r\\n\\x1a\\n" + bytes(100), mimetype="image/png")
        bad = IcatClient(elogbook_url=url, elogbook_token="not-a-daqlab-token", elogbook_timeout=30, beamline="id00", proposal="lb-icat")
        try:
            bad.send_message("x", msg_type="comment")
            print("accepted a wrong apiKey")
        except Exception as e:
            print("refused", type(e).__name__)
    """, lbserver.http + "/icatplus")
    assert "refused UnauthorizedException" in out, out
    entries = lb.logbook.search(proposal="lb-icat")
    assert len(entries) == 4  # the refused one is not there
    png, command, html, hello = entries
    assert hello.type == "annotation" and hello.category == "comment" and hello.tags == ["bliss"]
    assert hello.beamline == "id00" and hello.software.startswith("pyicat-plus")
    assert "<script>" not in hello.html and "hello from bliss" in hello.text
    assert html.type == "notification" and html.category == "info" and html.dataset == "lyso_0001"
    assert "<b>12</b>" in html.html and "onerror" not in html.html
    assert command.category == "commandline"
    (att,) = png.attachments
    assert att["mime"] == "image/png" and lb.logbook.attachment(att) == b"\x89PNG\r\n\x1a\n" + bytes(100)


def _post(server, path: str, body: bytes, content_type="application/json", method="POST"):
    req = urllib.request.Request(server.http + path, data=body if method == "POST" else None, method=method,
                                 headers={"content-type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def test_icatplus_endpoints_refuse_bad_input(lbserver):
    base = f"/icatplus/dataacquisition/{TOKEN}"
    status, body = _post(lbserver, f"{base}/notification", b"{not json")
    assert status == 400 and "not valid JSON" in body["error"]["message"]
    status, body = _post(lbserver, f"{base}/notification?investigationName=lb-bad",
                         json.dumps({"type": "notification", "category": "gossip", "content": [{"format": "plainText", "text": "x"}]}).encode())
    assert status == 400 and body["error"]["fields"][0]["field"] == "category"
    status, body = _post(lbserver, f"{base}/notification",
                         json.dumps({"type": "broadcast", "category": "info", "content": []}).encode())
    assert status == 400 and body["error"]["fields"][0]["field"] == "type"
    status, body = _post(lbserver, f"{base}/base64", json.dumps({"base64": "data:image/png;base64," + "A" * (6 * 1024 * 1024)}).encode())
    assert status in (400, 413) and "limit" in body["error"]["message"]
    status, body = _post(lbserver, f"{base}/notification", b"", method="GET")
    assert status == 405
    status, body = _post(lbserver, "/icatplus/dataacquisition/wrong-token-xyz/notification", b"{}")
    assert status == 401
    # the server still serves
    assert lbserver.get("/health").status == 200
