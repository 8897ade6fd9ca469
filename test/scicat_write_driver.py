"""Runs in .venv-scicat (the real pyscicat): writes a sample, a raw dataset and its files through daqlab's
SciCat endpoints (what an ingestor does) and prints what it got as JSON.

usage: scicat_write_driver.py BASE_URL TOKEN PROPOSAL SOURCE_FOLDER
"""
import json
import sys

from pyscicat.client import ScicatClient, ScicatCommError
from pyscicat.model import CreateDatasetOrigDatablockDto, DataFile, RawDataset, Sample

base, token, proposal, folder = sys.argv[1:5]
client = ScicatClient(base_url=base, token=token)


def attempt(fn, *args, **kw):
    try:
        return {"ok": fn(*args, **kw)}
    except ScicatCommError as e:
        return {"error": str(e)}


out = {"sample": attempt(client.upload_sample, Sample(ownerGroup=proposal, sampleId="ingested1", description="from pyscicat"))}
sample_id = out["sample"].get("ok")
dataset = RawDataset(
    ownerGroup=proposal, proposalId=proposal, owner="ingestor", contactEmail="ingestor@example.org",
    creationTime="2026-01-02T03:04:05Z", datasetName="ingested scan", description="registered by pyscicat",
    sourceFolder=folder, creationLocation="id11", principalInvestigator="daemon", sampleId=sample_id,
    scientificMetadata={"energy": {"value": 12.4, "unit": "keV"}}, size=0)
out["dataset"] = attempt(client.upload_new_dataset, dataset)
pid = out["dataset"].get("ok")
if pid:
    block = CreateDatasetOrigDatablockDto(size=30, dataFileList=[
        DataFile(path="a.h5", size=10, time="2026-01-02T03:04:05Z", chk="ab" * 32),
        DataFile(path=folder + "/b.h5", size=20)])
    out["block"] = attempt(client.create_dataset_origdatablock, pid, block)
    out["escape"] = attempt(client.create_dataset_origdatablock, pid, CreateDatasetOrigDatablockDto(
        size=1, dataFileList=[DataFile(path="../../../../etc/passwd", size=1)]))
print(json.dumps(out))
