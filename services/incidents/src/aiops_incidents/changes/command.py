"""`aiops change`: record a change from a CI pipeline, a Helm hook or a script, through the
incidents API (`POST /aiops/changes`), with no curl or JSON to write."""

from __future__ import annotations

from datetime import UTC, datetime

import click
import httpx

from aiops_incidents.schemas import ChangeKind


def _attribute(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{value!r} is not key=value")
        pairs[key] = text
    return pairs


@click.command()
@click.argument("service")
@click.option("--kind", type=click.Choice([k.value for k in ChangeKind]), default=ChangeKind.DEPLOY.value)
@click.option("--old-version", help="The version it ran before.")
@click.option("--new-version", help="The version it runs now.")
@click.option("--summary", default="", help="What changed, in a line.")
@click.option(
    "--at",
    type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S"]),
    help="When it happened (UTC unless an offset is given). Default: now.",
)
@click.option("--attribute", "attributes", multiple=True, callback=_attribute, help="key=value; repeatable.")
@click.option(
    "--api-url",
    envvar="AIOPS_API_URL",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="The incidents service (env AIOPS_API_URL).",
)
@click.option("--token", envvar="AIOPS_API_TOKEN", help="A write token of the API (env AIOPS_API_TOKEN).")
def change(
    service: str,
    kind: str,
    old_version: str | None,
    new_version: str | None,
    summary: str,
    at: datetime | None,
    attributes: dict[str, str],
    api_url: str,
    token: str | None,
) -> None:
    """Record a change to SERVICE (a deploy by default): it shows on the incident timeline and
    the series charts, and raises SERVICE as a root cause if trouble follows within 15 minutes."""
    body = {
        "service": service,
        "kind": kind,
        "summary": summary,
        "old_version": old_version,
        "new_version": new_version,
        "attributes": attributes,
    }
    if at is not None:
        body["at"] = (at if at.tzinfo else at.replace(tzinfo=UTC)).isoformat()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.post(f"{api_url.rstrip('/')}/aiops/changes", json=body, headers=headers, timeout=10)
    except httpx.HTTPError as exc:
        raise click.ClickException(f"cannot reach {api_url}: {exc}") from exc
    if response.status_code != 201:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:200]
        raise click.ClickException(f"the change was refused ({response.status_code}): {message}")
    recorded = response.json()
    click.echo(f"recorded change {recorded['id']}: {service} {recorded['kind']} at {recorded['at']}")
