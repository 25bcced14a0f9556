"""The service map: the services of the learned graph, and the peers inferred from their calls,
with each one's health.

A service is failing with an open error anomaly, degraded with another open anomaly, learning
with none while some series of it has not learned its baseline yet (only the floors judge it: no
opinion yet), and ok otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aiops_core.models import AnomalyKind
from aiops_core.peers import NodeKind
from aiops_incidents.schemas import ServiceEdge, ServiceGraph, ServiceHealth, ServiceNode
from aiops_incidents.series.schemas import Learning


def service_map(
    edges: Sequence[ServiceEdge],
    open_kinds: Mapping[str, list[AnomalyKind]],
    learning: Mapping[tuple[str, str], Learning],
) -> ServiceGraph:
    """`learning`: each recently learned series' state, by (service, operation)."""
    remaining: dict[str, float | None] = {}
    for (service, _operation), one in learning.items():
        if one.learning:
            remaining[service] = max(remaining.get(service) or 0.0, one.remaining_s)
        else:
            remaining.setdefault(service, None)
    names = sorted({e.source for e in edges} | {e.target for e in edges} | set(open_kinds) | set(remaining))
    # A name that sends spans of its own (the source of an edge) is a service, whatever a caller
    # of it once inferred.
    kinds = {e.target: e.target_kind for e in edges} | {e.source: NodeKind.SERVICE for e in edges}
    return ServiceGraph(
        services=[
            _node(name, kinds.get(name, NodeKind.SERVICE), open_kinds.get(name, []), remaining.get(name))
            for name in names
        ],
        edges=list(edges),
    )


def _node(
    service: str, kind: NodeKind, open_kinds: list[AnomalyKind], learning_remaining_s: float | None
) -> ServiceNode:
    """`learning_remaining_s`: None when every series of the service has learned."""
    if AnomalyKind.ERROR_RATIO in open_kinds:
        health = ServiceHealth.FAILING
    elif open_kinds:
        health = ServiceHealth.DEGRADED
    elif learning_remaining_s is not None:
        health = ServiceHealth.LEARNING
    else:
        health = ServiceHealth.OK
    return ServiceNode(
        service=service,
        kind=kind,
        health=health,
        open_anomalies=len(open_kinds),
        learning=learning_remaining_s is not None,
        learning_remaining_s=learning_remaining_s,
    )
