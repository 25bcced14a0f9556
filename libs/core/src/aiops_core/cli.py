"""The `aiops` command.

Services register a `ServiceSpec` under the `aiops.services` entry point group and extra
sub-commands under `aiops.commands`, so that core never imports a service package.
"""

from __future__ import annotations

import asyncio
import sys
from importlib.metadata import entry_points

import asyncpg
import click
import uvicorn

from aiops_core.app import ServiceSpec
from aiops_core.observability.logging import configure_logging
from aiops_core.settings import CoreSettings
from aiops_core.store import migrate as apply_migrations
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
    """Adds the sub-commands that installed services contribute."""

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
@click.argument("name")
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=None, help="Port (default: the service's own).")
def serve(name: str, host: str, port: int | None) -> None:
    """Run one service: ingest, detector, ..."""
    services = installed_services()
    spec = services.get(name)
    if spec is None:
        known = ", ".join(sorted(services)) or "none installed"
        raise click.BadParameter(f"unknown service {name!r} (known: {known})", param_hint="NAME")
    config = uvicorn.Config(
        spec.create_app(),
        host=host,
        port=port or spec.default_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=30,
    )
    server = uvicorn.Server(config)
    server.run()
    if not server.started:
        sys.exit(1)


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
