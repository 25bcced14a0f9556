"""Traces of the demo shop's shape, for root-cause tests: frontend POST /checkout calls inventory,
then payment (unless inventory failed or timed out); inventory may read its stock from a database
that sends no spans (seen only through inventory's client span)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from uuid import uuid4

from aiops_core.models import Span, SpanKind
from aiops_core.peers import NodeKind

CHECKOUT = ("frontend", "POST /checkout")
PAYMENT = ("payment", "POST /payment")
INVENTORY = ("inventory", "GET /inventory/{sku}")
STOCK_DB = "postgresql stock-db"
STOCK_QUERY = (STOCK_DB, "SELECT stock")
# The frontend's calls name their peers by address; a server span answers them.
INVENTORY_HOST = ("inventory.shop", NodeKind.HTTP)
PAYMENT_HOST = ("payment.shop", NodeKind.HTTP)


def checkout_trace(
    start: datetime,
    *,
    inventory_ms: float = 8,
    payment_ms: float = 40,
    frontend_self_ms: float = 3,
    payment_fails: bool = False,
    inventory_fails: bool = False,
    frontend_fails_early: bool = False,
    timeout_ms: float | None = None,
    stock_db_ms: float | None = None,
    stock_db_fails: bool = False,
    instances: Mapping[str, str] | None = None,
) -> list[Span]:
    """One checkout's spans with realistic timing; a timeout cuts the inventory call short.
    With `stock_db_ms`, inventory spends that long of its time reading the stock database (whose
    failure fails inventory's request).
    `instances`: the instance of each service that served it, by service."""
    trace_id = uuid4().hex

    def span(
        parent: str | None,
        series: tuple[str, str],
        kind: SpanKind,
        start_ms: float,
        ms: float,
        error: str | None = None,
        span_id: str | None = None,
        peer: tuple[str, NodeKind] | None = None,
    ) -> Span:
        return Span(
            trace_id=trace_id,
            span_id=span_id or uuid4().hex[:16],
            parent_span_id=parent,
            service=series[0],
            operation=series[1],
            kind=kind,
            start_time_unix_nano=int((start + timedelta(milliseconds=start_ms)).timestamp() * 1e9),
            duration_ns=int(ms * 1e6),
            is_error=error is not None,
            error_message=error,
            peer=peer[0] if peer else None,
            peer_kind=peer[1] if peer else None,
            instance=(instances or {}).get(series[0]),
        )

    root_id = uuid4().hex[:16]
    if frontend_fails_early:
        return [
            span(None, CHECKOUT, SpanKind.SERVER, 0, frontend_self_ms, "frontend rendering failed", root_id)
        ]
    inventory_fails = inventory_fails or stock_db_fails
    timed_out = timeout_ms is not None and inventory_ms + 1 > timeout_ms
    call_ms = min(inventory_ms + 1, timeout_ms) if timeout_ms is not None else inventory_ms + 1
    get_failure = "ReadTimeout" if timed_out else ("inventory answered 500" if inventory_fails else None)
    get = span(root_id, ("frontend", "GET"), SpanKind.CLIENT, 1, call_ms, get_failure, peer=INVENTORY_HOST)
    inventory_failure = "inventory database unavailable" if inventory_fails else None
    served = span(get.span_id, INVENTORY, SpanKind.SERVER, 1.5, inventory_ms, inventory_failure)
    spans = [get, served]
    if stock_db_ms is not None:
        db_peer = (STOCK_DB, NodeKind.DATABASE)
        db_failure = "stock-db: connection reset" if stock_db_fails else None
        query = ("inventory", "SELECT stock")
        spans.append(span(served.span_id, query, SpanKind.CLIENT, 2, stock_db_ms, db_failure, peer=db_peer))
    elapsed = 1 + call_ms
    if get_failure is None:
        post = span(
            root_id,
            ("frontend", "POST"),
            SpanKind.CLIENT,
            elapsed,
            payment_ms + 1,
            "payment answered 500" if payment_fails else None,
            peer=PAYMENT_HOST,
        )
        failure = "card processor timed out" if payment_fails else None
        spans += [post, span(post.span_id, PAYMENT, SpanKind.SERVER, elapsed + 0.5, payment_ms, failure)]
        elapsed += payment_ms + 1
    failed = get_failure or (post.error_message if get_failure is None else None)
    root = span(None, CHECKOUT, SpanKind.SERVER, 0, elapsed + frontend_self_ms, failed, root_id)
    return [root, *spans]
