"""`aiops chaos`: the command line of the chaos run, and what it does in order: check, reset, run
the plan, reset, read the incidents, print the scorecard."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import signal
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import httpx

from aiops_core.urls import check_url
from aiops_shop.chaos.incidents_api import IncidentsApi
from aiops_shop.chaos.report import as_json, render
from aiops_shop.chaos.runner import run_plan
from aiops_shop.chaos.scenarios import FRONTEND, INVENTORY, PAYMENT, Scenario, catalogue, select
from aiops_shop.chaos.schedule import PlannedFault, plan, time_for_all
from aiops_shop.chaos.scorecard import Scorecard, score
from aiops_shop.chaos.shop import ShopControl, ShopUrls, UnreachableError, urls_of
from aiops_shop.settings import ShopSettings, split_urls

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([hms]?)")
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "": 1.0}


def parse_duration(text: str) -> float:
    """Seconds in `90`, `90s`, `20m`, `1h30m` or `2.5m`; ValueError otherwise."""
    compact = text.strip().lower().replace(" ", "")
    parts = _DURATION_PART.findall(compact)
    if not compact or "".join(number + unit for number, unit in parts) != compact:
        raise ValueError(f"{text!r} is not a duration such as 90, 90s, 20m or 1h30m")
    return sum(float(number) * _UNIT_S[unit] for number, unit in parts)


class DurationType(click.ParamType[float, Any]):
    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, int | float):
            return float(value)
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class DurationRangeType(click.ParamType[tuple[float, float], Any]):
    """`45-75` (seconds, or with units: `1m-2m`), or one duration for a fixed length."""

    name = "range"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[float, float]:
        if isinstance(value, tuple):
            return value
        try:
            low, _, high = str(value).partition("-")
            bounds = (parse_duration(low), parse_duration(high or low))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        if not 0 < bounds[0] <= bounds[1]:
            self.fail(f"{value!r}: need 0 < shortest <= longest", param, ctx)
        return bounds


class UrlsType(click.ParamType[tuple[str, ...], Any]):
    """One URL, or several comma-separated: the instances of a service, in instance order."""

    name = "urls"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[str, ...]:
        if isinstance(value, tuple):
            return value
        urls = tuple(split_urls(str(value)))
        if not urls:
            self.fail(f"{value!r}: need at least one URL", param, ctx)
        for url in urls:
            try:
                check_url(url, ("http", "https"))
            except ValueError as exc:
                self.fail(f"{url!r} {exc}", param, ctx)
        return urls


def reachable(scenarios: tuple[Scenario, ...], urls: ShopUrls, *, named: bool) -> tuple[Scenario, ...]:
    """The scenarios whose fault has an app to go to. One named on the command line that has none
    is an error; one that only came with the catalogue is left out, with a warning."""
    kept = []
    for scenario in scenarios:
        try:
            urls_of(scenario, urls)
        except UnreachableError as exc:
            hint = f"--{scenario.target}-url takes one URL per instance, comma-separated"
            if named:
                raise click.BadParameter(f"{exc}: {hint}", param_hint="--scenarios") from None
            click.echo(f"warning: leaving out {scenario.name}: {exc} ({hint})", err=True)
        else:
            kept.append(scenario)
    return tuple(kept)


@dataclass(frozen=True)
class ChaosRun:
    planned: list[PlannedFault]
    total_s: float
    shop_urls: dict[str, tuple[str, ...]]
    api_url: str
    api_token: str | None


async def _execute(run: ChaosRun) -> tuple[Scorecard, datetime, datetime]:
    # SIGTERM (a supervisor stopping us) ends the run like Ctrl-C does: through `finally`.
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    async with httpx.AsyncClient(timeout=10) as client:
        shop = ShopControl(client, run.shop_urls)
        api = IncidentsApi(client, run.api_url, run.api_token)
        try:
            await api.check()
        except httpx.HTTPStatusError as exc:
            answer = f"{exc.response.status_code} {exc.response.text[:200]}"
            raise click.ClickException(
                f"the incidents API at {run.api_url} answered a read with {answer}"
            ) from exc
        except httpx.HTTPError as exc:
            raise click.ClickException(
                f"the incidents API at {run.api_url} does not answer: {exc!r}"
            ) from exc
        # From a clean shop, whatever an earlier run left behind.
        started = await shop.reset_all()
        click.echo(f"{started:%H:%M:%S} every shop service reset; normal load")
        try:
            faults = await run_plan(run.planned, shop, total_s=run.total_s, say=click.echo)
        finally:
            # Also on Ctrl-C or an error: never leave the shop faulty.
            try:
                click.echo(f"{await shop.reset_all():%H:%M:%S} every shop service reset")
            except httpx.HTTPError as exc:
                click.echo(f"warning: could not reset every shop service: {exc!r}", err=True)
        ended = datetime.now(UTC)
        click.echo(f"{ended:%H:%M:%S} reading the incidents")
        incidents = await api.incidents_touched_since(started)
    return score(faults, incidents, started), started, ended


def _warn_if_no_cascade(scenarios: tuple[Scenario, ...], cascade_ms: float) -> None:
    timeout_s = ShopSettings().shop_downstream_timeout_s
    if any(s.name == "inventory-cascade" for s in scenarios) and cascade_ms <= timeout_s * 1000:
        click.echo(
            f"warning: --cascade-ms {cascade_ms:g} is within the frontend's downstream timeout "
            f"({timeout_s:g} s here): inventory will be slow, but the frontend will not time out",
            err=True,
        )


@click.command()
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the schedule.")
@click.option(
    "--duration",
    type=DurationType(),
    default=None,
    help="Length of the run (90, 20m, 1h30m); default: enough for every scenario once.",
)
@click.option("--quiet", type=DurationType(), default="0", help="Normal load watched before the first fault.")
@click.option(
    "--fault-duration",
    type=DurationRangeType(),
    default="45-75",
    show_default=True,
    help="How long a fault lasts.",
)
@click.option(
    "--gap",
    type=DurationType(),
    default="100",
    show_default=True,
    help="Normal load after each fault: time for its incident to resolve itself.",
)
@click.option("--api-url", default="http://127.0.0.1:8000", show_default=True, help="The incidents API.")
@click.option("--api-token", envvar="AIOPS_CHAOS_API_TOKEN", default=None, help="A read token.")
@click.option("--frontend-url", type=UrlsType(), default="http://127.0.0.1:8080", show_default=True)
@click.option(
    "--payment-url",
    type=UrlsType(),
    default="http://127.0.0.1:8081,http://127.0.0.1:8083",
    show_default=True,
    help="payment's instances, comma-separated: the n-th is payment-n (aiops up runs two; "
    "one-bad-instance needs the second).",
)
@click.option("--inventory-url", type=UrlsType(), default="http://127.0.0.1:8082", show_default=True)
@click.option("--scenarios", "names", default="", help="Comma-separated scenarios (default: all).")
@click.option(
    "--cascade-ms",
    type=click.FloatRange(0, 60_000),
    default=6000,
    show_default=True,
    help="Inventory's added latency in the cascade; must exceed the frontend's downstream timeout.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the scorecard, as JSON.",
)
def chaos(
    seed: int,
    duration: float | None,
    quiet: float,
    fault_duration: tuple[float, float],
    gap: float,
    api_url: str,
    api_token: str | None,
    frontend_url: tuple[str, ...],
    payment_url: tuple[str, ...],
    inventory_url: tuple[str, ...],
    names: str,
    cascade_ms: float,
    json_path: Path | None,
) -> None:
    """Inject the demo shop's faults on a seeded schedule, then score the incidents the platform
    opened: time to detect, root cause at rank 1 and in the top 3, one incident per fault,
    auto-resolve, and false alarms. Exits 0 whatever the scores: it is a measurement.

    \b
    Scenarios: payment-errors-100, payment-errors-20, payment-latency-300, inventory-errors-50,
    inventory-latency-200, frontend-errors-50, inventory-cascade, db-slow, one-bad-instance,
    pool-leak, bad-deploy."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one log line per request otherwise
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    try:
        scenarios = select(catalogue(cascade_ms), wanted)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--scenarios") from None
    shop_urls = {FRONTEND: frontend_url, PAYMENT: payment_url, INVENTORY: inventory_url}
    scenarios = reachable(scenarios, shop_urls, named=bool(wanted))
    _warn_if_no_cascade(scenarios, cascade_ms)
    total_s = duration or time_for_all(len(scenarios), quiet_s=quiet, fault_s=fault_duration, gap_s=gap)
    planned = plan(scenarios, seed=seed, total_s=total_s, quiet_s=quiet, fault_s=fault_duration, gap_s=gap)
    click.echo(
        f"aiops chaos: seed {seed}, {len(planned)} faults in {total_s:g} s (quiet {quiet:g} s, faults "
        f"{fault_duration[0]:g}-{fault_duration[1]:g} s, gap {gap:g} s); times UTC"
    )
    for fault in planned:
        click.echo(f"  at {fault.start_s:>7.1f} s  {fault.scenario.name:<22} for {fault.duration_s:g} s")
    if not planned:
        click.echo("warning: no fault and its gap fit in the run; only normal load is watched", err=True)
    run = ChaosRun(planned, total_s, shop_urls, api_url, api_token)
    try:
        card, started, ended = asyncio.run(_execute(run))
    except (KeyboardInterrupt, asyncio.CancelledError):
        click.echo("interrupted: no scorecard", err=True)
        raise SystemExit(130) from None
    except httpx.HTTPError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc
    click.echo()
    click.echo(render(card))
    if json_path is not None:
        meta = {
            "seed": seed,
            "started_at": started.isoformat(),
            "ended_at": ended.isoformat(),
            "duration_s": total_s,
            "quiet_s": quiet,
            "fault_duration_s": list(fault_duration),
            "gap_s": gap,
            "scenarios": [scenario.name for scenario in scenarios],
            "cascade_ms": cascade_ms,
            "shop_urls": {service: list(urls) for service, urls in shop_urls.items()},
            "api_url": api_url,
        }
        json_path.write_text(json.dumps(as_json(card, meta), indent=2) + "\n")
        click.echo(f"\nscorecard written to {json_path}")
