"""Issue 19, "who may see what" on the HDF5 endpoints of the Jupyter server extension: the user Jupyter
authenticated is forwarded to the daqlab server (shared secret), which decides for files in a proposal's
folder (`<root>/<proposal>/<beamline>/...`). A real `jupyter server` with our extension and a real daqlab
server with a users file and its catalogue."""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import h5py
import numpy as np
import pytest

import daqlab
from conftest import ROOT, ServerProcess, wait_until
from test_h5viewer_server import free_port

# Jupyter users are the users-file's users (unix users of this machine, as test_catalogue.py)
USERS = {"tokens": {
    "tok-alice-daemon": {"user": "daemon"},
    "tok-bob-bin-01": {"user": "bin"},
    "tok-staff-sys-1": {"user": "sys", "staff": True, "beamlines": ["id11"]},
    "tok-staff-nobody": {"user": "nobody", "staff": True, "beamlines": ["id99"]},
}}
SECRET = secrets.token_hex(16)
# Jupyter's tokens of its users (jupyter_users.TokenUsers); "mallory" has no daqlab entry: public
JUPYTER = {"j-alice": "daemon", "j-bob": "bin", "j-staff": "sys", "j-other-staff": "nobody", "j-mallory": "mallory"}
FILES = {"mx1234": "mx1234/id11/lyso/lyso_0001/scan.h5", "mx9999": "mx9999/id11/s/s_0001/scan.h5",
         "old2020": "old2020/id11/c/c_0001/scan.h5", None: "loose/scan.h5"}


