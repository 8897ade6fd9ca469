"""Runs in .venv-scicat (the real scitacean): uploads a new dataset with two files through daqlab's SciCat
endpoints (`Client.upload_new_dataset_now`, the files copied into the source folder by CopyFileTransfer: daqlab
and this process share the file system here) and prints what it got as JSON.

usage: scitacean_write_driver.py BASE_URL TOKEN PROPOSAL SOURCE_FOLDER LOCAL_FOLDER
"""
import json
import sys
from pathlib import Path

from scitacean import Client, Dataset, File, ScicatCommError
from scitacean.transfer.copy import CopyFileTransfer

base, token, proposal, source_folder, local = sys.argv[1:6]
client = Client.from_token(url=base, token=token, allow_http=True, file_transfer=CopyFileTransfer())
for name, data in (("frames.h5", b"\x89HDF\r\n\x1a\n" + bytes(100)), ("notes.txt", b"aligned at 293 K\n")):
    (Path(local) / name).write_bytes(data)
ds = Dataset(type="raw", name="scitacean upload", owner_group=proposal, owner="ingestor", contact_email="i@example.org",
             principal_investigators=["daemon"], creation_location="id11", source_folder=source_folder,
             proposal_ids=[proposal], checksum_algorithm="sha256", meta={"temperature": {"value": 293, "unit": "K"}})
ds.add_local_files(str(Path(local) / "frames.h5"), str(Path(local) / "notes.txt"))
try:
    up = client.upload_new_dataset_now(ds)
    print(json.dumps({"ok": {"pid": str(up.pid), "files": sorted([f.remote_path.posix, f.size] for f in up.files)}}))
except (ScicatCommError, ValueError, RuntimeError) as e:
    print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
