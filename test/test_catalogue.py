"""Issue 19 part 1: the catalogue, the data policy's folders, who sees what, and the SciCat-compatible endpoints
driven by the real pyscicat (in .venv-scicat, made by scripts/setup.sh)."""
from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import daqlab
from conftest import ROOT, ServerProcess

SCICAT_PY = ROOT / ".venv-scicat" / "bin" / "python"
DRIVER = Path(__file__).with_name("scicat_driver.py")
# users of the --users file are unix users of this machine (the jobs service checks it): Debian has these
ALICE, BOB, STAFF, OTHER_STAFF = "tok-alice-daemon", "tok-bob-bin-01", "tok-staff-sys-1", "tok-staff-nobody"
USERS = {"tokens": {
    ALICE: {"user": "daemon", "password_sha256": hashlib.sha256(b"alice-pw").hexdigest()},
    BOB: {"user": "bin"},
    STAFF: {"user": "sys", "staff": True, "beamlines": ["id11"]},
    OTHER_STAFF: {"user": "nobody", "staff": True, "beamlines": ["id99"]},
}}


def wait_for(fn, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(0.1)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def catalogue_server(request):
    """One server per backend (beamline id11, a users file, its own data root; the catalogue in SQLite, or in
    PostgreSQL in the session's own cluster) with three proposals and two scans acquired under the data policy:
    mx1234 (alice's, embargoed), mx9999 (bob's), old2020 (a 2020 session: released)."""
    backend = ["--catalogue", request.getfixturevalue("postgres_cluster").new_database()] if request.param == "postgresql" else []
    tmp = Path(tempfile.mkdtemp(prefix="daqlab-catalogue-"))
    users = tmp / "users.json"
    users.write_text(json.dumps(USERS))
    users.chmod(0o600)
    root = tmp / "data"
    root.mkdir()
    srv = ServerProcess("--users", str(users), "--beamline", "id11", "--data-root", str(root), *backend,
                        env={"DAQLAB_LANDING_BASE": "https://daqlab.example.org"})
    staff = daqlab.connect(srv.url, token=STAFF)
    try:
        cat = staff.catalogue
        cat.add_proposal("mx1234", title="Lysozyme at room temperature",
                         team=[{"user": "daemon", "role": "principal-investigator"}])
        cat.add_proposal("mx9999", title="Bob's secret", team=[{"user": "bin", "role": "principal-investigator"}])
        cat.add_proposal("old2020", title="An old session", start="2020-03-01T08:00:00Z", end="2020-03-04T08:00:00Z")
        det = staff.detector("sim-camera")
        for proposal, sample in (("mx1234", "lyso1"), ("old2020", "cryst")):
            daqlab.policy.new_proposal(proposal, client=staff)
            daqlab.policy.new_sample(sample, client=staff)
            daqlab.policy.new_dataset("0001", client=staff)
            det.prepare(acquisition={"nb_frames": 3, "expo_time": 0.01}, saving={"enabled": True}).start().wait(progress=False, timeout=60)
        assert wait_for(lambda: staff.catalogue.count() >= 2), srv.log[-3000:]
        yield srv, root
    finally:
        staff.close()
        srv.stop()


@pytest.fixture
def connect(catalogue_server):
    opened = []

    def make(token):
        c = daqlab.connect(catalogue_server[0].url, token=token)
        opened.append(c)
        return c

    yield make
    for c in opened:
        c.close()


def test_scans_are_catalogued_in_the_policy_folders_with_sizes_and_checksums(catalogue_server, connect):
    srv, root = catalogue_server
    alice = connect(ALICE)
    found = alice.catalogue.datasets(proposal="mx1234", sample="lyso1")
    assert len(found) == 1
    d = alice.catalogue.dataset(found[0]["pid"])
    assert d["proposal"] == "mx1234" and d["sample"] == "lyso1" and d["collection"] == "0001" and d["beamline"] == "id11"
    folder = root / "mx1234" / "id11" / "lyso1" / "lyso1_0001"
    assert d["folder"] == str(folder)
    assert {Path(f["path"]).name for f in d["files"]} == {p.name for p in folder.glob("*.h5")}
    for f in d["files"]:
        data = Path(f["path"]).read_bytes()
        assert f["size"] == len(data) and f["sha256"] == hashlib.sha256(data).hexdigest()
    run = d["metadata"]["run"]
    assert run["acquisition"]["nb_frames"] == 3 and run["end_reason"] == "completed" and "detector" in run
    assert d["metadata"]["streams"][0]["length"] == 3
    assert alice.catalogue.datasets(text="scan_0001 lyso1")[0]["pid"] == d["pid"]
    assert alice.catalogue.datasets(text="no-such-word") == []


def test_who_sees_what(catalogue_server, connect):
    alice, bob, public, other_staff, staff = (connect(t) for t in (ALICE, BOB, None, OTHER_STAFF, STAFF))
    pid = alice.catalogue.datasets(proposal="mx1234")[0]["pid"]
    old = staff.catalogue.datasets(proposal="old2020")[0]["pid"]
    assert {d["proposal"] for d in staff.catalogue.datasets()} == {"mx1234", "old2020"}
    # bob: refused, and the refusal is the same for what exists and what does not
    with pytest.raises(daqlab.NotFoundError) as seen:
        bob.catalogue.dataset(pid)
    with pytest.raises(daqlab.NotFoundError) as unseen:
        bob.catalogue.dataset("daqlab-00000000-0000-0000-0000-000000000000")
    assert str(seen.value).replace(pid, "X") == str(unseen.value).replace("daqlab-00000000-0000-0000-0000-000000000000", "X")
    assert "lyso1" not in str(seen.value)
    with pytest.raises(daqlab.NotFoundError):
        bob.catalogue.datasets(proposal="mx1234")
    # the public and staff of another beamline: released data only
    for c in (bob, public, other_staff):
        assert [d["pid"] for d in c.catalogue.datasets()] == [old]
        assert c.catalogue.dataset(old)["proposal"] == "old2020"
    with pytest.raises(daqlab.NotFoundError):
        public.catalogue.dataset(pid)
    assert public.catalogue.proposal("old2020")["released"] is True
    assert alice.catalogue.proposal("mx1234")["released"] is False
    assert public.catalogue.whoami()["name"] == "public"


def test_policy_bad_input(catalogue_server, connect):
    staff, bob = connect(STAFF), connect(BOB)
    daqlab.policy.new_proposal("mx1234", client=staff)
    daqlab.policy.new_sample("lyso1", client=staff)
    with pytest.raises(daqlab.ParameterError, match="dataset: 0001 already exists"):
        daqlab.policy.new_dataset("0001", client=staff)
    assert daqlab.policy.new_dataset(client=staff)["dataset"] == "0002"
    with pytest.raises(daqlab.NotFoundError, match="mx1234"):
        daqlab.policy.new_proposal("mx1234", client=bob)
    with pytest.raises(daqlab.NotFoundError, match="nope"):
        daqlab.policy.new_proposal("nope", client=staff)
    with pytest.raises(daqlab.ParameterError, match="sample"):
        daqlab.policy.new_sample("../etc", client=staff)
    with pytest.raises(daqlab.ParameterError, match="release_date.*past"):
        staff.catalogue.set_release("mx1234", "2001-01-01")
    with pytest.raises(daqlab.ParameterError, match="release_date.*50 years"):
        staff.catalogue.set_release("mx1234", "2999-01-01")
    with pytest.raises(daqlab.AuthError, match="staff"):
        connect(OTHER_STAFF).catalogue.add_proposal("id11-prop", beamline="id11")
    # bob may not acquire into alice's proposal through the policy
    with pytest.raises(daqlab.NotFoundError):
        bob.detector("sim-camera").prepare(acquisition={"nb_frames": 1, "expo_time": 0.01})
    assert daqlab.policy.end_proposal(client=staff)["folder"] is None
    acq = bob.detector("sim-camera").prepare(acquisition={"nb_frames": 1, "expo_time": 0.01})
    assert acq.scan.identity["proposal"] == ""
    acq.start().wait(progress=False, timeout=60)


def test_websocket_scan_lists_and_reads_follow_the_catalogue(catalogue_server, connect):
    alice, bob, public = connect(ALICE), connect(BOB), connect(None)
    key = alice.catalogue.datasets(proposal="mx1234")[0]["scanKey"]
    old_key = public.catalogue.datasets(proposal="old2020")[0]["scanKey"]
    assert key in {x["key"] for x in alice.call("scans.search")["scans"]}
    assert alice.call("stream.read", scan=key, stream="frame", start=0, stop=1) is not None
    for c in (bob, public):
        keys = {x["key"] for x in c.call("scans.search")["scans"]}
        assert key not in keys and old_key in keys
        with pytest.raises(daqlab.NotFoundError) as hidden:
            c.call("scan.get", scan=key)
        with pytest.raises(daqlab.NotFoundError) as unknown:
            c.call("scan.get", scan="scan:999:deadbeef")
        assert str(hidden.value).replace(key, "K") == str(unknown.value).replace("scan:999:deadbeef", "K")
        with pytest.raises(daqlab.NotFoundError):
            c.call("stream.read", scan=key, stream="frame", start=0, stop=1)
        with pytest.raises(daqlab.NotFoundError):
            c.call("subscribe", scan=key, stream="frame")
        assert c.call("scans.last")["identity"]["proposal"] != "mx1234"


def test_scan_events_reach_only_who_may_see_the_scan(catalogue_server, connect):
    staff, alice, bob = connect(STAFF), connect(ALICE), connect(BOB)
    seen = {"alice": [], "bob": []}
    alice.on("scan.new", lambda m: seen["alice"].append(m["scan"]["identity"]["proposal"]))
    bob.on("scan.new", lambda m: seen["bob"].append(m["scan"]["identity"]["proposal"]))
    # a proposal of its own, so that the other tests' counts of mx1234 stay as they are
    staff.catalogue.add_proposal("mx5555", team=[{"user": "daemon", "role": "principal-investigator"}])
    daqlab.policy.new_proposal("mx5555", client=staff)
    daqlab.policy.new_sample("events", client=staff)
    try:
        staff.detector("sim-camera").prepare(acquisition={"nb_frames": 1, "expo_time": 0.01}).start().wait(progress=False, timeout=60)
        daqlab.policy.end_proposal(client=staff)
        staff.detector("sim-camera").prepare(acquisition={"nb_frames": 1, "expo_time": 0.01}).start().wait(progress=False, timeout=60)
        assert wait_for(lambda: len(seen["alice"]) >= 2 and len(seen["bob"]) >= 1, timeout=10), seen
        time.sleep(0.3)
    finally:
        daqlab.policy.end_proposal(client=staff)
    assert seen["alice"] == ["mx5555", ""] and seen["bob"] == [""], seen


def _scicat(srv, *args):
    assert SCICAT_PY.exists(), "missing .venv-scicat: run DAQLAB_SETUP_FOR=test scripts/setup.sh"
    out = subprocess.run([str(SCICAT_PY), str(DRIVER), srv.http + "/scicat/api/v3", *args],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_pyscicat_reads_the_catalogue_as_a_member_and_is_refused_as_another_user(catalogue_server, connect):
    srv, _ = catalogue_server
    pid = connect(ALICE).catalogue.datasets(proposal="mx1234")[0]["pid"]
    for how in (["token", ALICE, "mx1234"], ["login", "daemon", "alice-pw", "mx1234"]):
        r = _scicat(srv, *how)
        assert [d["pid"] for d in r["many"]["ok"]] == [pid], r
        assert [d["pid"] for d in r["find"]["ok"]] == [pid]
        assert r["one"]["ok"]["proposalId"] == "mx1234" and r["one"]["ok"]["isPublished"] is False
        files = r["blocks"]["ok"][0]["dataFileList"]
        assert len(files) == r["one"]["ok"]["numberOfFiles"] >= 2 and all(len(f["chk"]) == 64 for f in files)
        assert r["proposal"]["ok"]["title"] == "Lysozyme at room temperature"
        assert {s["description"] for s in r["samples"]["ok"]} >= {"lyso1"}
        assert r["published"]["ok"] == []
    r = _scicat(srv, "token", BOB, "mx1234")
    assert "error" in r["many"] and "error" in r["proposal"] and "error" in r["samples"], r
    assert "Lysozyme" not in json.dumps(r)
    r = _scicat(srv, "token", BOB, "old2020")
    assert len(r["many"]["ok"]) == 1 and r["one"]["ok"]["isPublished"] is True


def test_scitacean_reads_a_dataset_and_its_files_as_member_and_public(catalogue_server, connect):
    srv, _ = catalogue_server
    staff = connect(STAFF)
    pid = staff.catalogue.datasets(proposal="mx1234")[0]["pid"]
    old = staff.catalogue.datasets(proposal="old2020")[0]["pid"]

    def read(token, pid):
        out = subprocess.run([str(SCICAT_PY), str(DRIVER.with_name("scitacean_driver.py")), srv.http + "/scicat/api/v3",
                              token, pid], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    r = read(ALICE, pid)["ok"]
    files = {f["path"]: f for f in staff.catalogue.dataset(pid)["files"]}
    assert r["owner_group"] == "mx1234" and r["is_published"] is False
    assert [(p, s) for p, s, _ in r["files"]] == sorted((p, f["size"]) for p, f in files.items())
    assert {alg for _, _, alg in r["files"]} == {"sha256"}
    assert "error" in read(BOB, pid)
    assert "error" in read("-", pid)             # the public, through v4's datasets/public/{pid}
    assert read("-", old)["ok"]["is_published"] is True


def test_scicat_paths_tokens_and_bad_filters(catalogue_server):
    srv, _ = catalogue_server
    base = srv.http + "/scicat/api/v3/"

    def get(path, headers=None):
        req = urllib.request.Request(base + path, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    # case-insensitive paths, token as access_token or Bearer
    s1, a = get(f"datasets?access_token={ALICE}")
    s2, b = get("DATASETS", {"Authorization": f"Bearer {ALICE}"})
    assert s1 == s2 == 200 and a == b
    assert {d["proposalId"] for d in a} - {"mx5555"} == {"mx1234", "old2020"}  # mx5555: alice's, made by the events test
    status, body = get('Datasets?filter={"where":', {"Authorization": f"Bearer {ALICE}"})
    assert status == 400 and body["fields"][0]["field"] == "filter" and "JSON" in body["message"]
    status, body = get('Datasets?filter={"where":{"ownerEmail":"x"}}', {"Authorization": f"Bearer {ALICE}"})
    assert status == 400 and "filter.where.ownerEmail" in body["message"]
    status, body = get("Datasets", {"Authorization": "Bearer not-a-token-at-all"})
    assert status == 401
    status, body = get("Datasets")  # anonymous on loopback: the public
    assert status == 200 and {d["proposalId"] for d in body} == {"old2020"}
    status, body = get("Nothing/here")
    assert status == 404
    status, body = get("Datasets/%E0%A4%A", {"Authorization": f"Bearer {ALICE}"})
    assert status == 400 and body["fields"][0]["field"] == "path"

    def post(path, data: bytes):
        req = urllib.request.Request(base + path, data=data, headers={"content-type": "application/json",
                                     "Authorization": f"Bearer {ALICE}"}, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    status, body = post("Datasets", b'{"datasetName": "x"}')          # a dataset names its proposal
    assert status == 400 and body["fields"][0]["field"] == "ownerGroup"
    assert post("Proposals", b'{"proposalId": "x"}')[0] == 405          # proposals come from the user office (staff)
    status, body = post("auth/login", b'{"username": "' + b"x" * 3_000_000 + b'"}')
    assert status == 413 and "body" in body["message"]
    status, body = post("auth/login", b'{"username": 5}')
    assert status == 400 and body["fields"][0]["field"] == "username"
    assert srv.alive()
    req = urllib.request.Request(base + "auth/login", data=b'{"username": "daemon", "password": "wrong"}',
                                 headers={"content-type": "application/json"}, method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 401


DATACITE_PY = ROOT / ".venv-datacite" / "bin" / "python"
# the real `datacite` package: its JSON schema (kernel 4.5) validates the record, its XML writer must accept it
VALIDATE = """
import json, sys
from datacite import schema45
rec = json.load(sys.stdin)
errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in schema45.validator.iter_errors(rec)]
xml = schema45.tostring(rec) if not errors else ""
print(json.dumps({"valid": schema45.validate(rec), "errors": errors, "xml": xml}))
"""


def _datacite_validate(record: dict) -> dict:
    assert DATACITE_PY.exists(), "missing .venv-datacite: run DAQLAB_SETUP_FOR=test scripts/setup.sh"
    out = subprocess.run([str(DATACITE_PY), "-c", VALIDATE], input=json.dumps(record), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _http(url: str, token: str | None = None):
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get("content-type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("content-type", ""), e.read().decode()


def test_pyscicat_writes_samples_datasets_and_files_with_access_checks(catalogue_server, connect):
    """pyscicat's upload_sample, upload_new_dataset, create_dataset_origdatablock: a member writes into her
    proposal (files confined to its folder); another user is refused as if the proposal did not exist."""
    srv, root = catalogue_server
    staff = connect(STAFF)
    staff.catalogue.add_proposal("mx7777", title="Ingested", team=[{"user": "daemon", "role": "principal-investigator"}])
    folder = str(root / "mx7777" / "id11" / "ingested1")
    out = _write_driver(srv, ALICE, "mx7777", folder)
    assert "ok" in out["sample"] and "ok" in out["dataset"] and "ok" in out["block"], out
    assert "error" in out["escape"] and "not in the folder of proposal mx7777" in out["escape"]["error"], out
    alice = connect(ALICE)
    d = alice.catalogue.dataset(out["dataset"]["ok"])
    assert d["proposal"] == "mx7777" and d["sample"] == "ingested1" and d["name"] == "ingested scan"
    assert d["metadata"]["energy"] == {"value": 12.4, "unit": "keV"} and d["metadata"]["registeredBy"] == "daemon"
    assert sorted((f["path"], f["size"]) for f in d["files"]) == [(folder + "/a.h5", 10), (folder + "/b.h5", 20)]
    assert d["size"] == 30 and {f["sha256"] for f in d["files"]} == {"ab" * 32, None}
    assert [s["name"] for s in alice.catalogue.samples("mx7777")] == ["ingested1"]
    # bob: not a member; the refusal is the one of a proposal that does not exist
    bob = _write_driver(srv, BOB, "mx7777", folder)
    nobody = _write_driver(srv, BOB, "mx0000", folder)
    assert "error" in bob["sample"] and "error" in bob["dataset"], bob
    assert bob["dataset"]["error"].replace("mx7777", "P") == nobody["dataset"]["error"].replace("mx0000", "P")
    assert len(connect(STAFF).catalogue.datasets(proposal="mx7777")) == 1
    # a sample name used twice is refused, naming the field (409)
    again = _write_driver(srv, ALICE, "mx7777", folder)
    assert "sampleId" in again["sample"]["error"] and "already has" in again["sample"]["error"]


def test_scitacean_uploads_a_new_dataset_with_its_files(catalogue_server, connect, tmp_path):
    """scitacean's Client.upload_new_dataset_now (v4: datasets/isValid, datasets, origdatablocks), its files copied
    into the proposal's folder; a user of another proposal is refused before any file is copied."""
    srv, root = catalogue_server
    connect(STAFF).catalogue.add_proposal("mx8888", team=[{"user": "daemon", "role": "principal-investigator"}])
    folder = root / "mx8888" / "id11" / "upload"
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o777)

    def upload(token, proposal):
        local = tmp_path / token
        local.mkdir()
        r = subprocess.run([str(SCICAT_PY), str(DRIVER.with_name("scitacean_write_driver.py")), srv.http + "/scicat/api/v3",
                            token, proposal, str(folder), str(local)], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    out = upload(ALICE, "mx8888")
    assert "ok" in out, out
    d = connect(ALICE).catalogue.dataset(out["ok"]["pid"])
    assert d["proposal"] == "mx8888" and d["name"] == "scitacean upload" and d["metadata"]["temperature"]["value"] == 293
    assert sorted((Path(f["path"]).name, f["size"]) for f in d["files"]) == [("frames.h5", 108), ("notes.txt", 17)]
    assert (folder / "frames.h5").read_bytes().startswith(b"\x89HDF")
    refused = upload(BOB, "mx8888")
    assert "error" in refused and "no such proposal" in refused["error"], refused


def _write_driver(srv, token: str, proposal: str, folder: str) -> dict:
    assert SCICAT_PY.exists(), f"{SCICAT_PY} missing: run DAQLAB_SETUP_FOR=test scripts/setup.sh (SciCat clients venv)"
    r = subprocess.run([str(SCICAT_PY), str(DRIVER.with_name("scicat_write_driver.py")), srv.http + "/scicat/api/v3",
                        token, proposal, folder], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_dois_datacite_records_landing_pages_and_publisheddata(catalogue_server, connect):
    """Runs last in this file: findable DOIs are public (the pyscicat test expects none)."""
    srv, _ = catalogue_server
    alice, bob, public, staff = connect(ALICE), connect(BOB), connect(None), connect(STAFF)
    pid = alice.catalogue.datasets(proposal="mx1234")[0]["pid"]
    d = alice.catalogue.draft_doi([pid], title="Lysozyme <script>alert(1)</script>", creators=["Marie Curie", "daemon"])
    assert d["status"] == "draft" and d["doi"].startswith("10.5072/daqlab.mx1234.") and d["datasets"] == [pid]
    # a draft: not for other users, its landing page not public
    with pytest.raises(daqlab.NotFoundError):
        bob.catalogue.doi(d["doi"])
    with pytest.raises(daqlab.NotFoundError):
        bob.catalogue.register_doi(d["doi"])
    assert _http(f"{srv.http}/doi/{d['doi']}")[0] == 404
    assert _http(f"{srv.http}/doi/{d['doi']}", ALICE)[0] == 200
    assert alice.catalogue.register_doi(d["doi"])["status"] == "registered"
    assert alice.catalogue.publish_doi(d["doi"])["status"] == "findable"
    with pytest.raises(daqlab.StateError):
        alice.catalogue.register_doi(d["doi"])
    # the DataCite record, validated by DataCite's own package
    full = public.catalogue.doi(d["doi"])
    rec = full["datacite"]
    assert rec["types"]["resourceTypeGeneral"] == "Dataset" and rec["schemaVersion"] == "http://datacite.org/schema/kernel-4"
    assert rec["url"] == full["landing_page"] == f"https://daqlab.example.org/doi/{d['doi']}"
    v = _datacite_validate(rec)
    assert v["valid"] and v["errors"] == [], v["errors"]
    assert f'<identifier identifierType="DOI">{d["doi"]}</identifier>' in v["xml"] and "<familyName>Curie</familyName>" in v["xml"]
    assert not _datacite_validate({**rec, "publicationYear": "26"})["valid"], "the validator does refuse a bad record"
    # the landing page: public now, escaped, embargoed (mx1234 is released in 2029)
    status, ctype, page = _http(f"{srv.http}/doi/{d['doi']}")
    assert status == 200 and ctype.startswith("text/html")
    assert "Lysozyme &lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
    assert "Under embargo until" in page and "How to cite" in page and "Curie" in page and "CC-BY-4.0)" not in page
    # a session's DOI (old2020, released): staff draft and publish; files and the licence on its page
    s = staff.catalogue.draft_doi(proposal="old2020")
    assert s["kind"] == "session" and len(s["datasets"]) == 1
    staff.catalogue.register_doi(s["doi"])
    staff.catalogue.publish_doi(s["doi"])
    page = _http(f"{srv.http}/doi/{s['doi']}")[2]
    assert "Creative Commons Attribution 4.0 International (CC-BY-4.0)" in page and '<table class="files">' in page
    assert _datacite_validate(public.catalogue.doi(s["doi"])["datacite"])["valid"]
    # SciCat's PublishedData lists them, to the public too
    status, _, body = _http(f"{srv.http}/scicat/api/v3/PublishedData")
    listed = {p["doi"]: p for p in json.loads(body)}
    assert status == 200 and {d["doi"], s["doi"]} <= set(listed) and listed[s["doi"]]["status"] == "findable"
    assert listed[d["doi"]]["url"] == f"https://daqlab.example.org/doi/{d['doi']}" and listed[d["doi"]]["pidArray"] == [pid]
    assert {x["doi"] for x in public.catalogue.dois()} >= {d["doi"], s["doi"]}
    # bad input, named
    with pytest.raises(daqlab.ParameterError, match="datasets"):
        alice.catalogue.draft_doi("not-a-list")
    with pytest.raises(daqlab.ParameterError, match="state"):
        alice.call("catalogue.doi_advance", {"doi": d["doi"], "state": "gone"})
    assert _http(f"{srv.http}/doi/10.5072/%3Cscript%3E")[0] == 404
