"""Runs in .venv-scicat (the real pyscicat): drives daqlab's SciCat endpoints and prints what it got as JSON.

usage: scicat_driver.py BASE_URL (token TOKEN | login USER PASSWORD) PROPOSAL
"""
import json
import sys

from pyscicat.client import ScicatClient, ScicatCommError, from_credentials

base, how = sys.argv[1], sys.argv[2]
if how == "token":
    client, proposal = ScicatClient(base_url=base, token=sys.argv[3]), sys.argv[4]
else:
    client, proposal = from_credentials(base, sys.argv[3], sys.argv[4]), sys.argv[5]


def attempt(fn, *args, **kw):
    try:
        return {"ok": fn(*args, **kw)}
    except ScicatCommError as e:
        return {"error": str(e)}


out = {"many": attempt(client.datasets_get_many, {"proposalId": proposal})}
out["find"] = attempt(client.datasets_find, 0, 10, {"text": "scan", "proposalId": proposal})
pids = [d["pid"] for d in out["many"].get("ok") or []]
if pids:
    out["one"] = attempt(client.datasets_get_one, pids[0])
    out["blocks"] = attempt(client.datasets_origdatablocks_get_one, pids[0])
out["proposal"] = attempt(client.proposals_get_one, proposal)
out["samples"] = attempt(client.samples_get_many, {"ownerGroup": proposal})
out["published"] = attempt(client.published_data_get_many)
print(json.dumps(out))
