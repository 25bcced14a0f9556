"""Where the fault panel finds the demo shop: AIOPS_DEMO_SHOP_URLS, checked at start-up, or the
shop apps of `aiops up`; and what its entries are, named as the platform names what it finds: a
service, one instance of it, or stock-db, inventory's database, whose controls are inventory's."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from aiops_incidents.demo_faults.urls import (
    entry_node,
    parse_shop_urls,
    running_shop_apps,
    shop_controls,
    shop_urls,
)
from aiops_incidents.settings import IncidentSettings

SHOP = "frontend=http://127.0.0.1:8080,payment=http://127.0.0.1:8081,inventory=http://127.0.0.1:8082"
# compose.yaml's default: payment as two instances.
TWO_PAYMENTS = "frontend=http://shop:8080,payment-1=http://shop:8081,payment-2=http://shop:8083,inventory=http://shop:8082"


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
        ("payment-2=http://a:8083,payment-2=http://b:8083", "payment-2 is given twice"),
        ("stock-db=http://127.0.0.1:8082", "stock-db is not an app: it comes with inventory=URL"),
    ],
)
def test_a_malformed_entry_is_refused_with_what_is_expected(text: str, says: str) -> None:
    with pytest.raises(ValueError, match="expected service=URL entries") as refused:
        parse_shop_urls(text)
    assert says in str(refused.value)
    assert "payment-1=http://127.0.0.1:8081,payment-2=http://127.0.0.1:8083" in str(refused.value)


def test_the_setting_is_checked_when_the_service_starts() -> None:
    assert IncidentSettings(demo_shop_urls=SHOP).demo_shop_urls == SHOP
    assert IncidentSettings(demo_shop_urls=TWO_PAYMENTS).demo_shop_urls == TWO_PAYMENTS
    assert IncidentSettings().demo_shop_urls == ""
    with pytest.raises(ValidationError, match="demo_shop_urls") as refused:
        IncidentSettings(demo_shop_urls="payment:8081")
    assert "'payment:8081' is not service=URL" in str(refused.value)


def test_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIOPS_DEMO_SHOP_URLS", "payment=http://shop:8081")
    assert parse_shop_urls(IncidentSettings().demo_shop_urls) == {"payment": "http://shop:8081"}


def test_each_entry_is_named_by_its_controls_and_inventory_brings_stock_db() -> None:
    assert shop_urls(SHOP, {}) == {
        "frontend": "http://127.0.0.1:8080/simulate",
        "inventory": "http://127.0.0.1:8082/simulate",
        "payment": "http://127.0.0.1:8081/simulate",
        "stock-db": "http://127.0.0.1:8082/simulate/stock-db",
    }
    assert shop_urls(TWO_PAYMENTS, {}) == {
        "frontend": "http://shop:8080/simulate",
        "inventory": "http://shop:8082/simulate",
        "payment-1": "http://shop:8081/simulate",
        "payment-2": "http://shop:8083/simulate",
        "stock-db": "http://shop:8082/simulate/stock-db",
    }
    # Without inventory, no stock-db; inventory as instances brings none either (each instance
    # would have a database of its own).
    assert shop_urls("payment=http://shop:8081", {}) == {"payment": "http://shop:8081/simulate"}
    assert list(shop_controls({"inventory-1": "http://a:8082", "inventory-2": "http://b:8082"})) == [
        "inventory-1",
        "inventory-2",
    ]
    assert shop_controls({"inventory": "https://shop.example/inv/"}) == {
        "inventory": "https://shop.example/inv/simulate",
        "stock-db": "https://shop.example/inv/simulate/stock-db",
    }


def test_the_chart_s_shop_brings_stock_db_through_inventory() -> None:
    """What charts/aiops sets AIOPS_DEMO_SHOP_URLS to with demoShop.enabled (tests/deploy)."""
    chart = (
        "frontend=http://aiops-shop-frontend:8080,payment=http://aiops-shop-payment:8081,"
        "inventory=http://aiops-shop-inventory:8082"
    )
    assert shop_urls(chart, {})["stock-db"] == "http://aiops-shop-inventory:8082/simulate/stock-db"


def test_aiops_up_s_shop_apps_are_the_shop_unless_the_setting_names_one() -> None:
    running = {
        "ingest": "http://127.0.0.1:4318",
        "incidents": "http://127.0.0.1:8000",
        "shop-frontend": "http://127.0.0.1:8080",
        "shop-payment": "http://127.0.0.1:8081",
        "shop-inventory": "http://127.0.0.1:8082",
    }
    assert running_shop_apps(running) == {
        "frontend": "http://127.0.0.1:8080",
        "inventory": "http://127.0.0.1:8082",
        "payment": "http://127.0.0.1:8081",
    }
    assert list(shop_urls("", running)) == ["frontend", "inventory", "payment", "stock-db"]
    assert shop_urls("payment=http://elsewhere:9000", running) == {
        "payment": "http://elsewhere:9000/simulate"
    }
    assert shop_urls("", {"incidents": "http://127.0.0.1:8000"}) == {}


def test_with_both_payment_apps_running_each_is_named_by_its_instance() -> None:
    """`aiops up` (and `aiops serve shop shop-payment-2`): shop-payment is payment-1, as the spans
    of its `service.instance.id` say; a lone payment app is payment, whichever it is."""
    running = {
        "incidents": "http://127.0.0.1:8000",
        "shop-frontend": "http://127.0.0.1:8080",
        "shop-payment": "http://127.0.0.1:8081",
        "shop-inventory": "http://127.0.0.1:8082",
        "shop-payment-2": "http://127.0.0.1:8083",
    }
    assert shop_urls("", running) == {
        "frontend": "http://127.0.0.1:8080/simulate",
        "inventory": "http://127.0.0.1:8082/simulate",
        "payment-1": "http://127.0.0.1:8081/simulate",
        "payment-2": "http://127.0.0.1:8083/simulate",
        "stock-db": "http://127.0.0.1:8082/simulate/stock-db",
    }
    assert running_shop_apps({"shop-payment-2": "http://127.0.0.1:8083/"}) == {
        "payment": "http://127.0.0.1:8083"
    }


@pytest.mark.parametrize(
    ("entry", "node"),
    [
        ("payment", "payment"),
        ("payment-1", "payment"),
        ("payment-2", "payment"),
        ("payment-12", "payment"),
        ("stock-db", "postgresql stock-db"),
        ("frontend", "frontend"),
        ("shop-v2", "shop-v2"),
        ("payment-0", "payment-0"),
    ],
)
def test_each_entry_s_node_is_what_the_platform_shows_for_it(entry: str, node: str) -> None:
    assert entry_node(entry) == node
