"""The incidents API, read over HTTP: the few fields of its incidents that the scorecard needs.

Services talk only over HTTP, so these are small views of the documented JSON
(`IncidentPage`, `IncidentDetail`), not the incidents service's own models; fields not named here
are ignored.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from pydantic import AwareDatetime, BaseModel, Field

PAGE_LIMIT = 200  # the API's largest page
# An incident opened before the run can reopen during it (the platform's reopen window,
# AIOPS_REOPEN_WINDOW_S, is 10 minutes by default): list that far back, keep those updated since.
REOPEN_LOOKBACK = timedelta(hours=1)


class ChangeView(BaseModel):
    kind: str
    new_version: str | None = None


class EvidenceView(BaseModel):
    changes: list[ChangeView] = []  # changes to the candidate just before its trouble began


class CandidateView(BaseModel):
    service: str
    operation: str
    kind: str
    score: float
    instance: str | None = None  # the one instance (`service.instance.id`) carrying the trouble
    evidence: EvidenceView = EvidenceView()


class TimelineEventView(BaseModel):
    at: AwareDatetime
    type: str
    actor: str


class IncidentView(BaseModel):
    """An incident as `GET /aiops/incidents/{id}` shows it."""

    id: str
    title: str = ""
    status: str
    started_at: AwareDatetime
    opened_at: AwareDatetime
    resolved_at: AwareDatetime | None = None
    root_cause: CandidateView | None = None
    candidates: list[CandidateView] = Field(default_factory=list)
    timeline: list[TimelineEventView] = Field(default_factory=list)


class _Listed(BaseModel):
    id: str
    updated_at: AwareDatetime


class _Page(BaseModel):
    items: list[_Listed]
    next_cursor: str | None = None


class IncidentsApi:
    def __init__(self, client: httpx.AsyncClient, url: str, token: str | None = None) -> None:
        self._client = client
        self._url = f"{url.rstrip('/')}/aiops/incidents"
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def check(self) -> None:
        """Raises unless the API answers a read (reachable, and the token is accepted)."""
        await self._get(self._url, {"limit": 1})

    async def incidents_touched_since(self, since: datetime) -> list[IncidentView]:
        """Every incident opened, reopened or resolved since `since`, in full."""
        listed: list[_Listed] = []
        params: dict[str, str | int] = {"since": (since - REOPEN_LOOKBACK).isoformat(), "limit": PAGE_LIMIT}
        while True:
            page = _Page.model_validate(await self._get(self._url, params))
            listed.extend(page.items)
            if page.next_cursor is None:
                break
            params["cursor"] = page.next_cursor
        # A page may repeat an incident that moved while we paged; each is fetched once.
        touched = dict.fromkeys(item.id for item in listed if item.updated_at >= since)
        return [IncidentView.model_validate(await self._get(f"{self._url}/{id_}")) for id_ in touched]

    async def _get(self, url: str, params: dict[str, str | int] | None = None) -> object:
        response = await self._client.get(url, params=params, headers=self._headers)
        response.raise_for_status()
        return response.json()
