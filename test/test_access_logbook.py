"""Issue 19, "who may see what" in the e-logbook: entries of a proposal are read and written by its members
and the staff of its beamline, the public reads released proposals' entries only, automation writes;
searches, statistics and live updates are filtered; ICAT+ apiKeys (the real pyicat-plus, in .venv-icat)
write as the identity the key stands for. A real server with a users file and its catalogue."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

import daqlab
from conftest import ServerProcess, wait_until
from test_logbook import _pyicat

# unix users of this machine (the jobs service checks them), as in test_access_paths.py
USERS = {"tokens": {
    "tok-alice-daemon": {"user": "daemon"},
    "tok-bob-bin-01": {"user": "bin"},
    "tok-staff-sys-1": {"user": "sys", "staff": True, "beamlines": ["id11"]},
    "tok-staff-nobody": {"user": "nobody", "staff": True, "beamlines": ["id99"]},
    "tok-robot-auto-1": {"user": "daemon", "automation": True},
}}


@pytest.fixture(scope="module")
def srv():
    tmp = Path(tempfile.mkdtemp(prefix="daqlab-access-lb-"))
    users = tmp / "users.json"
    users.write_text(json.dumps(USERS))
    users.chmod(0o600)
    s = ServerProcess("--users", str(users), "--beamline", "id11")
    staff = daqlab.connect(s.url, token="tok-staff-sys-1")
    staff.catalogue.add_proposal("mx1234", team=[{"user": "daemon", "role": "principal-investigator"}])
    staff.catalogue.add_proposal("mx9999", team=[{"user": "bin", "role": "principal-investigator"}])
    staff.catalogue.add_proposal("old2020", start="2020-03-01T08:00:00Z", end="2020-03-04T08:00:00Z")
    staff.logbook.add("beam lost at 3 am", beamline="id11", category="info")
    staff.close()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def who(srv):
    clients = {name: daqlab.connect(srv.url, token=tok) for name, tok in
               (("alice", "tok-alice-daemon"), ("bob", "tok-bob-bin-01"), ("staff", "tok-staff-sys-1"),
                ("other_staff", "tok-staff-nobody"), ("public", None))}
    yield clients
    for c in clients.values():
        c.close()


def texts(entries) -> set[str]:
    return {e.text for e in entries}


def test_members_read_and_write_their_proposal_and_others_learn_nothing(who):
    alice, bob = who["alice"], who["bob"]
    heard_bob: list = []
    heard_staff: list = []
    off = [bob.logbook.on_entry(heard_bob.append), who["staff"].logbook.on_entry(heard_staff.append)]
    try:
        a = alice.logbook.add("lysozyme crystal centred", proposal="mx1234", tags=["alignment"])
        b = bob.logbook.add("secret compound loaded", proposal="mx9999")
        assert a.beamline == "id11" and a.author == "daemon"
        assert "lysozyme crystal centred" in texts(alice.logbook.search(text="centred"))
        assert texts(bob.logbook.search(text="centred")) == set()
        assert "secret compound loaded" not in texts(alice.logbook.search())
        # the same refusal for another proposal's entry as for one that does not exist
        with pytest.raises(daqlab.DaqlabError) as hidden:
            bob.logbook.get(a.id)
        with pytest.raises(daqlab.DaqlabError) as missing:
            bob.logbook.get(10**9)
        assert hidden.value.type == missing.value.type == "NotFoundError"
        assert str(hidden.value).replace(str(a.id), "N") == str(missing.value).replace(str(10**9), "N")
        with pytest.raises(daqlab.DaqlabError) as wrote:
            bob.logbook.add("I was here", proposal="mx1234")
        with pytest.raises(daqlab.DaqlabError) as unknown:
            bob.logbook.add("I was here", proposal="mx0000")
        assert str(wrote.value).replace("mx1234", "P") == str(unknown.value).replace("mx0000", "P")
        with pytest.raises(daqlab.DaqlabError):
            bob.logbook.edit(a.id, "overwritten")
        assert alice.logbook.edit(a.id, "lysozyme crystal centred twice").version == 2
        # statistics per investigation: refused to outsiders, counted for members
        with pytest.raises(daqlab.NotFoundError, match="no such proposal"):
            bob.logbook.stats("mx1234")
        assert alice.logbook.stats("mx1234")["entries"] >= 1
        assert bob.logbook.stats()["entries"] == len(bob.logbook.search(limit=500))
        # live updates reach readers only: staff hear both, bob only his own
        assert wait_until(lambda: {a.id, b.id} <= {e.id for e in heard_staff})
        assert b.id in {e.id for e in heard_bob}
        assert a.id not in {e.id for e in heard_bob}
    finally:
        for f in off:
            f()


def test_staff_see_their_beamline_public_released_only(who):
    op_note = who["staff"].logbook.add("released proposal's note", proposal="old2020")
    embargoed = who["staff"].logbook.add("embargoed proposal's note", proposal="mx1234")
    staff = texts(who["staff"].logbook.search(limit=500))
    assert {"beam lost at 3 am", "released proposal's note", "embargoed proposal's note"} <= staff
    other = texts(who["other_staff"].logbook.search(limit=500))
    assert "released proposal's note" in other and "embargoed proposal's note" not in other and "beam lost at 3 am" not in other
    public = who["public"]
    assert texts(public.logbook.search(limit=500)) == {"released proposal's note"}
    assert public.logbook.get(op_note.id).text == "released proposal's note"
    with pytest.raises(daqlab.DaqlabError):
        public.logbook.get(embargoed.id)
    # released: read only
    with pytest.raises(daqlab.DaqlabError, match="not write"):
        public.logbook.add("graffiti", proposal="old2020")
    with pytest.raises(daqlab.DaqlabError):
        public.logbook.edit(op_note.id, "graffiti")
    # a user who names no proposal writes to none: the beamline's logbook is its staff's
    with pytest.raises(daqlab.DaqlabError, match="name the proposal"):
        who["bob"].logbook.add("where does this go")


def test_icatplus_api_keys_write_as_their_identity(srv, who):
    out = _pyicat("""
        import sys
        from pyicat_plus.client.main import IcatClient
        url = sys.argv[1]
        def send(token, proposal, text):
            c = IcatClient(elogbook_url=url, elogbook_token=token, elogbook_timeout=30, beamline="id11", proposal=proposal)
            try:
                c.send_message(text, msg_type="comment", tags=["bliss"])
                print("sent", text)
            except Exception as e:
                print("refused", text, type(e).__name__)
        send("tok-robot-auto-1", "mx9999", "robot-into-mx9999")
        send("tok-alice-daemon", "mx1234", "alice-into-mx1234")
        send("tok-bob-bin-01", "mx1234", "bob-into-mx1234")
    """, srv.http + "/icatplus")
    assert "sent robot-into-mx9999" in out and "sent alice-into-mx1234" in out, out
    assert "refused bob-into-mx1234" in out, out
    assert "robot-into-mx9999" in texts(who["bob"].logbook.search(proposal="mx9999"))
    assert "alice-into-mx1234" in texts(who["alice"].logbook.search(tags=["bliss"]))
    assert "bob-into-mx1234" not in texts(who["staff"].logbook.search(tags=["bliss"], limit=500))
