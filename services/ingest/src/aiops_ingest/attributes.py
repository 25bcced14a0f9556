"""OTLP attributes read into plain JSON values, within the limits, for every signal."""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from pydantic import JsonValue

from aiops_ingest.normalised import Limits, clean

MAX_KEY = 128
MAX_SERVICE = 256
UNKNOWN_SERVICE = "unknown_service"
# The resource attributes that name the instance (aiops_core.peers.instance_of reads them).
INSTANCE_KEYS = frozenset({"service.instance.id", "k8s.pod.name", "host.name"})


class AttributeReader:
    def __init__(self, limits: Limits) -> None:
        self._limits = limits

    def attributes(self, kvs: Iterable[KeyValue]) -> dict[str, JsonValue]:
        # The hot loop of ingest (a dozen attributes a span): strings, the common case, are
        # handled inline rather than through `value`.
        attributes: dict[str, JsonValue] = {}
        max_count, max_length = self._limits.max_attributes, self._limits.max_attribute_length
        for kv in kvs:
            if len(attributes) >= max_count:
                break
            key = kv.key
            if len(key) > MAX_KEY or "\x00" in key:
                key = clean(key, MAX_KEY)
            value = kv.value
            # Any other kind of value reads as "": a non-empty string needs no WhichOneof.
            text = value.string_value
            if text:
                if len(text) > max_length or "\x00" in text:
                    text = clean(text, max_length)
                attributes[key] = text
            else:
                other = self.value(value)
                if other is not None:
                    attributes[key] = other
        return attributes

    def value(self, value: AnyValue) -> JsonValue:
        max_length = self._limits.max_attribute_length
        which = value.WhichOneof("value")
        if which == "string_value":
            return clean(value.string_value, max_length)
        if which == "int_value":
            return value.int_value
        if which == "bool_value":
            return value.bool_value
        if which == "double_value":
            return value.double_value
        if which == "array_value":
            return [
                clean(str(self.value(item)), max_length)
                for item in value.array_value.values[: self._limits.max_attributes]
            ]
        if which == "bytes_value":
            return value.bytes_value.hex()[:max_length]
        if which == "kvlist_value":
            return clean(str({kv.key: self.value(kv.value) for kv in value.kvlist_value.values}), max_length)
        return None

    def resource(self, resource: Resource, kept: frozenset[str]) -> tuple[str, dict[str, JsonValue]]:
        """The resource's service name and those of its attributes named in `kept`."""
        service = UNKNOWN_SERVICE
        attributes: dict[str, JsonValue] = {}
        for kv in resource.attributes:
            if kv.key == "service.name":
                service = clean(str(self.value(kv.value)), MAX_SERVICE) or service
            elif kv.key in kept:
                attributes[kv.key] = self.value(kv.value)
        return service, attributes
