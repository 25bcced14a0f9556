"""The `aiops` command.

Services register a `ServiceSpec` under the `aiops.services` entry point group and extra
sub-commands under `aiops.commands`, so that core never imports a service package.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Coroutine
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import asyncpg
import click
import uvloop
from pydantic import ValidationError

from aiops_core.app import ServiceSpec, Shared
from aiops_core.observability.logging import configure_logging
from aiops_core.runner import ProcessRunner, StartupFailedError
from aiops_core.settings import CoreSettings, LogFormat
from aiops_core.store import migrate as apply_migrations
from aiops_core.up import run_platform
from aiops_core.urls import redact


def installed_services() -> dict[str, ServiceSpec]:
    services: dict[str, ServiceSpec] = {}
    for entry in entry_points(group="aiops.services"):
        spec = entry.load()
        if not isinstance(spec, ServiceSpec):
            raise click.ClickException(f"entry point {entry.name!r} is not a ServiceSpec")
        services[entry.name] = spec
    return services


class _Group(click.Group):
    """Adds the sub-commands that installed services contribute, and turns a bad setting into
    one line naming the variable instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ValidationError as exc:
            problems = "; ".join(
                f"AIOPS_{'_'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
                for error in exc.errors()
            )
            raise click.ClickException(f"invalid configuration: {problems}") from exc

    def list_commands(self, ctx: click.Context) -> list[str]:
        extra = [entry.name for entry in entry_points(group="aiops.commands")]
        return sorted({*super().list_commands(ctx), *extra})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        for entry in entry_points(group="aiops.commands", name=cmd_name):
            loaded = entry.load()
            if isinstance(loaded, click.Command):
                return loaded
        return None


@click.group(cls=_Group)
def main() -> None:
    """The AIOps platform: learns what normal looks like from OpenTelemetry traces."""
    settings = CoreSettings()
    configure_logging(settings.log_level, settings.log_format)


@main.command()
@click.argument("names", metavar="NAME...", nargs=-1, required=True)
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=None, help="Port (default: the service's own).")
@click.option(
    "--port-offset", type=int, default=0, show_default=True, help="Added to each service's default port."
)
def serve(names: tuple[str, ...], host: str, port: int | None, port_offset: int) -> None:
    """Run a service (or a group such as `shop`): ingest, detector, ... Several names run together
    in one process and find each other (`aiops serve shop shop-payment-2`: the shop with payment
    as two instances)."""
    services = installed_services()
    specs: dict[str, ServiceSpec] = {}
    for name in names:
        spec = services.get(name)
        if spec is None:
            known = ", ".join(sorted(services)) or "none installed"
            raise click.BadParameter(f"unknown service {name!r} (known: {known})", param_hint="NAME")
        for member in [services[m] for m in spec.members] if spec.members else [spec]:
            specs[member.name] = member
    if port is not None and len(specs) > 1:
        raise click.BadParameter(f"--port is for one service; {', '.join(specs)} each have their own")
    ports = {name: port or spec.default_port + port_offset for name, spec in specs.items()}
    run_async(_serve(sorted(specs.values(), key=lambda s: s.order), host, ports, port_offset))


async def _serve(specs: list[ServiceSpec], host: str, ports: dict[str, int], port_offset: int) -> None:
    shared = Shared(
        service_urls={name: f"http://127.0.0.1:{p}" for name, p in ports.items()},
        host=host,
        port_offset=port_offset,
    )
    runner = ProcessRunner()
    try:
        for spec in specs:
            assert spec.build is not None
            await runner.start_app(spec.name, spec.build(shared), host, ports[spec.name])
        await runner.run_until_signalled()
    except StartupFailedError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        await runner.stop_all()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address every service listens on.")
@click.option(
    "--port-offset",
    type=int,
    default=0,
    envvar="AIOPS_PORT_OFFSET",
    show_default=True,
    help="Added to every service's default port.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".aiops"),
    envvar="AIOPS_DATA_DIR",
    show_default=True,
    help="Where the embedded PostgreSQL keeps its data.",
)
def up(host: str, port_offset: int, data_dir: Path) -> None:
    """Run the whole platform, the demo shop and its load generator in one process.

    With no AIOPS_DATABASE_URL, AIOPS_BROKER_URL or AIOPS_REDIS_URL set it runs on an embedded
    PostgreSQL, an in-process bus and an in-memory Redis; any URL set is used instead.
    The load generator's rate is AIOPS_LOADGEN_RPS."""
    if "AIOPS_LOG_FORMAT" not in os.environ:
        configure_logging(CoreSettings().log_level, LogFormat.TEXT)
    # Six servers each announcing their start and stop would bury the banner.
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    try:
        run_async(
            run_platform(
                list(installed_services().values()), host=host, port_offset=port_offset, data_dir=data_dir
            )
        )
    except StartupFailedError as exc:
        raise click.ClickException(str(exc)) from exc


def run_async(main: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop, as uvicorn itself would."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


@main.command()
def services() -> None:
    """List the installed services and their default ports."""
    for name, spec in sorted(installed_services().items()):
        click.echo(f"{name:<12} :{spec.default_port:<6} {spec.summary}")


@main.command()
def migrate() -> None:
    """Apply pending database migrations to AIOPS_DATABASE_URL, then exit."""
    settings = CoreSettings()

    async def run() -> list[str]:
        conn = await asyncpg.connect(settings.database_url, timeout=10)
        try:
            return await apply_migrations(conn)
        finally:
            await conn.close()

    try:
        applied = asyncio.run(run())
    except (OSError, asyncpg.PostgresError) as exc:
        raise click.ClickException(f"cannot migrate {redact(settings.database_url)}: {exc}") from exc
    click.echo(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))
