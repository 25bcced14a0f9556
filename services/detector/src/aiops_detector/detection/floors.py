"""Each service's floors: the limits beyond which its request series are never normal, whatever
their history. One default for every service from the settings, overridden per service."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from aiops_detector.detection.detectors import Floors

# The fields of `Floors` an override may set.
OVERRIDABLE = ("error_ratio", "latency_ms", "traffic_per_s")


@dataclass(frozen=True)
class FloorTable:
    default: Floors = field(default_factory=Floors)
    by_service: Mapping[str, Floors] = field(default_factory=dict)

    def of(self, service: str) -> Floors:
        return self.by_service.get(service, self.default)


def floors(error_ratio: float, latency_ms: float, traffic_per_s: float) -> Floors:
    """Floors from settings, where 0 means none."""
    return Floors(error_ratio or None, latency_ms or None, traffic_per_s or None)


def parse_overrides(text: str, default: Floors) -> dict[str, Floors]:
    """Comma-separated `service:name=value` entries (name: error_ratio, latency_ms or
    traffic_per_s; value 0: no floor) on top of `default`. Raises ValueError naming a bad entry."""
    by_service: dict[str, Floors] = {}
    for entry in (item.strip() for item in text.split(",")):
        if not entry:
            continue
        target, sep, raw_value = entry.rpartition("=")
        service, colon, name = target.rpartition(":")
        if not sep or not colon or not service or name not in OVERRIDABLE:
            raise ValueError(f"{entry!r} is not service:name=value with name one of {', '.join(OVERRIDABLE)}")
        try:
            value = float(raw_value)
        except ValueError:
            raise ValueError(f"{entry!r}: {raw_value!r} is not a number") from None
        if value < 0 or (name == "error_ratio" and value > 1):
            raise ValueError(f"{entry!r}: out of range (at least 0, at most 1 for error_ratio)")
        current = by_service.get(service, default)
        by_service[service] = replace(current, **{name: value or None})
    return by_service
