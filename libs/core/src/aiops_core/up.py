"""`aiops up`: the whole platform in one process, with the demo shop and its load generator.

With no `AIOPS_*_URL` set it needs no server at all: PostgreSQL is embedded (data in
`AIOPS_DATA_DIR`, default `.aiops/`), the bus is in-process and Redis in memory. Any URL that
is set is used instead, so the same command runs against real servers.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import click

from aiops_core.app import ServiceSpec, Shared
from aiops_core.bus import InMemoryBus
from aiops_core.cache import create_embedded_redis
from aiops_core.embedded import EmbeddedPostgres
from aiops_core.runner import ProcessRunner

log = logging.getLogger(__name__)

DRAIN_TIMEOUT_S = 15.0


async def run_platform(specs: Sequence[ServiceSpec], *, host: str, port_offset: int, data_dir: Path) -> None:
    runnable = sorted((s for s in specs if s.build is not None), key=lambda s: s.order)
    embedded: list[str] = []
    postgres: EmbeddedPostgres | None = None
    if "AIOPS_DATABASE_URL" not in os.environ:
        postgres = EmbeddedPostgres(data_dir)
        # Every service reads its settings from the environment; point them at the embedded server.
        os.environ["AIOPS_DATABASE_URL"] = postgres.start()
        embedded.append(f"PostgreSQL (data in {data_dir / 'pgdata'})")
    bus = None if "AIOPS_BROKER_URL" in os.environ else InMemoryBus()
    if bus is not None:
        embedded.append("in-process bus")
    redis = None if "AIOPS_REDIS_URL" in os.environ else create_embedded_redis()
    if redis is not None:
        embedded.append("in-memory Redis")

    urls = {s.name: f"http://127.0.0.1:{s.default_port + port_offset}" for s in runnable}
    shared = Shared(bus=bus, redis=redis, service_urls=urls, host=host, port_offset=port_offset)
    runner = ProcessRunner()
    try:
        if bus is not None:
            await bus.start()
        for spec in runnable:
            assert spec.build is not None
            await runner.start_app(spec.name, spec.build(shared), host, spec.default_port + port_offset)
            if bus is not None:
                # Consumers start before their producers (incidents, then the detector, then
                # ingest) and stopping goes in reverse, so when stopping comes back here every
                # service that feeds this one has stopped: what is still on the in-process bus
                # can be consumed before this one stops.
                runner.add_step(
                    f"drain the in-process bus before {spec.name}",
                    lambda: bus.wait_until_empty(DRAIN_TIMEOUT_S),
                )
        for spec in runnable:
            if spec.companion is not None:
                await runner.start_background(f"{spec.name} companion", spec.companion(shared))
        _print_banner(runnable, urls, embedded)
        await runner.run_until_signalled()
    finally:
        await runner.stop_all()
        if bus is not None:
            await bus.close()
        if redis is not None:
            await redis.aclose()
        if postgres is not None:
            postgres.stop()
        click.echo("stopped")


def _print_banner(specs: Sequence[ServiceSpec], urls: dict[str, str], embedded: list[str]) -> None:
    click.echo("")
    click.echo("AIOps platform is up" + (f" (embedded: {', '.join(embedded)})" if embedded else ""))
    for spec in specs:
        click.echo(f"  {spec.name:<16}{urls[spec.name]:<26}{spec.summary}")
    if "incidents" in urls:
        click.echo("")
        click.echo("Incidents (the detectors learn for about two minutes first):")
        click.echo(f"  web UI      {urls['incidents']}/")
        click.echo(f"  curl -s '{urls['incidents']}/aiops/incidents?status=open'")
        if "shop-payment" in urls:
            click.echo(f"Break the shop from the fault panel ({urls['incidents']}/#/faults), or:")
            click.echo(f"  curl -X POST '{urls['shop-payment']}/simulate/error?rate=0.5'   # payment-1")
            click.echo(f"  curl -X POST {urls['shop-payment']}/simulate/reset")
    click.echo("Stop with Ctrl-C.")
    click.echo("")
