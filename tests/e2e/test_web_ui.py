"""The web UI in headless Chromium (Debian's, driven by Playwright), with the platform running as
separate processes on the real RabbitMQ, PostgreSQL and Redis and the demo shop under load.

Every page loads with no console error and no request leaving the machine. While the shop's
services learn what normal looks like, the overview says so in a banner and the service map shows
learning nodes; both change by their own refreshes once learning is over. A payment fault
injected from the fault panel (in a second tab) shows up in the incident list without a reload;
the incident page names payment as the root cause with a trace waterfall marking the payment
span; payment's errors accepted as normal on its series page are on the incident's timeline;
after a reset from the fault panel the incident resolves. Screenshots of each page go to
artifacts/ui/.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, Request, Route, async_playwright, expect

from tests.e2e.conftest import (
    FAST_INCIDENTS,
    ready_for_a_payment_fault,
    start_incidents,
    start_load,
    start_platform,
    start_shop,
)
from tests.support.processes import ARTIFACTS, AiopsProcess
from tests.support.waiting import eventually

CHROMIUM = "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
SCREENSHOTS = ARTIFACTS / "ui"
WRITE = "ui-secret"
# Chromium as the machine allows it: no sandbox as root, and none of its calls home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class PageWatch:
    """What went wrong in a page: console errors, uncaught exceptions, requests off the machine."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    async def attach(self, page: Page) -> Page:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"uncaught: {error}"))
        await page.route("**/*", self._local_only)
        return page

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.problems.append(f"console: {message.text} at {message.location}")

    async def _local_only(self, route: Route, request: Request) -> None:
        host = urlsplit(request.url).hostname
        if request.url.startswith("data:") or host in {"127.0.0.1", "localhost"}:
            await route.continue_()
        else:
            self.problems.append(f"request off the machine: {request.url}")
            await route.abort()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


async def overview_loaded(page: Page) -> None:
    await expect(page.get_by_test_id("severity-counts")).to_contain_text("critical")
    await expect(page.get_by_test_id("incidents-over-time").locator("svg")).to_be_visible()
    await expect(page.get_by_test_id("record").locator("table")).to_be_visible()


async def services_graph(ui: str) -> Any:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(f"{ui}/aiops/services")
        response.raise_for_status()
        return response.json()


async def learning_shown_then_gone(page: Page) -> None:
    """The overview's banner is there while the shop's services learn, and goes once they have."""
    banner = page.get_by_test_id("learning-banner")
    await expect(banner).to_contain_text("not learned what normal looks like yet", timeout=20_000)
    await expect(banner).to_be_visible()
    await expect(banner).to_contain_text("judged only by the floors")
    await shot(page, "01-overview-learning")
    await expect(banner).to_be_hidden(timeout=150_000)


async def learning_node_shown(page: Page) -> None:
    learning = page.locator('[data-testid="service-node"][data-health="learning"]').first
    await expect(learning).to_contain_text("learning", timeout=20_000)
    await shot(page, "02-service-map-learning")