@pytest.fixture(scope="module")
def lab():
    """A daqlab server (beamline id11) with mx1234 (daemon's, embargoed), mx9999 (bin's) and old2020
    (released), and a Jupyter server whose root is the data root, forwarding its users."""
    tmp = Path(tempfile.mkdtemp(prefix="daqlab-access-"))
    users = tmp / "users.json"
    users.write_text(json.dumps(USERS))
    users.chmod(0o600)
    root = tmp / "data"
    for rel in FILES.values():
        (root / rel).parent.mkdir(parents=True)
        with h5py.File(root / rel, "w") as f:
            f["x"] = np.arange(4)
    # alice's file links into bob's proposal
    with h5py.File(root / "mx1234/id11/lyso/lyso_0001/linked.h5", "w") as f:
        f["own"] = np.arange(3)
        f["ext"] = h5py.ExternalLink("../../../../mx9999/id11/s/s_0001/scan.h5", "/x")
    srv = ServerProcess("--users", str(users), "--beamline", "id11", "--data-root", str(root),
                        env={"DAQLAB_JUPYTER_SECRET": SECRET})
    staff = daqlab.connect(srv.url, token="tok-staff-sys-1")
    staff.catalogue.add_proposal("mx1234", team=[{"user": "daemon", "role": "principal-investigator"}])
    staff.catalogue.add_proposal("mx9999", team=[{"user": "bin", "role": "principal-investigator"}])
    staff.catalogue.add_proposal("old2020", start="2020-03-01T08:00:00Z", end="2020-03-04T08:00:00Z")
    # one scan in each of mx1234 and mx9999 (the WebSocket relay's tests)
    det = staff.detector("sim-camera")
    for proposal in ("mx1234", "mx9999"):
        daqlab.policy.new_proposal(proposal, client=staff)
        daqlab.policy.new_sample("ws", client=staff)
        daqlab.policy.new_dataset(client=staff)
        det.prepare(acquisition={"nb_frames": 2, "expo_time": 0.01}, saving={"enabled": False}).start().wait(progress=False, timeout=60)
    daqlab.policy.end_proposal(client=staff)
    staff.close()
    jd = tmp / "jupyter"
    for d in ("config", "data", "runtime"):
        (jd / d).mkdir(parents=True)
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(jd / "config"), JUPYTER_DATA_DIR=str(jd / "data"),
               JUPYTER_RUNTIME_DIR=str(jd / "runtime"), JUPYTER_PLATFORM_DIRS="1",
               PYTHONPATH=os.pathsep.join([str(ROOT / "kernel-bridge"), str(Path(__file__).parent)]),
               DAQLAB_URL=srv.url, DAQLAB_JUPYTER_SECRET=SECRET, TEST_JUPYTER_USERS=json.dumps(JUPYTER))
    env.pop("DAQLAB_TOKEN", None)
    port = free_port()
    args = [sys.executable, "-m", "jupyter", "server", "--no-browser", "--ip", "127.0.0.1", "--port", str(port),
            f"--ServerApp.root_dir={root}", "--ServerApp.identity_provider_class=jupyter_users.TokenUsers",
            "--ServerApp.jpserver_extensions={'daqlab.h5server': True}"]
    if os.geteuid() == 0:
        args.append("--allow-root")
    log = tmp / "jupyter.log"
    proc = subprocess.Popen(args, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/"

    def up():
        try:
            urllib.request.urlopen(base + "api/status", timeout=2)
        except urllib.error.HTTPError:
            return True  # it answers (403 without a user)
        except OSError:
            return proc.poll() is not None
        return True

    try:
        assert wait_until(up, timeout=90, interval=0.2) and proc.poll() is None, log.read_text()
        yield {"base": base, "srv": srv, "root": root, "log": log}
    finally:
        proc.terminate()
        proc.wait(20)
        srv.stop()


def h5get(lab, who: str, rel: str, route: str = "daqlab/h5/meta", **more):
    q = urllib.parse.urlencode({"file": rel, "path": "/", **more})
    req = urllib.request.Request(f"{lab['base']}{route}?{q}", headers={"Authorization": f"token {who}"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def readable(lab, who: str, proposal) -> bool:
    status, body = h5get(lab, who, FILES[proposal])
    assert status in (200, 404), (status, body)
    return status == 200


def test_member_served_other_proposal_refused_without_telling_what_exists(lab):
    assert readable(lab, "j-alice", "mx1234")
    assert not readable(lab, "j-alice", "mx9999")
    assert readable(lab, "j-bob", "mx9999") and not readable(lab, "j-bob", "mx1234")
    hidden = h5get(lab, "j-bob", FILES["mx1234"])
    missing = h5get(lab, "j-bob", "mx1234/id11/lyso/lyso_0001/nothing.h5")
    assert hidden[0] == missing[0] == 404
    assert json.loads(hidden[1])["message"].replace("scan.h5", "F") == json.loads(missing[1])["message"].replace("nothing.h5", "F")
    # every endpoint goes through the same gate: h5grove's and the downloads (exports)
    assert h5get(lab, "j-bob", FILES["mx1234"], "daqlab/h5grove/meta/")[0] == 404
    assert h5get(lab, "j-bob", FILES["mx1234"], "daqlab/h5grove/data/", path="/x", format="npy")[0] == 404
    status, body = h5get(lab, "j-alice", FILES["mx1234"], "daqlab/h5grove/data/", path="/x", format="npy")
    assert status == 200 and body.startswith(b"\x93NUMPY")


def test_public_sees_released_not_embargoed_and_staff_their_beamline(lab):
    # mallory: no daqlab identity, so public
    assert readable(lab, "j-mallory", "old2020") and not readable(lab, "j-mallory", "mx1234")
    assert readable(lab, "j-staff", "mx1234") and readable(lab, "j-staff", "mx9999")
    assert not readable(lab, "j-other-staff", "mx1234") and readable(lab, "j-other-staff", "old2020")
    # outside any proposal folder: as before
    assert all(readable(lab, who, None) for who in JUPYTER)


def test_the_decision_endpoint_needs_the_secret_to_assert_a_user(lab):
    srv = lab["srv"]
    path = str(lab["root"] / FILES["mx1234"])

    def ask(headers: dict, token: str | None = None):
        req = urllib.request.Request(srv.http + "/access/path?" + urllib.parse.urlencode({"path": path}), headers=headers)
        if token:
            req.add_header("Authorization", f"token {token}")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    assert ask({"X-Daqlab-User": "daemon", "X-Daqlab-Jupyter-Secret": SECRET}) == (200, {"readable": True, "user": "daemon"})
    # a browser (or a kernel) holding a user's daqlab token cannot claim to be another user
    status, body = ask({"X-Daqlab-User": "daemon", "X-Daqlab-Jupyter-Secret": "guess" * 8}, token="tok-bob-bin-01")
    assert status == 401 and "secret" in body["error"]["message"]
    assert ask({}, token="tok-bob-bin-01") == (200, {"readable": False, "user": "bin"})
    status, body = ask({}, token="tok-alice-daemon")
    assert body["readable"] is True
    req = urllib.request.Request(srv.http + "/access/path?path=relative/x.h5", headers={"Authorization": "token tok-alice-daemon"})
    with pytest.raises(urllib.error.HTTPError) as bad:
        urllib.request.urlopen(req, timeout=10)
    assert bad.value.code == 400 and "path" in json.loads(bad.value.read())["error"]["message"]


def test_links_into_another_proposal_follow_its_rules(lab):
    linked = "mx1234/id11/lyso/lyso_0001/linked.h5"
    status, body = h5get(lab, "j-alice", linked, path="/ext")
    assert status == 403 and "may not read" in json.loads(body)["message"], body
    assert h5get(lab, "j-alice", linked, "daqlab/h5grove/data/", path="/ext", format="npy")[0] == 403
    assert h5get(lab, "j-staff", linked, path="/ext")[0] == 200  # staff of id11 read both proposals
    assert h5get(lab, "j-alice", linked, path="/own")[0] == 200


def relay(lab, who: str) -> daqlab.Client:
    """A daqlab client through the Jupyter extension's relay, authenticated to Jupyter as `who`."""
    return daqlab.connect(lab["base"].replace("http://", "ws://") + "daqlab/ws", token=who)


def proposals_seen(c) -> set:
    return {s.identity.get("proposal") for s in c.scans.search()} - {None, ""}


def test_the_websocket_through_jupyter_acts_for_the_jupyter_user(lab):
    with relay(lab, "j-alice") as alice, relay(lab, "j-bob") as bob, relay(lab, "j-staff") as staff:
        assert alice.catalogue.whoami()["name"] == "daemon" and bob.catalogue.whoami()["name"] == "bin"
        assert proposals_seen(alice) == {"mx1234"}
        assert proposals_seen(bob) == {"mx9999"}
        assert proposals_seen(staff) == {"mx1234", "mx9999"}
        hidden = next(s for s in staff.scans.search() if s.identity.get("proposal") == "mx1234")
        with pytest.raises(daqlab.NotFoundError):
            bob.scans.get(hidden.key)
        # the relay passes binary frames: a member reads the frames of her scan
        mine = alice.scans.get(hidden.key)
        frames = mine.streams[next(iter(mine.streams))][0:2]
        assert len(frames) == 2
        # the logbook too: bob's entry is his, alice does not see it
        e = bob.logbook.add("through the relay", proposal="mx9999")
        assert e.author == "bin"
        with pytest.raises(daqlab.NotFoundError):
            alice.logbook.get(e.id)
    # a Jupyter user without a daqlab identity is the public; one Jupyter does not know is refused by Jupyter
    with relay(lab, "j-mallory") as mallory:
        assert mallory.catalogue.whoami()["name"] == "public" and proposals_seen(mallory) == set()
    with pytest.raises(Exception):
        relay(lab, "j-nobody-knows")


def upgrade_status(url: str, headers: dict) -> tuple[int, str]:
    """The status and body of a WebSocket upgrade sent with these headers (a raw socket: any header goes)."""
    import base64
    import socket

    u = urllib.parse.urlparse(url)
    with socket.create_connection((u.hostname, u.port), timeout=10) as sock:
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall((f"GET /ws HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
        head += sock.recv(4096) if head.startswith(b"HTTP/1.1 401") else b""
    return int(head.split(b" ")[1]), head.decode(errors="replace")


def test_a_browser_cannot_assert_a_user_without_the_secret(lab):
    """Straight to the daqlab server, the user header without the right secret is refused, with or without a token."""
    url = lab["srv"].url
    status, body = upgrade_status(url, {"X-Daqlab-User": "daemon", "X-Daqlab-Jupyter-Secret": "guess" * 8,
                                        "Authorization": "token tok-bob-bin-01"})
    assert status == 401 and "secret" in body
    assert upgrade_status(url, {"X-Daqlab-User": "daemon"})[0] == 401
    assert upgrade_status(url, {"X-Daqlab-User": "daemon", "X-Daqlab-Jupyter-Secret": SECRET})[0] == 101
    # the secret is out of the environment Jupyter's kernels inherit; browsers are pointed at the relay, with no token
    req = urllib.request.Request(lab["base"] + "daqlab/config", headers={"Authorization": "token j-bob"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert json.loads(r.read()) == {"server_url": "daqlab/ws", "token": None}


def jget(lab, who: str, route: str):
    req = urllib.request.Request(lab["base"] + route, headers={"Authorization": f"token {who}"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_jupyter_files_and_contents_follow_the_same_decision(lab):
    mine, theirs = FILES["mx1234"], FILES["mx9999"]
    status, body = jget(lab, "j-alice", f"files/{mine}")
    assert status == 200 and body.startswith(b"\x89HDF")
    assert jget(lab, "j-alice", f"files/{theirs}")[0] == 404
    assert jget(lab, "j-alice", f"api/contents/{mine}?content=0")[0] == 200
    hidden = jget(lab, "j-bob", f"api/contents/{mine}?content=0")
    missing = jget(lab, "j-bob", "api/contents/mx1234/id11/lyso/lyso_0001/nothing.h5?content=0")
    assert hidden[0] == missing[0] == 404
    assert hidden[1] == missing[1].replace(b"nothing.h5", b"scan.h5"), (hidden, missing)
    # listings leave out what the user may not read: no other proposal's name shows
    top = lambda who: {e["name"] for e in json.loads(jget(lab, who, "api/contents/")[1])["content"]}
    assert top("j-alice") >= {"mx1234", "old2020", "loose"} and "mx9999" not in top("j-alice")
    assert "mx1234" not in top("j-mallory") and "old2020" in top("j-mallory")
    assert top("j-staff") >= {"mx1234", "mx9999", "old2020"}
    assert jget(lab, "j-bob", "api/contents/mx1234")[0] == 404
    # writes into another proposal's folder are refused as well
    req = urllib.request.Request(lab["base"] + "api/contents/mx1234/id11/bob-was-here.txt", method="PUT",
                                 data=json.dumps({"type": "file", "format": "text", "content": "x"}).encode(),
                                 headers={"Authorization": "token j-bob", "Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, timeout=30)
    assert refused.value.code == 404 and not (lab["root"] / "mx1234/id11/bob-was-here.txt").exists()
    # the public reads a released proposal's files
    assert jget(lab, "j-mallory", f"files/{FILES['old2020']}")[0] == 200
