"""Runs in .venv-scicat (the real scitacean): reads one dataset and its files, prints JSON.

usage: scitacean_driver.py BASE_URL TOKEN|- PID
"""
import json
import sys

from scitacean import Client, ScicatCommError

base, token, pid = sys.argv[1:4]
if token == "-":
    client = Client.without_login(url=base, allow_http=True)
else:
    client = Client.from_token(url=base, token=token, allow_http=True)
try:
    ds = client.get_dataset(pid)
    print(json.dumps({"ok": {"name": ds.name, "owner_group": ds.owner_group, "is_published": ds.is_published,
                             "files": sorted([f.remote_path.posix, f.size, f.checksum_algorithm] for f in ds.files)}}))
except ScicatCommError as e:
    print(json.dumps({"error": str(e)}))
