"""Who a span talks to and who sent it, read from OpenTelemetry's semantic conventions.

A client (or producer) span names its peer: a database, a cache, a queue or an HTTP API that
may send no spans of its own. `infer_peer` turns those attributes into a node of the service
graph — named as an engineer would say it ("postgresql stock-db") and typed — so that a
dependency nobody instrumented can be drawn, judged and blamed. Whether the peer really is
uninstrumented (no server span answers the call) is decided later, over the stored spans.

`instance_of` names the instance of a service that sent a span (a pod, a host), so that one bad
replica can be told from a bad release.

Old and current attribute names are both read: the conventions renamed several (`db.name` is now
`db.namespace`, `net.peer.name` is now `server.address`) and both are still sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from pydantic import JsonValue


class NodeKind(StrEnum):
    """What a node of the service graph is: a service that sends spans, or a peer inferred from
    its callers' spans."""

    SERVICE = "service"
    DATABASE = "database"
    CACHE = "cache"
    MESSAGING = "messaging"
    HTTP = "http"


@dataclass(frozen=True)
class Peer:
    name: str
    kind: NodeKind


# `db.system` values that are caches rather than databases.
_CACHE_SYSTEMS = frozenset({"redis", "valkey", "memcached", "hazelcast", "geode", "coherence"})
_DB_SYSTEM = ("db.system.name", "db.system")
_DB_NAMESPACE = ("db.namespace", "db.name")
_ADDRESS = ("server.address", "net.peer.name")
_URL = ("url.full", "http.url")
_DESTINATION = ("messaging.destination.name", "messaging.destination")
_INSTANCE = ("service.instance.id", "k8s.pod.name", "host.name")
# The kinds (as stored) of the spans of a request a service answered, and of a call it made.
REQUEST_KINDS = frozenset({"server", "consumer"})
CALLER_KINDS = frozenset({"client", "producer"})
MAX_NAME = 256


def infer_peer(kind: str, attributes: Mapping[str, JsonValue]) -> Peer | None:
    """The peer a client or producer span calls, by the first convention that names it:
    `peer.service`; else `db.system` with `server.address` (or `db.namespace`); else
    `messaging.system` with `server.address` (or the destination); else `rpc.service`; else the
    server's address (`server.address`, or the host of `url.full`). None for other kinds of span
    and for calls that name nothing."""
    if kind not in CALLER_KINDS:
        return None
    db_system = _text(attributes, _DB_SYSTEM)
    messaging_system = _text(attributes, ("messaging.system",))
    address = _text(attributes, _ADDRESS) or _host(_text(attributes, _URL))
    if db_system is not None:
        peer_kind = NodeKind.CACHE if db_system.lower() in _CACHE_SYSTEMS else NodeKind.DATABASE
    elif messaging_system is not None:
        peer_kind = NodeKind.MESSAGING
    else:
        peer_kind = NodeKind.HTTP
    if (named := _text(attributes, ("peer.service",))) is not None:
        return _peer(named, peer_kind)
    if db_system is not None:
        return _peer(_joined(db_system, address or _text(attributes, _DB_NAMESPACE)), peer_kind)
    if messaging_system is not None:
        return _peer(_joined(messaging_system, address or _text(attributes, _DESTINATION)), peer_kind)
    if (rpc_service := _text(attributes, ("rpc.service",))) is not None:
        return _peer(rpc_service, peer_kind)
    return _peer(address, peer_kind) if address is not None else None


def instance_of(attributes: Mapping[str, JsonValue]) -> str | None:
    """The instance that sent a span: `service.instance.id`, else the pod, else the host."""
    found = _text(attributes, _INSTANCE)
    return found[:MAX_NAME] if found is not None else None


def _peer(name: str, kind: NodeKind) -> Peer:
    return Peer(name[:MAX_NAME], kind)


def _joined(system: str, where: str | None) -> str:
    return f"{system} {where}" if where else system


def _text(attributes: Mapping[str, JsonValue], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = attributes.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _host(url: str | None) -> str | None:
    if url is None:
        return None
    try:
        return urlsplit(url).hostname or None
    except ValueError:
        return None
