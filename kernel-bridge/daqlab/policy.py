"""The data policy, as BLISS's newproposal / newsample / newdataset: where files go and what the catalogue records.

>>> import daqlab
>>> daqlab.policy.new_proposal("mx1234")   # a registered proposal this client may write to
>>> daqlab.policy.new_sample("lyso1")
>>> daqlab.policy.new_dataset("0001")      # or new_dataset() for the next free number
>>> daqlab.policy.current()["folder"]      # <root>/mx1234/<beamline>/lyso1/lyso1_0001

The choice is the server's (one per beamline, as in a BLISS session): every client's next scans carry the
proposal, sample and dataset, and saving that names no ``base_path`` writes into the policy's folder. Functions
take ``client=``; without it they use the client given to :func:`use`, else ``daqlab.connect()``.
"""
from __future__ import annotations

from . import _protocol as P

_client = None


def use(client) -> None:
    """The client the policy functions use when given none."""
    global _client
    _client = client


def _get(client):
    global _client
    if client is not None:
        return client
    if _client is None or _client.closed:
        from .client import connect

        _client = connect()
    return _client


def new_proposal(proposal: str, *, client=None) -> dict:
    """Choose the proposal (sample ``sample`` and the next free dataset until told otherwise)."""
    return _get(client).call(P.OP_POLICY_NEW_PROPOSAL, {"proposal": proposal})


def new_sample(sample: str, description: str | None = None, *, client=None) -> dict:
    """Choose (registering when new) a sample of the current proposal, and its next free dataset."""
    params = {"sample": sample}
    if description is not None:
        params["description"] = description
    return _get(client).call(P.OP_POLICY_NEW_SAMPLE, params)


def new_dataset(dataset: str | None = None, *, client=None) -> dict:
    """Start a dataset (folder ``<sample>_<dataset>``) of the current sample; a name already used is refused."""
    return _get(client).call(P.OP_POLICY_NEW_DATASET, {} if dataset is None else {"dataset": dataset})


def end_proposal(*, client=None) -> dict:
    """Back to no policy: scans name their own proposal and folder again."""
    return _get(client).call(P.OP_POLICY_END_PROPOSAL)


def current(*, client=None) -> dict:
    """``{proposal, sample, dataset, beamline, folder}``."""
    return _get(client).call(P.OP_POLICY_GET)
