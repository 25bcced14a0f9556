"""The load generator: checkouts at a given rate against the shop's frontend.

Open loop, like real users: a slow shop does not slow the arrivals, it only piles up requests
in flight (up to a bound, past which arrivals are counted as dropped). Arrivals are evenly
spaced, or random (a Poisson process) for a more natural load; the rate can swing slowly
around its mean, as a day's traffic does. What the client saw, error rate and latency, is the
summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random
import time
from collections import deque
from dataclasses import asdict, dataclass

import click
import httpx

from aiops_shop.settings import LoadGenSettings

log = logging.getLogger(__name__)

SKUS = [f"SKU-{n}" for n in range(1, 21)]
_LATENCY_SAMPLES = 10_000


@dataclass
class LoadSummary:
    sent: int
    ok: int
    failed: int
    dropped: int
    error_rate: float
    p50_ms: float
    p95_ms: float
    duration_s: float


@dataclass(frozen=True)
class RateProfile:
    """`rps * (1 + swing * sin(2 pi t / swing_period_s))` arrivals a second at t seconds in;
    random arrivals when `poisson`."""

    rps: float
    swing: float = 0.0
    swing_period_s: float = 600.0
    poisson: bool = False

    def rate_at(self, elapsed_s: float) -> float:
        return self.rps * (1 + self.swing * math.sin(2 * math.pi * elapsed_s / self.swing_period_s))


class LoadGenerator:
    def __init__(
        self,
        url: str,
        *,
        rate: RateProfile,
        concurrency: int = 64,
        seed: int | None = None,
    ) -> None:
        self._url = url.rstrip("/")
        self._profile = rate
        self._slots = asyncio.Semaphore(concurrency)
        self._rng = random.Random(seed)
        self._task: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._latencies_ms: deque[float] = deque(maxlen=_LATENCY_SAMPLES)
        self._sent = self._ok = self._failed = self._dropped = 0
        self._started = 0.0

    @classmethod
    def from_settings(cls, url: str) -> LoadGenerator:
        settings = LoadGenSettings()
        return cls(url, rate=RateProfile(settings.loadgen_rps), concurrency=settings.loadgen_concurrency)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(duration_s=None), name="loadgen")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        log.info("load generator stopped", extra=asdict(self.summary()))

    async def run_for(self, duration_s: float) -> LoadSummary:
        await self._run(duration_s)
        return self.summary()

    async def _run(self, duration_s: float | None) -> None:
        self._started = time.monotonic()
        async with httpx.AsyncClient(timeout=30) as client:
            try:
                next_at = self._started
                while duration_s is None or next_at - self._started < duration_s:
                    await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                    next_at += self._gap_s(next_at - self._started)
                    if self._slots.locked():
                        self._dropped += 1
                        continue
                    await self._slots.acquire()
                    task = asyncio.create_task(self._checkout(client))
                    self._in_flight.add(task)
                    task.add_done_callback(self._in_flight.discard)
            finally:
                if self._in_flight:
                    await asyncio.wait(self._in_flight, timeout=35)

    def _gap_s(self, elapsed_s: float) -> float:
        rate = max(self._profile.rate_at(elapsed_s), 1e-3)
        return self._rng.expovariate(rate) if self._profile.poisson else 1 / rate

    async def _checkout(self, client: httpx.AsyncClient) -> None:
        self._sent += 1
        order = {"sku": self._rng.choice(SKUS), "quantity": self._rng.randint(1, 3)}
        started = time.monotonic()
        try:
            response = await client.post(f"{self._url}/checkout", json=order)
            failed = response.status_code >= 500
        except httpx.HTTPError:
            failed = True
        finally:
            self._slots.release()
        self._latencies_ms.append((time.monotonic() - started) * 1000)
        if failed:
            self._failed += 1
        else:
            self._ok += 1

    def summary(self) -> LoadSummary:
        ordered = sorted(self._latencies_ms)

        def quantile(q: float) -> float:
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1) if ordered else 0.0

        done = self._ok + self._failed
        return LoadSummary(
            sent=self._sent,
            ok=self._ok,
            failed=self._failed,
            dropped=self._dropped,
            error_rate=round(self._failed / done, 4) if done else 0.0,
            p50_ms=quantile(0.5),
            p95_ms=quantile(0.95),
            duration_s=round(time.monotonic() - self._started, 1),
        )


@click.command()
@click.option("--rps", type=float, default=None, help="Checkouts per second (default: AIOPS_LOADGEN_RPS, 5).")
@click.option(
    "--duration", type=float, default=60, show_default=True, help="Seconds to run; 0 runs until Ctrl-C."
)
@click.option("--url", default="http://127.0.0.1:8080", show_default=True, help="The shop frontend.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option("--poisson", is_flag=True, help="Random arrivals (a Poisson process) instead of evenly spaced.")
@click.option(
    "--swing",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Let the rate swing by this fraction around --rps, as a sine.",
)
@click.option(
    "--swing-period",
    type=click.FloatRange(min=1),
    default=600,
    show_default=True,
    help="Seconds of one swing.",
)
def loadgen(
    rps: float | None,
    duration: float,
    url: str,
    as_json: bool,
    poisson: bool,
    swing: float,
    swing_period: float,
) -> None:
    """Send checkouts to the demo shop at a given rate and report what the client saw."""
    settings = LoadGenSettings()
    profile = RateProfile(
        rps or settings.loadgen_rps, swing=swing, swing_period_s=swing_period, poisson=poisson
    )
    generator = LoadGenerator(url, rate=profile, concurrency=settings.loadgen_concurrency)
    try:
        summary = asyncio.run(generator.run_for(duration if duration > 0 else float("inf")))
    except KeyboardInterrupt:
        summary = generator.summary()
    if as_json:
        click.echo(json.dumps(asdict(summary)))
    else:
        click.echo(
            f"sent {summary.sent}  ok {summary.ok}  failed {summary.failed} ({summary.error_rate:.1%})  "
            f"dropped {summary.dropped}  p50 {summary.p50_ms} ms  p95 {summary.p95_ms} ms  "
            f"in {summary.duration_s} s"
        )
