"""Posts webhook deliveries, retries them with exponential backoff, and dead-letters the ones
that used up their attempts.

A delivery is claimed by a short statement that pushes its next attempt past the HTTP timeout (a
lease), then posted with no transaction open, then its outcome is recorded. A replica that dies
mid-post leaves the delivery to be taken again once the lease ends, so a receiver may see one
delivery twice; the `X-Aiops-Delivery-Id` header, the same on every attempt, lets it drop the
repeat.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from urllib.parse import urlsplit

import asyncpg
import httpx
from pydantic import ValidationError

from aiops_core.bus import BrokerUnavailableError, Bus
from aiops_core.bus.topology import DEAD_LETTER_EXCHANGE, DEAD_LETTER_REASON_HEADER, WEBHOOK_DEAD_LETTERS
from aiops_incidents.clock import Clock, utc_now
from aiops_incidents.notifications.metrics import NotificationMetrics
from aiops_incidents.notifications.repository import DeliveryRepository, DueDelivery
from aiops_incidents.schemas import IncidentNotification
from aiops_incidents.settings import IncidentSettings

log = logging.getLogger(__name__)

DELIVERY_ID_HEADER = "X-Aiops-Delivery-Id"
EVENT_HEADER = "X-Aiops-Event"
# Time, beyond the HTTP timeout, that recording an attempt's outcome may take before the lease
# ends and another replica may take the delivery.
LEASE_GRACE_S = 10.0
# However many attempts are configured, a retry never waits longer than this.
MAX_RETRY_DELAY_S = 3600.0


def retry_delay_s(attempts: int, backoff_s: float) -> float:
    """Wait after the `attempts`-th failed attempt: backoff_s, then doubling, capped."""
    return min(backoff_s * 2.0 ** (attempts - 1), MAX_RETRY_DELAY_S)


class WebhookDispatcher:
    def __init__(
        self,
        pool: asyncpg.Pool,
        bus: Bus,
        settings: IncidentSettings,
        metrics: NotificationMetrics,
        *,
        client: httpx.AsyncClient | None = None,
        batch_size: int = 20,
        clock: Clock = utc_now,
    ) -> None:
        self._deliveries = DeliveryRepository(pool)
        self._bus = bus
        self._metrics = metrics
        self._max_attempts = settings.webhook_max_attempts
        self._backoff_s = settings.webhook_backoff_s
        self._timeout_s = settings.webhook_timeout_s
        self._client = client
        self._owns_client = client is None
        self._batch_size = batch_size
        self._clock = clock

    async def start(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self._timeout_s, headers={"User-Agent": "aiops-incidents"}, follow_redirects=False
            )

    async def stop(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def run_once(self) -> int:
        """Attempt every due delivery of one batch, at once (a slow receiver holds up no other
        one); how many were due."""
        now = self._clock()
        lease_until = now + timedelta(seconds=self._timeout_s + LEASE_GRACE_S)
        due = await self._deliveries.claim_due_deliveries(
            now=now, lease_until=lease_until, limit=self._batch_size
        )
        outcomes = await asyncio.gather(*(self._attempt(d) for d in due), return_exceptions=True)
        for delivery, outcome in zip(due, outcomes, strict=True):
            if isinstance(outcome, Exception):
                # Most likely the store went away; the lease ends and the delivery is taken again.
                log.error(
                    "webhook delivery outcome not recorded",
                    extra={"delivery_id": str(delivery.id), "error": f"{type(outcome).__name__}: {outcome}"},
                )
        return len(due)

    async def _attempt(self, delivery: DueDelivery) -> None:
        if delivery.attempts >= self._max_attempts:
            # Failed for good on an earlier run, when the bus could not take the dead letter.
            await self._dead_letter(delivery, delivery.attempts, delivery.last_error or "unknown")
            return
        error = await self._post(delivery)
        now = self._clock()
        if error is None:
            await self._deliveries.mark_delivered(delivery.id, now)
            self._metrics.count("webhook", "delivered")
            return
        attempts = delivery.attempts + 1
        await self._deliveries.record_failure(
            delivery.id,
            attempts=attempts,
            error=error,
            next_attempt_at=now + timedelta(seconds=retry_delay_s(attempts, self._backoff_s)),
        )
        if attempts < self._max_attempts:
            self._metrics.count("webhook", "failed")
            log.warning(
                "webhook delivery failed; will retry",
                extra={"delivery_id": str(delivery.id), "host": _host(delivery.url), "error": error},
            )
            return
        await self._dead_letter(delivery, attempts, error)

    async def _post(self, delivery: DueDelivery) -> str | None:
        """POST the delivery; None when the receiver took it (2xx), else what went wrong."""
        if self._client is None:
            raise RuntimeError("WebhookDispatcher.start() was not called")
        headers = {
            "Content-Type": "application/json",
            DELIVERY_ID_HEADER: str(delivery.id),
            EVENT_HEADER: delivery.event_type,
        }
        try:
            # httpx's timeout bounds each phase (connect, each read); this bounds the whole call.
            async with asyncio.timeout(self._timeout_s):
                response = await self._client.post(delivery.url, content=_body(delivery), headers=headers)
        except TimeoutError:
            return f"no answer within {self._timeout_s:g} s"
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if response.is_success:
            return None
        return f"HTTP {response.status_code}"

    async def _dead_letter(self, delivery: DueDelivery, attempts: int, error: str) -> None:
        reason = f"webhook to {_host(delivery.url)} failed {attempts} times; last error: {error}"
        try:
            await self._bus.publish(
                DEAD_LETTER_EXCHANGE,
                WEBHOOK_DEAD_LETTERS.name,
                _body(delivery),
                message_id=str(delivery.id),
                headers={DEAD_LETTER_REASON_HEADER: reason[:1000]},
            )
        except BrokerUnavailableError as exc:
            # Still pending with its attempts used up: a later run dead-letters it, posting no more.
            log.warning(
                "cannot dead-letter a webhook delivery yet",
                extra={"delivery_id": str(delivery.id), "error": str(exc)},
            )
            return
        await self._deliveries.mark_dead(delivery.id)
        self._metrics.count("webhook", "dead")
        log.error("webhook delivery dead-lettered", extra={"delivery_id": str(delivery.id), "reason": reason})


def _body(delivery: DueDelivery) -> bytes:
    # jsonb keeps no key order: going through the model sends the documented field order.
    try:
        return IncidentNotification.model_validate_json(delivery.payload).model_dump_json().encode()
    except ValidationError:
        return delivery.payload.encode()  # written by another version: sent as stored


def _host(url: str) -> str:
    """Where a webhook goes, for logs and reasons: URLs often carry a secret in the path."""
    return urlsplit(url).hostname or "an invalid URL"
