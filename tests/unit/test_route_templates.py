import pytest

from aiops_ingest.route_templates import template_path


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/payment/42", "/payment/{id}"),
        ("/payment", "/payment"),
        ("/", "/"),
        ("", "/"),
        ("/orders/550e8400-e29b-41d4-a716-446655440000/items", "/orders/{id}/items"),
        ("/blobs/5f3c9a1e77", "/blobs/{id}"),
        ("/users/alice@example.com", "/users/{id}"),
        ("/sessions/AbC123dEf456GhI789jk", "/sessions/{id}"),
        ("/inventory/42?verbose=1#top", "/inventory/{id}"),
        ("http://payment:8081/payment/7?x=1", "/payment/{id}"),
        ("/v1/traces", "/v1/traces"),
        ("/api/v2/health", "/api/v2/health"),
        ("/feed/deadbeef", "/feed/deadbeef"),  # a hex-looking word without digits stays
        ("/items/{id}", "/items/{id}"),  # already a template
        ("/price/-3.50", "/price/{id}"),
    ],
)
def test_ids_become_placeholders(raw: str, expected: str) -> None:
    assert template_path(raw) == expected
