"""Issue 19, "who may see what" on the jobs service and derived scans: a template job's input in a proposal's
folder must be readable by whoever submits it (a real one-node Slurm, `slurm_cluster.py`, and a real daqlab
server with a catalogue); refused and missing files read the same."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

import daqlab
from conftest import ServerProcess
from slurm_cluster import ALICE, BOB, ensure_user

pytestmark = pytest.mark.timeout(180)
TOKENS = {"alice": "acc-alice-0001", "bob": "acc-bob-00002", "staff11": "acc-staff-0011", "staff99": "acc-staff-0099"}
STAFF99 = "daqlab-staff99"


@pytest.fixture(scope="module")
def lab(slurm_cluster, slurm_users):
    ensure_user(STAFF99)
    tmp = Path(tempfile.mkdtemp(prefix="daqlab-access-jobs-"))
    tmp.chmod(0o755)
    users = tmp / "users.json"
    users.write_text(json.dumps({"tokens": {
        TOKENS["alice"]: {"user": ALICE}, TOKENS["bob"]: {"user": BOB},
        TOKENS["staff11"]: {"user": "root", "staff": True, "beamlines": ["id11"]},
        TOKENS["staff99"]: {"user": STAFF99, "staff": True, "beamlines": ["id99"]},
    }}))
    users.chmod(0o600)
    root = tmp / "data"
    masters = {}
    for prop in ("mx1234", "mx9999", "old2020"):
        m = root / prop / "id11" / "s" / "s_0001" / "scan_master.h5"
        m.parent.mkdir(parents=True)
        m.write_bytes(b"not read at submission")
        masters[prop] = str(m)
    srv = ServerProcess(*slurm_cluster.server_args("cli"), "--users", str(users), "--beamline", "id11", "--data-root", str(root))
    clients = {who: daqlab.connect(srv.url, token=t) for who, t in TOKENS.items()}
    try:
        cat = clients["staff11"].catalogue
        cat.add_proposal("mx1234", team=[{"user": ALICE, "role": "principal-investigator"}])
        cat.add_proposal("mx9999", team=[{"user": BOB, "role": "principal-investigator"}])
        cat.add_proposal("old2020", start="2020-03-01T08:00:00Z", end="2020-03-04T08:00:00Z")
        yield clients, masters, root
    finally:
        for c in clients.values():
            c.close()
        srv.stop()


def submit(client, source: str):
    job = daqlab.jobs.submit("azint", scan=source, params={"npt": 100}, partition="debug", time="00:05:00", hold=True, client=client)
    job.cancel()
    return job


def refusal(client, source: str) -> str:
    with pytest.raises(daqlab.ParameterError) as e:
        submit(client, source)
    assert "params.source" in str(e.value)
    return str(e.value)


def test_jobs_read_only_what_their_submitter_may(lab):
    clients, masters, root = lab
    assert submit(clients["alice"], masters["mx1234"]).info["job_dir"]  # a member
    hidden = refusal(clients["alice"], masters["mx9999"])  # another proposal's
    missing = refusal(clients["alice"], str(root / "mx9999" / "id11" / "s" / "s_0001" / "nothing_master.h5"))
    assert hidden == missing and "mx9999" not in hidden.replace(masters["mx9999"], "")
    submit(clients["bob"], masters["mx9999"])
    submit(clients["bob"], masters["old2020"])  # released: everyone
    # staff: their beamline only (mx1234 is on id11, in embargo)
    submit(clients["staff11"], masters["mx1234"])
    refusal(clients["staff99"], masters["mx1234"])
    submit(clients["staff99"], masters["old2020"])
    # outside any proposal folder: as before (not checked here)
    submit(clients["alice"], "/data/visit/sample1/scan_master.h5")