async def test_a_payment_fault_from_the_fault_panel_to_its_resolved_incident(
    processes: list[AiopsProcess], platform_env: dict[str, str], database_url: str, browser: Browser
) -> None:
    env = (
        platform_env
        | FAST_INCIDENTS
        | {
            "AIOPS_API_TOKENS": f"oncall:{WRITE}:write",
        }
    )
    ingest, _ = await start_platform(processes, env)
    shop = await start_shop(processes, ingest.url)
    shop_urls = f"frontend={shop.frontend},payment={shop.payment},inventory={shop.inventory}"
    incidents = await start_incidents(processes, env | {"AIOPS_DEMO_SHOP_URLS": shop_urls})
    ui = incidents.url

    start_load(processes, shop.frontend, 20)
    # The pages open once the API says the shop is learning (about MIN_HISTORY_S to go), so
    # they show it from their first load; the overview must then notice the end on its own.
    await eventually(
        lambda: services_graph(ui),
        lambda graph: any(node["learning"] for node in graph["services"]),
        timeout_s=60,
        interval_s=0.5,
        what="the shop's services are learning",
    )
    watch = PageWatch()
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await watch.attach(await context.new_page())
    service_map = await watch.attach(await context.new_page())
    await asyncio.gather(page.goto(f"{ui}/#/"), service_map.goto(f"{ui}/#/services"))
    await asyncio.gather(
        learning_shown_then_gone(page),
        learning_node_shown(service_map),
        ready_for_a_payment_fault(database_url, ui),
    )
    await service_map.close()

    await overview_loaded(page)
    await expect(page.get_by_test_id("incidents-over-time")).to_contain_text("0 opened in the last 24 hours")
    await shot(page, "03-overview")

    await page.get_by_role("link", name="Service map").click()
    payment_node = page.locator('[data-testid="service-node"][data-service="payment"]')
    await expect(payment_node).to_have_attribute("data-health", "ok")
    await shot(page, "04-service-map")
    await payment_node.click()
    await expect(page).to_have_url(f"{ui}/#/services/payment")
    await expect(page.locator('[data-testid="series-chart"][data-metric="p95_ms"]')).to_have_count(1)
    # Beside its requests, the metrics payment sends over OTLP.
    memory = page.locator('[data-testid="metric-chart"][data-metric="process.memory.usage"]')
    await expect(memory).to_have_count(1)
    await expect(memory.locator("figcaption")).to_contain_text("now ")
    payment_series = page.locator('section[data-operation="POST /payment"]')
    await expect(payment_series).to_have_attribute("data-learning", "false")
    await shot(page, "05-series-payment")

    for docs in ("/docs", "/api/docs"):
        await page.goto(f"{ui}{docs}")
        await expect(page.locator(".swagger-ui .info .title")).to_contain_text("AIOps incidents")
    await shot(page, "06-api-docs")

    # The incident list stays open in this tab; the fault is injected from another.
    await page.goto(f"{ui}/#/")
    await page.get_by_role("link", name="Incidents").click()
    row = page.locator('[data-testid="incident-row"][data-status="open"]')
    await expect(row).to_have_count(0)
    await page.evaluate("window.__notReloaded = true")

    panel = await watch.attach(await context.new_page())
    await panel.goto(f"{ui}/#/faults")
    await panel.get_by_label("API token").fill(WRITE)
    payment_form = panel.locator('[data-testid="fault-form"][data-service="payment"]')
    await expect(payment_form.get_by_test_id("fault-of")).to_have_count(0)
    # Inventory brings its database: named as the panel names it, its series link goes to the
    # node the platform infers for it.
    stock_db_form = panel.locator('[data-testid="fault-form"][data-service="stock-db"]')
    await expect(stock_db_form.get_by_test_id("fault-of")).to_have_text(
        "inventory's database, seen only through inventory's calls"
    )
    await expect(stock_db_form.get_by_test_id("fault-series")).to_have_attribute(
        "href", "#/services/postgresql%20stock-db"
    )
    await payment_form.get_by_label("Error rate (%)").fill("100")
    await payment_form.get_by_label("Added latency (ms)").fill("0")
    # A config change posted the way a pipeline would, just before payment starts failing.
    change = {"service": "payment", "kind": "config", "summary": "card processor timeout 2 s -> 200 ms"}
    writer = {"Authorization": f"Bearer {WRITE}"}
    async with httpx.AsyncClient(timeout=10) as client:
        posted = await client.post(f"{ui}/aiops/changes", json=change, headers=writer)
        assert posted.status_code == 201, posted.text
    await payment_form.get_by_role("button", name="Inject").click()
    await expect(payment_form.get_by_test_id("fault-state")).to_contain_text("100%")
    await shot(panel, "07-fault-panel")

    await expect(row).to_have_count(1, timeout=60_000)
    assert await page.evaluate("window.__notReloaded === true"), "the list updated without a reload"
    await shot(page, "08-incidents-live")

    await row.get_by_role("link").first.click()
    top = page.get_by_test_id("candidate").first
    await expect(top).to_have_attribute("data-service", "payment", timeout=20_000)
    await expect(top).to_have_attribute("data-kind", "error_ratio")
    waterfall = page.get_by_test_id("waterfall")
    await expect(waterfall.get_by_test_id("span").nth(2)).to_be_visible(timeout=20_000)
    cause = waterfall.locator('[data-root-cause="true"]')
    await expect(cause).to_have_count(1)
    await expect(cause).to_have_attribute("data-service", "payment")
    # The change is in the root cause's evidence and on the timeline.
    await expect(top.get_by_test_id("changes")).to_contain_text("card processor timeout", timeout=20_000)
    await expect(page.locator('[data-event-type="change"]')).to_contain_text(
        "payment: card processor timeout 2 s -> 200 ms (config)"
    )
    await shot(page, "09-incident-open")

    await page.get_by_label("API token").fill(WRITE)
    await page.get_by_role("button", name="Acknowledge").click()
    await expect(page.get_by_test_id("incident-status")).to_have_text("acknowledged")
    await page.get_by_label("Comment").fill("<b>payment</b> looks down")
    await page.get_by_role("button", name="Add comment").click()
    # Shown as text, not markup: the escaping that user data needs everywhere.
    await expect(page.get_by_text("<b>payment</b> looks down")).to_be_visible()

    # Payment's failures accepted as normal from its series page (the open anomaly's kind is
    # preselected), with a confirmation; the acceptance is on the incident's timeline.
    await page.goto(f"{ui}/#/services/payment")
    await payment_series.get_by_role("button", name="Accept as normal from now").click()
    await expect(payment_series.get_by_label("What changed for good")).to_have_value("error_ratio")
    await payment_series.get_by_label("Comment (optional)").fill("payment v2 declines test cards")
    await payment_series.get_by_role("button", name="Accept as normal…").click()
    await payment_series.get_by_role("button", name="Confirm: accept as normal").click()
    accepted = payment_series.get_by_test_id("accept-result")
    await expect(accepted).to_contain_text("accepted as normal by oncall at")
    await expect(accepted).to_contain_text("recorded on 1 incident")
    await shot(page, "10-series-accepted")
    await accepted.get_by_role("link").click()
    await expect(page.locator('[data-event-type="accepted_as_normal"]')).to_contain_text(
        "oncall accepted payment POST /payment error_ratio as normal: payment v2 declines test cards"
    )
    await shot(page, "11-incident-accepted")

    await panel.get_by_role("button", name="Reset all").click()
    incident = page.get_by_test_id("incident")
    await expect(incident).to_have_attribute("data-status", "resolved", timeout=90_000)
    await shot(page, "12-incident-resolved")

    # The series now show the fault: payment's error anomaly over its minutes.
    await page.goto(f"{ui}/#/services/payment")
    await expect(page.locator(".anomaly-list")).to_contain_text("error_ratio")
    await expect(payment_series.locator(".change-marker").first).to_be_attached()
    await expect(memory.locator(".change-marker").first).to_be_attached()
    await shot(page, "13-series-payment-after-the-fault")

    await page.get_by_role("link", name="Overview").click()
    await overview_loaded(page)
    await expect(page.get_by_test_id("incidents-over-time")).to_contain_text("1 opened in the last 24 hours")
    await expect(page.get_by_test_id("failing-operations")).to_contain_text("payment")
    await shot(page, "14-overview-after-the-fault")
    await context.close()
    assert watch.problems == []
