"""The web UI in headless Chromium (Debian's, driven by Playwright), with the platform running as
separate processes on the real RabbitMQ, PostgreSQL and Redis and the demo shop under load.

Every page loads with no console error and no request leaving the machine. A payment fault
injected from the fault panel (in a second tab) shows up in the incident list without a reload;
the incident page names payment as the root cause with a trace waterfall marking the payment
span; after a reset from the fault panel the incident resolves. Screenshots of each page go to
artifacts/ui/.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

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
    start_load(processes, shop.frontend, 20)
    ui = incidents.url

    await ready_for_a_payment_fault(database_url, ui)

    watch = PageWatch()
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await watch.attach(await context.new_page())

    await page.goto(f"{ui}/#/")
    await overview_loaded(page)
    await expect(page.get_by_test_id("incidents-over-time")).to_contain_text("0 opened in the last 24 hours")
    await shot(page, "01-overview")

    await page.get_by_role("link", name="Service map").click()
    payment_node = page.locator('[data-testid="service-node"][data-service="payment"]')
    await expect(payment_node).to_have_attribute("data-health", "ok")
    await shot(page, "02-service-map")
    await payment_node.click()
    await expect(page).to_have_url(f"{ui}/#/services/payment")
    await expect(page.locator('[data-testid="series-chart"][data-metric="p95_ms"]')).to_have_count(1)
    await shot(page, "03-series-payment")

    for docs in ("/docs", "/api/docs"):
        await page.goto(f"{ui}{docs}")
        await expect(page.locator(".swagger-ui .info .title")).to_contain_text("AIOps incidents")
    await shot(page, "04-api-docs")

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
    await payment_form.get_by_label("Error rate (%)").fill("100")
    await payment_form.get_by_label("Added latency (ms)").fill("0")
    await payment_form.get_by_role("button", name="Inject").click()
    await expect(payment_form.get_by_test_id("fault-state")).to_contain_text("100%")
    await shot(panel, "05-fault-panel")

    await expect(row).to_have_count(1, timeout=60_000)
    assert await page.evaluate("window.__notReloaded === true"), "the list updated without a reload"
    await shot(page, "06-incidents-live")

    await row.get_by_role("link").first.click()
    top = page.get_by_test_id("candidate").first
    await expect(top).to_have_attribute("data-service", "payment", timeout=20_000)
    await expect(top).to_have_attribute("data-kind", "error_ratio")
    waterfall = page.get_by_test_id("waterfall")
    await expect(waterfall.get_by_test_id("span").nth(2)).to_be_visible(timeout=20_000)
    cause = waterfall.locator('[data-root-cause="true"]')
    await expect(cause).to_have_count(1)
    await expect(cause).to_have_attribute("data-service", "payment")
    await shot(page, "07-incident-open")

    await page.get_by_label("API token").fill(WRITE)
    await page.get_by_role("button", name="Acknowledge").click()
    await expect(page.get_by_test_id("incident-status")).to_have_text("acknowledged")
    await page.get_by_label("Comment").fill("<b>payment</b> looks down")
    await page.get_by_role("button", name="Add comment").click()
    # Shown as text, not markup: the escaping that user data needs everywhere.
    await expect(page.get_by_text("<b>payment</b> looks down")).to_be_visible()

    await panel.get_by_role("button", name="Reset all").click()
    incident = page.get_by_test_id("incident")
    await expect(incident).to_have_attribute("data-status", "resolved", timeout=90_000)
    await shot(page, "08-incident-resolved")

    # The series now show the fault: payment's error anomaly over its minutes.
    await page.goto(f"{ui}/#/services/payment")
    await expect(page.locator(".anomaly-list")).to_contain_text("error_ratio")
    await shot(page, "09-series-payment-after-the-fault")

    await page.get_by_role("link", name="Overview").click()
    await overview_loaded(page)
    await expect(page.get_by_test_id("incidents-over-time")).to_contain_text("1 opened in the last 24 hours")
    await expect(page.get_by_test_id("failing-operations")).to_contain_text("payment")
    await shot(page, "10-overview-after-the-fault")
    await context.close()
    assert watch.problems == []
