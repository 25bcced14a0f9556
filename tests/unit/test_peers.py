import pytest
from pydantic import JsonValue

from aiops_core.peers import NodeKind, Peer, infer_peer, instance_of


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        # peer.service wins, typed by what else the span says
        ({"peer.service": "billing", "server.address": "10.0.0.7"}, Peer("billing", NodeKind.HTTP)),
        ({"peer.service": "orders-db", "db.system": "postgresql"}, Peer("orders-db", NodeKind.DATABASE)),
        # a database: system and server address, else system and namespace, else system alone
        (
            {"db.system": "postgresql", "server.address": "stock-db", "db.namespace": "stock"},
            Peer("postgresql stock-db", NodeKind.DATABASE),
        ),
        ({"db.system": "mysql", "db.namespace": "shop"}, Peer("mysql shop", NodeKind.DATABASE)),
        ({"db.system.name": "postgresql"}, Peer("postgresql", NodeKind.DATABASE)),
        # the conventions' older names
        ({"db.system": "mysql", "db.name": "shop"}, Peer("mysql shop", NodeKind.DATABASE)),
        ({"db.system": "postgresql", "net.peer.name": "pg-1"}, Peer("postgresql pg-1", NodeKind.DATABASE)),
        # caches are databases by convention, told apart by their system
        ({"db.system": "redis", "server.address": "cache"}, Peer("redis cache", NodeKind.CACHE)),
        ({"db.system": "memcached"}, Peer("memcached", NodeKind.CACHE)),
        # messaging: system and broker, else system and destination
        (
            {"messaging.system": "rabbitmq", "messaging.destination.name": "orders"},
            Peer("rabbitmq orders", NodeKind.MESSAGING),
        ),
        (
            {"messaging.system": "kafka", "server.address": "kafka-0", "messaging.destination.name": "t"},
            Peer("kafka kafka-0", NodeKind.MESSAGING),
        ),
        ({"rpc.system": "grpc", "rpc.service": "shop.Pricing"}, Peer("shop.Pricing", NodeKind.HTTP)),
        # plain HTTP: the server's address, else the URL's host
        ({"server.address": "api.stripe.com", "server.port": 443}, Peer("api.stripe.com", NodeKind.HTTP)),
        ({"url.full": "https://maps.example.com:8443/v1/route?a=1"}, Peer("maps.example.com", NodeKind.HTTP)),
        ({"http.url": "http://legacy:8080/x"}, Peer("legacy", NodeKind.HTTP)),
    ],
)
def test_a_client_span_names_its_peer_by_the_first_convention_that_does(
    attributes: dict[str, JsonValue], expected: Peer
) -> None:
    assert infer_peer("client", attributes) == expected


def test_a_producer_span_names_its_peer_too() -> None:
    peer = infer_peer("producer", {"messaging.system": "rabbitmq", "server.address": "mq"})
    assert peer == Peer("rabbitmq mq", NodeKind.MESSAGING)


@pytest.mark.parametrize("kind", ["server", "consumer", "internal", "unspecified"])
def test_only_calls_name_a_peer(kind: str) -> None:
    assert infer_peer(kind, {"db.system": "postgresql", "server.address": "db"}) is None


@pytest.mark.parametrize(
    "attributes",
    [
        {},
        {"http.request.method": "GET"},
        {"server.address": "  "},
        {"url.full": "not a url"},
        {"peer.service": 7},
    ],
)
def test_a_call_that_names_nothing_has_no_peer(attributes: dict[str, JsonValue]) -> None:
    assert infer_peer("client", attributes) is None


def test_a_long_name_is_cut() -> None:
    peer = infer_peer("client", {"peer.service": "x" * 1000})
    assert peer is not None
    assert len(peer.name) == 256


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"service.instance.id": "payment-2", "k8s.pod.name": "pod", "host.name": "h"}, "payment-2"),
        ({"k8s.pod.name": "payment-7d9f-abcde", "host.name": "node-3"}, "payment-7d9f-abcde"),
        ({"host.name": "node-3"}, "node-3"),
        ({}, None),
    ],
)
def test_the_instance_is_the_most_specific_name_the_resource_gives(
    attributes: dict[str, JsonValue], expected: str | None
) -> None:
    assert instance_of(attributes) == expected
