"""Ops in the Temporal Web UI, in a real browser: find cases with a ReturnStatus query, read a
case's current details, and override the contract from the UI (update and signal) and from
`starter.py override`; every route must land in the case's overrides."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from playwright.async_api import Locator, Page, expect

from domain.view import CaseView
from returns_client import ReturnsClient
from tests.browser.conftest import Stack, screenshot
from tests.test_service import starter

# On a machine without Chromium the first test's setup also runs apt-get install.
pytestmark = pytest.mark.timeout(600)

ROOT = Path(__file__).resolve().parents[2]
FIND = 'ReturnStatus = "awaiting_photos" AND ReturnKind = "warranty"'
COLUMNS = ["ReturnStatus", "ReturnKind", "ReturnTotal", "NeedsAttention"]


def request_now(source: str, return_id: str) -> dict[str, Any]:
    """A request from a case file (or example) as if asked now: its dates move with requested_at,
    so it classifies the same and its timers lie ahead on the dev server's real clock."""
    body = json.loads((ROOT / source).read_text())
    request: dict[str, Any] = body.get("request", body)
    request["return_id"] = return_id
    asked = request.pop("requested_at", None)
    if asked is not None:
        shift = datetime.now(UTC) - datetime.fromisoformat(asked)
        order = request["order"]
        for field in ("placed_at", "delivered_at"):
            order[field] = (datetime.fromisoformat(order[field]) + shift).isoformat()
    return request


def documented_queries() -> list[str]:
    """The queries docs/ops.md gives ops (its "to find | query" table)."""
    table = (ROOT / "docs" / "ops.md").read_text().split("| to find | query |")[1].split("\n\n")[0]
    return re.findall(r"\| `([^`]+)` \|$", table, flags=re.M)


async def open_cases(returns: ReturnsClient, cases: dict[str, str]) -> dict[str, CaseView]:
    return {rid: await returns.submit(request_now(src, rid)) for rid, src in cases.items()}


