"""The catalogue: proposals, samples and datasets (every finished scan is one), as this client may see them.

>>> c = daqlab.connect()
>>> c.catalogue.datasets(proposal="mx1234", sample="lyso1", text="ascan")
>>> c.catalogue.dataset(pid)                     # files with sizes and sha256, run description
>>> c.catalogue.add_proposal("mx1234", title="Lysozyme", team=[{"user": "alice", "role": "principal-investigator"}])
>>> d = c.catalogue.draft_doi(datasets=[pid])       # or proposal="mx1234": the whole session
>>> c.catalogue.register_doi(d["doi"]); c.catalogue.publish_doi(d["doi"])   # draft → registered → findable

What is visible depends on who the client is (its token in the server's --users file): members see their
proposal, staff their beamline, everyone a proposal whose release date has passed.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from . import _protocol as P


def _iso(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _drop_none(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


class Catalogue:
    """``client.catalogue``: queries and registrations through the client's connection."""

    def __init__(self, client):
        self._client = client

    def datasets(self, proposal: str | None = None, sample: str | None = None, text: str | None = None, *,
                 dataset: str | None = None, type: str | None = None, limit: int = 100, skip: int = 0) -> list[dict]:
        """Datasets, newest first: of a proposal, a sample, a policy dataset (folder), matching words of ``text``."""
        r = self._client.call(P.OP_CATALOGUE_DATASETS, _drop_none(
            {"proposal": proposal, "sample": sample, "text": text, "dataset": dataset, "type": type,
             "limit": limit, "skip": skip}))
        return r["datasets"]

    def count(self, **query) -> int:
        """How many datasets a query matches (the same fields as :meth:`datasets`)."""
        return self._client.call(P.OP_CATALOGUE_DATASETS, _drop_none({**query, "limit": 0}))["total"]

    def dataset(self, pid: str) -> dict:
        """One dataset by its pid: files (path, size, sha256), metadata (identity, streams, run description)."""
        return self._client.call(P.OP_CATALOGUE_DATASET, {"pid": pid})

    def proposals(self, limit: int = 100, skip: int = 0) -> list[dict]:
        return self._client.call(P.OP_CATALOGUE_PROPOSALS, {"limit": limit, "skip": skip})["proposals"]

    def proposal(self, proposal: str) -> dict:
        return self._client.call(P.OP_CATALOGUE_PROPOSAL, {"proposal": proposal})

    def add_proposal(self, proposal: str, *, title: str | None = None, abstract: str | None = None,
                     team: list[dict] | None = None, start=None, end=None, release_date=None,
                     beamline: str | None = None) -> dict:
        """Register (or update) a proposal: staff of its beamline only. ``team``: ``[{"user", "role"}]`` with roles
        principal-investigator, co-proposer, local-contact, member; ``release_date`` default end + 3 years."""
        return self._client.call(P.OP_CATALOGUE_PUT_PROPOSAL, _drop_none(
            {"proposal": proposal, "title": title, "abstract": abstract, "team": team, "start": _iso(start),
             "end": _iso(end), "release_date": _iso(release_date), "beamline": beamline}))

    def set_release(self, proposal: str, release_date) -> dict:
        """Move a proposal's release date (extend the embargo or release early): its PI or staff."""
        return self._client.call(P.OP_CATALOGUE_SET_RELEASE, {"proposal": proposal, "release_date": _iso(release_date)})

    def samples(self, proposal: str | None = None, limit: int = 100, skip: int = 0) -> list[dict]:
        return self._client.call(P.OP_CATALOGUE_SAMPLES, _drop_none({"proposal": proposal, "limit": limit, "skip": skip}))["samples"]

    def whoami(self) -> dict:
        """Who the server takes this client for: name, operator, staffOf, proposals, automation."""
        return self._client.call(P.OP_CATALOGUE_WHOAMI)

    # ------------------------------------------------------------------ DOIs

    def draft_doi(self, datasets: list[str] | None = None, *, proposal: str | None = None, title: str | None = None,
                  abstract: str | None = None, creators: list[str] | None = None) -> dict:
        """Draft a DOI for datasets of one proposal, or (``proposal=``) for that proposal's whole session.
        Defaults: the proposal's title, abstract and team (less local contacts) as creators."""
        return self._client.call(P.OP_CATALOGUE_DOI_DRAFT, _drop_none(
            {"datasets": datasets, "proposal": proposal, "title": title, "abstract": abstract, "creators": creators}))

    def register_doi(self, doi: str) -> dict:
        """draft → registered (the PI or staff)."""
        return self._client.call(P.OP_CATALOGUE_DOI_ADVANCE, {"doi": doi, "state": "registered"})

    def publish_doi(self, doi: str) -> dict:
        """→ findable (the PI or staff)."""
        return self._client.call(P.OP_CATALOGUE_DOI_ADVANCE, {"doi": doi, "state": "findable"})

    def doi(self, doi: str) -> dict:
        """One DOI with its DataCite record (``datacite``) and ``landing_page`` URL."""
        return self._client.call(P.OP_CATALOGUE_DOI, {"doi": doi})

    def dois(self, limit: int = 100, skip: int = 0) -> list[dict]:
        """DOIs this client may see (findable ones: everyone)."""
        return self._client.call(P.OP_CATALOGUE_DOIS, {"limit": limit, "skip": skip})["dois"]
