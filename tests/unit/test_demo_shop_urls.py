"""Where the fault panel finds the demo shop: AIOPS_DEMO_SHOP_URLS, checked at start-up, or the
shop apps of `aiops up`."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from aiops_incidents.demo_faults.urls import parse_shop_urls, shop_urls
from aiops_incidents.settings import IncidentSettings

SHOP = "frontend=http://127.0.0.1:8080,payment=http://127.0.0.1:8081,inventory=http://127.0.0.1:8082"


def test_entries_become_urls_by_service() -> None:
    assert parse_shop_urls(SHOP) == {
        "frontend": "http://127.0.0.1:8080",
        "inventory": "http://127.0.0.1:8082",
        "payment": "http://127.0.0.1:8081",
    }
    assert list(parse_shop_urls(SHOP)) == ["frontend", "inventory", "payment"]


def test_spaces_empty_entries_and_trailing_slashes_are_forgiven() -> None:
    given = " payment = https://shop.example:8443/pay/ ,, inventory=http://inventory:8082 ,"
    assert parse_shop_urls(given) == {
        "inventory": "http://inventory:8082",
        "payment": "https://shop.example:8443/pay",
    }
    assert parse_shop_urls("") == parse_shop_urls(" , ") == {}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("http://127.0.0.1:8081", "is not service=URL"),
        ("payment", "is not service=URL"),
        ("=http://127.0.0.1:8081", "is not service=URL"),
        ("pay ment=http://127.0.0.1:8081", "is not service=URL"),
        ("payment=127.0.0.1:8081", "the URL of payment must start with one of http://, https://"),
        ("payment=ftp://127.0.0.1/", "the URL of payment must start with one of http://, https://"),
        ("payment=http://", "the URL of payment must name a host"),
        ("payment=http://127.0.0.1:eighty", "the URL of payment"),
        ("payment=http://a:8081,payment=http://b:8081", "payment is given twice"),
    ],
)
def test_a_malformed_entry_is_refused_with_what_is_expected(text: str, says: str) -> None:
    with pytest.raises(ValueError, match="expected service=URL entries") as refused:
        parse_shop_urls(text)
    assert says in str(refused.value)


def test_the_setting_is_checked_when_the_service_starts() -> None:
    assert IncidentSettings(demo_shop_urls=SHOP).demo_shop_urls == SHOP
    assert IncidentSettings().demo_shop_urls == ""
    with pytest.raises(ValidationError, match="demo_shop_urls") as refused:
        IncidentSettings(demo_shop_urls="payment:8081")
    assert "'payment:8081' is not service=URL" in str(refused.value)


def test_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIOPS_DEMO_SHOP_URLS", "payment=http://shop:8081")
    assert parse_shop_urls(IncidentSettings().demo_shop_urls) == {"payment": "http://shop:8081"}


def test_aiops_up_s_shop_apps_are_the_shop_unless_the_setting_names_one() -> None:
    running = {
        "ingest": "http://127.0.0.1:4318",
        "incidents": "http://127.0.0.1:8000",
        "shop-frontend": "http://127.0.0.1:8080",
        "shop-payment": "http://127.0.0.1:8081",
        "shop-inventory": "http://127.0.0.1:8082",
    }
    assert shop_urls("", running) == {
        "frontend": "http://127.0.0.1:8080",
        "inventory": "http://127.0.0.1:8082",
        "payment": "http://127.0.0.1:8081",
    }
    assert shop_urls("payment=http://elsewhere:9000", running) == {"payment": "http://elsewhere:9000"}
    assert shop_urls("", {"incidents": "http://127.0.0.1:8000"}) == {}