async def eventually(
    check: Callable[[], Awaitable[bool]], what: str | Callable[[], str], timeout: float = 20
) -> None:
    """Visibility and signals are asynchronous: poll until ``check`` holds."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, (
            f"not within {timeout}s: {what if isinstance(what, str) else what()}"
        )
        await asyncio.sleep(0.3)


# --- the pages ----------------------------------------------------------------------------------
async def open_list(page: Page, ui: str, query: str) -> None:
    await page.goto(f"{ui}/namespaces/default/workflows?query={quote(query)}")


async def listed_ids(page: Page) -> set[str]:
    rows = page.get_by_test_id("workflows-summary-configurable-table-row")
    texts = await rows.get_by_role("link").all_inner_texts()  # workflow id, run id, type
    return {t.strip() for t in texts if t.strip().startswith("return-")}


async def show_columns(page: Page, names: list[str]) -> None:
    """Configure Columns: the search attributes ops filter on, instead of Run ID and Type."""
    await page.get_by_test_id("workflows-summary-table-configuration-button").click()
    for name in ("Run ID", "Type", "End"):
        await page.get_by_role("button", name=f"Remove {name} column").click()
    for name in names:
        await page.get_by_role("button", name=f"Add {name} column").click()
    await page.get_by_role("button", name="Close Workflows Table configuration").click()
    await expect(page.get_by_text("Configure Workflows Table")).to_be_hidden()


async def open_case(page: Page, ui: str, workflow_id: str, tab: str = "User Metadata") -> None:
    await page.goto(f"{ui}/namespaces/default/workflows/{workflow_id}")
    await page.get_by_role("tab", name=tab).click()


def user_metadata(page: Page, heading: str) -> Locator:
    """The UI renders the summary and the Markdown details each in its own iframe."""
    card = page.locator("div").filter(has=page.get_by_role("heading", name=heading, exact=True))
    return card.filter(has=page.locator("iframe")).last.frame_locator("iframe").locator("body")


def current_details(page: Page) -> Locator:
    return user_metadata(page, "Current Details")


async def send_from_actions_menu(
    page: Page, menu_item: str, name: str, data: dict[str, Any], shot: str | None = None
) -> Locator:
    """Fill the UI's "Send a Signal" / "Send an Update" form and submit it; returns the dialog.
    ``shot`` names the screenshot of the filled form that docs/ops.md shows."""
    await page.get_by_role("button", name="More Actions").click()
    await page.get_by_role("menuitem", name=menu_item).click()
    dialog = page.get_by_role("dialog")
    kind = "update" if "Update" in menu_item else "signal"
    await dialog.get_by_test_id(f"{kind}-select-button").click()
    await dialog.get_by_role("option", name=name, exact=True).click()
    await dialog.get_by_role("textbox", name="Data").click()
    await page.keyboard.press("Control+A")  # the form keeps the last input
    await page.keyboard.insert_text(json.dumps(data))
    # The editor re-formats the JSON when it loses focus and grows, moving Submit: blur first.
    await dialog.get_by_text("Single JSON payload supported.").click()
    await screenshot(page, shot or f"ops-{kind}-{name}", doc=shot is not None)
    await dialog.get_by_test_id("confirm-modal-button").click()
    return dialog


# --- the tests ----------------------------------------------------------------------------------
async def test_ops_find_cases_by_return_status_and_read_the_details(stack: Stack, page: Page) -> None:
    views = await open_cases(
        stack.returns,
        {
            "R-2001": "cases/031_printer_run_until_awaiting_photos.json",
            "R-2002": "examples/toner.json",
            "R-2003": "cases/004_shoes_damaged_on_arrival_unopened_return.json",
            "R-2004": "cases/016_shoes_replacement_not_allowed_run_until.json",
            "R-2005": "cases/005_ebook_changed_mind_rejected.json",
        },
    )
    # Only the first two are warranty claims waiting for photos; R-2003 waits for photos too but
    # is a return, so the query must tell them apart.
    assert {rid: (v.status, v.kind) for rid, v in views.items()} == {
        "R-2001": ("awaiting_photos", "warranty"),
        "R-2002": ("awaiting_photos", "warranty"),
        "R-2003": ("awaiting_photos", "return"),
        "R-2004": ("awaiting_choice", "return"),
        "R-2005": ("rejected", "rejected"),
    }
    expected = {"return-R-2001", "return-R-2002"}

    # Visibility is eventually consistent: wait for the server's answer, then ask the UI.
    async def indexed() -> bool:
        return {w.id async for w in stack.returns.client.list_workflows(FIND)} == expected

    await eventually(indexed, f"visibility answers {sorted(expected)} for {FIND}", timeout=30)
    await open_list(page, stack.ui_url, FIND)
    rows = page.get_by_test_id("workflows-summary-configurable-table-row")
    await expect(rows).to_have_count(len(expected))
    assert await listed_ids(page) == expected
    await show_columns(page, COLUMNS)
    row = page.get_by_test_id("workflows-summary-configurable-table-row").filter(has_text="return-R-2001")
    await expect(row).to_contain_text("awaiting_photos")
    await expect(row).to_contain_text("warranty")
    await expect(row).to_contain_text("229")  # ReturnTotal
    await screenshot(page, "ops-find-awaiting-photos-warranty", doc=True)

    # Every query the ops guide gives is one the server takes.
    queries = documented_queries()
    assert FIND in queries and len(queries) >= 5
    for query in queries:
        await stack.returns.client.count_workflows(query)

    # From the list to the case: the summary line and the current details in Markdown.
    await row.get_by_role("link", name="return-R-2001").click()
    await page.get_by_role("tab", name="User Metadata").click()
    await expect(user_metadata(page, "Summary")).to_contain_text("R-2001 · €229.00 · HP LaserJet")
    details = current_details(page)
    await expect(details).to_contain_text("R-2001 · warranty · awaiting_photos")
    await expect(details).to_contain_text("Waiting for")
    for instruction in views["R-2001"].items[0].photo_instructions:
        await expect(details).to_contain_text(instruction)
    await expect(details).to_contain_text("case_opened")  # messages sent
    await screenshot(page, "ops-case-details-one-photo")  # the docs show R-2101's, below

    # The timeline says what the case waits for: the timer's summary names the reminder.
    await page.get_by_role("tab", name="Timeline").click()
    await expect(page.get_by_text(re.compile(r"Photos reminder in \d+ days"))).to_be_visible()
    await screenshot(page, "ops-case-timeline", doc=True)


# The visible text of each cell of the details' items table: a Range over its non-space characters
# (the cells carry en spaces as padding), so the gap between two of them is the gap ops see.
_CELL_TEXT_BOXES = """table => [...table.querySelectorAll("tr")].map(tr => [...tr.children].map(cell => {
    const node = cell.firstChild, text = node ? node.textContent : "";
    const start = text.search(/\\S/), end = text.search(/\\S\\s*$/) + 1;
    if (!node || start < 0) return null;
    const range = document.createRange();
    range.setStart(node, start);
    range.setEnd(node, end);
    const box = range.getBoundingClientRect();
    return {text: text.trim(), left: box.left, right: box.right, top: box.top};
}))"""


async def test_ops_case_details_show_a_table_with_cells_and_a_bullet_per_instruction(
    stack: Stack, page: Page
) -> None:
    """The UI's Markdown renderer resets every element's padding and makes everything inside a
    list item inline (domain/details.py, _ITEM_CELL): the details must still read as a table of
    separate cells and one bullet per photo instruction."""
    request = request_now("cases/003_laptop_high_value_two_photos_gift_kept.json", "R-2101")
    for it in request["items"]:
        it["photos"] = []  # both of the laptop's photos still missing: two instructions
    view = await stack.returns.submit(request)
    instructions = view.items[0].photo_instructions
    assert view.status == "awaiting_photos" and len(instructions) == 2

    await open_case(page, stack.ui_url, "return-R-2101")
    details = current_details(page)
    await expect(details).to_contain_text("R-2101 · warranty · awaiting_photos")
    table = details.locator("table")
    await expect(table.locator("thead th")).to_have_count(6)
    await expect(table.locator("thead th")).to_have_text(
        ["line", "item", "qty", "kind", "rule", "guarantee until"]
    )
    await expect(table.locator("tbody tr")).to_have_count(len(view.items))
    await expect(table.locator("tbody td")).to_have_count(6 * len(view.items))
    await expect(table.locator("tbody td").nth(3)).to_have_text("warranty")
    await expect(table.locator("tbody td").nth(4)).to_have_text("fault-in-guarantee")
    # Cells stand apart: at least a few pixels between one cell's text and the next one's.
    rows = await table.evaluate(_CELL_TEXT_BOXES)
    for row in rows:
        boxes = [b for b in row if b is not None]
        assert len(boxes) == 6, row
        for left, right in itertools.pairwise(boxes):
            assert right["left"] - left["right"] >= 6, f"{left['text']!r} glued to {right['text']!r}"

    # Each instruction is a bullet of its own in "Waiting for", on a line of its own.
    waiting = details.locator("h3:has-text('Waiting for') + ul > li")
    await expect(waiting).to_have_count(len(instructions) + 1)  # + the parcel
    for n, instruction in enumerate(instructions):
        await expect(waiting.nth(n)).to_contain_text(instruction)
        await expect(waiting.nth(n)).to_have_css("display", "list-item")
    tops = [(await waiting.nth(n).bounding_box() or {"y": 0})["y"] for n in range(len(instructions) + 1)]
    assert tops == sorted(set(tops)), f"bullets share a line: {tops}"
    await expect(details.locator("li li")).to_have_count(0)
    await page.set_viewport_size({"width": 1400, "height": 1150})  # the whole details card
    await screenshot(page, "ops-case-details", doc=True)


async def test_ops_overrides_from_the_ui_and_starter_land_in_the_case(stack: Stack, page: Page) -> None:
    returns = stack.returns
    await open_cases(
        returns,
        {
            "R-3001": "examples/toner.json",
            "R-3002": "cases/016_shoes_replacement_not_allowed_run_until.json",
            "R-3003": "examples/toner.json",
        },
    )

    # The command line, as ops without the UI do it; it runs while the browser works.
    cli = asyncio.create_task(
        starter(
            stack.address, "override", "R-3003", "waive_photos", "--actor", "ops:cli", "--reason", "by mail"
        )
    )

    # The update form: the override answers at once, or the form shows why it was refused.
    await open_case(page, stack.ui_url, "return-R-3001")
    anna = {"type": "waive_photos", "actor": "ops:anna", "reason": "photo received by phone"}
    dialog = await send_from_actions_menu(page, "Send an Update", "override", anna, "ops-override-update")
    await expect(dialog).to_be_hidden()
    view = await returns.status("R-3001")
    assert [(o.type, o.actor, o.reason) for o in view.overrides] == [
        ("waive_photos", "ops:anna", "photo received by phone")
    ]
    assert view.status == "resolved"

    await open_case(page, stack.ui_url, "return-R-3002")
    refused = {"type": "waive_photos", "actor": "ops:anna", "reason": "no photos needed"}
    dialog = await send_from_actions_menu(page, "Send an Update", "override", refused)
    await expect(
        dialog.get_by_role("alert").filter(has_text="the case is not awaiting photos")
    ).to_be_visible()
    await screenshot(page, "ops-override-update-refused")  # shows the worker's stack trace: no doc
    await dialog.get_by_test_id("cancel-modal-button").click()
    assert (await returns.status("R-3002")).overrides == []

    # The signal form (request_override): validated in the workflow, lands like the update.
    ben = {
        "type": "set_resolution",
        "resolution": "store_credit",
        "actor": "ops:ben",
        "reason": "asked by phone",
    }
    await send_from_actions_menu(page, "Send a Signal", "request_override", ben, "ops-override-signal")

    async def overridden() -> bool:
        return bool((await returns.status("R-3002")).overrides)

    await eventually(overridden, "the signalled override lands in R-3002")
    view = await returns.status("R-3002")
    assert [(o.type, o.actor, o.reason) for o in view.overrides] == [
        ("set_resolution", "ops:ben", "asked by phone")
    ]
    assert (view.resolution, view.status) == ("store_credit", "awaiting_parcel")

    # A refused signal cannot answer: the case page lists it instead of dropping it.
    await send_from_actions_menu(page, "Send a Signal", "request_override", refused)

    async def shown() -> bool:
        await open_case(page, stack.ui_url, "return-R-3002")
        return "Refused override signals" in await current_details(page).inner_text()

    await eventually(shown, "the refused override signal is shown in R-3002's details")
    details = current_details(page)
    await expect(details).to_contain_text("waive_photos by ops:anna: override waive_photos refused")
    await expect(details).to_contain_text("set_resolution by ops:ben: asked by phone")
    await current_details(page).get_by_text("Refused override signals").scroll_into_view_if_needed()
    await screenshot(page, "ops-refused-override-signal", doc=True)
    assert len((await returns.status("R-3002")).overrides) == 1

    done = await cli
    assert done.returncode == 0, done.stderr
    view = await returns.status("R-3003")
    assert [(o.type, o.actor, o.reason) for o in view.overrides] == [("waive_photos", "ops:cli", "by mail")]
