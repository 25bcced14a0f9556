"""What the fault panel can break in the demo shop, named as the platform names what it finds, and
where the fault controls of each are.

The entries: one per app of the shop, named by the service its spans carry (payment) or, when a
service runs as several instances, by the instance (payment-1, payment-2, its
`service.instance.id`); and stock-db, inventory's database, whenever inventory is there. An
app's controls are its `/simulate`; stock-db's are inventory's `/simulate/stock-db`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from aiops_core.urls import check_url

# `aiops up` names the shop's apps "shop-frontend", ...; their spans say "frontend", ...
SHOP_SPEC_PREFIX = "shop-"
FORMAT = (
    "service=URL entries separated by commas, e.g. payment=http://127.0.0.1:8081, or a service's "
    "instances as payment-1=http://127.0.0.1:8081,payment-2=http://127.0.0.1:8083"
)
_SERVICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
# "payment-2": the second instance of payment (the shop names instances so, from 1).
_INSTANCE = re.compile(r"^(?P<service>.+)-(?P<number>[1-9][0-9]*)$")

# Every app's own fault controls.
CONTROLS = "/simulate"
# Inventory's database: the shop simulates it inside inventory, whose app has its fault controls.
INVENTORY = "inventory"
STOCK_DB = "stock-db"
STOCK_DB_CONTROLS = f"{CONTROLS}/{STOCK_DB}"
# stock-db as the platform names a database from its callers' spans: `db.system` `server.address`.
STOCK_DB_NODE = f"postgresql {STOCK_DB}"


def parse_shop_urls(text: str) -> dict[str, str]:
    """`AIOPS_DEMO_SHOP_URLS` as {name: app URL}, sorted by name; empty text, no shop. A name is a
    service or one instance of it (`<service>-<n>`). A malformed entry is a configuration error
    that names it."""
    urls: dict[str, str] = {}
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        service, equals, url = (part.strip() for part in entry.partition("="))
        if not equals or not _SERVICE_NAME.match(service):
            raise ValueError(f"{entry!r} is not service=URL; expected {FORMAT}")
        if service == STOCK_DB:
            raise ValueError(f"{STOCK_DB} is not an app: it comes with {INVENTORY}=URL; expected {FORMAT}")
        try:
            check_url(url, ("http", "https"))
            _ = urlsplit(url).port  # raises on a port that is not a number
        except ValueError as exc:
            raise ValueError(f"the URL of {service} {exc}; expected {FORMAT}") from exc
        if service in urls:
            raise ValueError(f"{service} is given twice; expected {FORMAT}")
        urls[service] = url.rstrip("/")
    return dict(sorted(urls.items()))


def running_shop_apps(service_urls: Mapping[str, str]) -> dict[str, str]:
    """The shop apps among the services running in the same process (`aiops up`) as {name: app
    URL}, sorted by name. "shop-payment-2" is payment's second instance and "shop-payment" then its
    first: with both, they are payment-1 and payment-2, as the shop names them; alone, payment."""
    apps: dict[str, dict[int, str]] = {}
    for spec, url in service_urls.items():
        if not spec.startswith(SHOP_SPEC_PREFIX):
            continue
        name = spec.removeprefix(SHOP_SPEC_PREFIX)
        instance = _INSTANCE.match(name)
        service, number = (instance["service"], int(instance["number"])) if instance else (name, 1)
        apps.setdefault(service, {})[number] = url.rstrip("/")
    named: dict[str, str] = {}
    for service, instances in apps.items():
        if len(instances) == 1:
            named[service] = next(iter(instances.values()))
        else:
            named.update({f"{service}-{number}": url for number, url in instances.items()})
    return dict(sorted(named.items()))


def shop_controls(apps: Mapping[str, str]) -> dict[str, str]:
    """The fault panel's entries as {name: base URL of its fault controls}, sorted by name: each
    app's `/simulate`, and stock-db's `/simulate/stock-db` on inventory's app when inventory is
    one of them (inventory given as instances brings none: each would be a database of its own).
    `GET` a base URL for the faults, `POST` its `/error`, `/latency` and `/reset`."""
    controls = {name: f"{url.rstrip('/')}{CONTROLS}" for name, url in apps.items()}
    if INVENTORY in apps:
        controls[STOCK_DB] = f"{apps[INVENTORY].rstrip('/')}{STOCK_DB_CONTROLS}"
    return dict(sorted(controls.items()))


def shop_urls(setting: str, service_urls: Mapping[str, str]) -> dict[str, str]:
    """The fault panel's entries (see `shop_controls`): from the setting when it is set, else from
    the shop apps running in the same process (`aiops up`), else none."""
    if setting.strip():
        return shop_controls(parse_shop_urls(setting))
    return shop_controls(running_shop_apps(service_urls))


def entry_node(name: str) -> str:
    """What the platform shows for an entry (the node of its service map, the name its series
    page goes by): the service of an instance, the platform's name for stock-db, else the name."""
    if name == STOCK_DB:
        return STOCK_DB_NODE
    instance = _INSTANCE.match(name)
    return instance["service"] if instance else name
