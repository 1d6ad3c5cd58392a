"""The read model rebuilt from the stored events equals the one kept live by the appends."""

from __future__ import annotations

import asyncio
import time

import asyncpg

from activities.event_store import row_of_stream
from returns_client import ReturnsClient
from store.read_model import rebuild
from tests.workflow.test_return_case import toner

COLUMNS = (
    "return_id, order_id, customer_id, kind, status, resolution, gross, total, refunded,"
    " store_credit, customer_messages, opened_at, closed_at, stream_version,"
    " needs_attention, attention, photos_asked"  # the ops overview's (migration 015)
)


async def test_rebuild_equals_live_rows(returns: ReturnsClient, session_pool: asyncpg.Pool) -> None:
    toners = []
    for preferred in ("refund", None):
        req = toner(preferred_resolution=preferred)
        toners.append(req["return_id"])
        await returns.submit(req)
        await returns.submit_photos(req["return_id"], "L1", ["p.jpg"])
    # submit_photos answers once the case is resolved; its refund and message follow. The rebuild
    # is compared with rows no append changes meanwhile.
    await settled(session_pool, toners[0])
    live = await session_pool.fetch(f"select {COLUMNS} from return_cases order by return_id")
    assert {r["status"] for r in live} >= {"resolved", "awaiting_choice"}
    assert all(r["photos_asked"] for r in live if r["return_id"] in toners)  # the toner's fault photo
    written = await rebuild(session_pool, row_of_stream)
    rebuilt = await session_pool.fetch(f"select {COLUMNS} from return_cases order by return_id")
    assert written == len(live) and [dict(r) for r in rebuilt] == [dict(r) for r in live]


async def settled(pool: asyncpg.Pool, refunded_case: str, quiet_s: float = 1.0) -> None:
    """Until that case's refund is in its row and no row of the database changed for quiet_s."""
    deadline = time.monotonic() + 60
    last: list[asyncpg.Record] = []
    since = time.monotonic()
    while time.monotonic() < deadline:
        now = await pool.fetch("select return_id, stream_version, refunded from return_cases order by 1")
        if now != last:
            last, since = now, time.monotonic()
        paid = any(r["return_id"] == refunded_case and r["refunded"] > 0 for r in now)
        if paid and time.monotonic() - since >= quiet_s:
            return
        await asyncio.sleep(0.2)
    raise AssertionError("the read model did not settle in 60 s")
