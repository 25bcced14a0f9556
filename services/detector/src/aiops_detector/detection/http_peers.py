"""Which HTTP peers send no spans of their own, for the window consumer (`aiops_core.windows.counted`).

An address the frontend calls may be a service that answers with server spans of its own (already
counted in its series) or an API nobody instrumented; only the service graph, over the stored
spans, can tell. The detector reads its verdict every so often.
"""

from __future__ import annotations

from aiops_detector.detection.repository import DetectionRepository

# How often the window consumer learns again which HTTP peers send no spans. A new one is found
# rarely (a new dependency), and the rollups read the graph directly, so this need not be eager.
HTTP_PEERS_INTERVAL_S = 30.0


class HttpPeers:
    """The HTTP peers the service graph found sending no spans, as last read from the store."""

    def __init__(self, repository: DetectionRepository) -> None:
        self._repository = repository
        self._known: frozenset[str] = frozenset()

    def known(self) -> frozenset[str]:
        return self._known

    async def refresh(self) -> None:
        self._known = await self._repository.http_peers()
