"""Delivery end to end: events appended to a real PostgreSQL, the relay and sender running, a real
HTTP receiver verifying every request with the `standardwebhooks` package."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from payload.codec import Keyring
from store.event_store import EventStore, NewEvent
from tests.webhooks.conftest import (
    FAST,
    append_case,
    as_case,
    latest_streams,
    recorded_stream,
    running,
    wait_until,
)
from tests.webhooks.receiver import Receiver
from webhooks.deliveries import list_deliveries
from webhooks.endpoints import (
    create_endpoint,
    get_endpoint,
    parse_position,
    redeliver,
    rotate_secret,
    update_endpoint,
)
from webhooks.events import EventType, Recorded, payloads
from webhooks.relay import relay_once

pytestmark = pytest.mark.slow
_AT = datetime(2026, 11, 2, tzinfo=UTC)


def expected(cases: dict[str, list[NewEvent]], types: Sequence[str] = ()) -> dict[str, list[int]]:
    """Per return id, the stream versions a shop hears of, in order (by the pure mapping)."""
    out: dict[str, list[int]] = {}
    for return_id, events in cases.items():
        stream = [Recorded(str(e.event_id), n + 1, _AT, e.data) for n, e in enumerate(events)]
        mapped = payloads(stream, {r.event_id for r in stream})
        out[return_id] = [r.stream_version for r, p in mapped if not types or p.type in types]
    return out


def new_cases(names: Sequence[str], tag: str) -> dict[str, list[NewEvent]]:
    out = {}
    for n, name in enumerate(names):
        return_id = f"R-{tag}-{n}-{uuid.uuid4().hex[:6]}"
        out[return_id] = as_case(recorded_stream(name), return_id)
    return out


async def endpoint(
    pool: asyncpg.Pool, keyring: Keyring, receiver: Receiver, types: Sequence[EventType] = ()
) -> str:
    async with pool.acquire() as conn:
        ep, secret = await create_endpoint(conn, keyring, receiver.url, types)
    assert secret.startswith("whsec_")
    receiver.secrets.append(secret)
    return ep.endpoint_id


async def append_all(pool: asyncpg.Pool, cases: dict[str, list[NewEvent]], batch: int = 2) -> None:
    store = EventStore(pool)
    await asyncio.gather(
        *(append_case(store, events, rid, batch, pause=0.01) for rid, events in cases.items())
    )


async def attempts(pool: asyncpg.Pool, where: str = "true") -> int:
    n: int = await pool.fetchval(f"select count(*) from webhook_attempts where {where}")
    return n


def report(receiver: Receiver, label: str) -> None:
    print(
        f"{label}: {len(receiver.first_receipts())} messages, {len(receiver.received)} receipts, "
        f"{receiver.duplicates()} duplicates, {receiver.rejected} rejected signatures"
    )


async def test_every_event_arrives_in_order_per_case_through_an_outage(
    wh_pool: asyncpg.Pool, keyring: Keyring
) -> None:
    """The receiver answers 503 for a while, then goes down (connections refused), then comes
    back on its port: every event of every case arrives, in order per case."""
    receiver = await Receiver([]).start()
    await endpoint(wh_pool, keyring, receiver)
    names = latest_streams()
    before, during = new_cases(names[:12], "A"), new_cases(names[12:24], "B")
    want = expected(before | during)
    async with running(wh_pool, keyring):
        await append_all(wh_pool, before)
        await wait_until(lambda: len(receiver.received) > 10, what="the first deliveries")
        receiver.status = 503
        writing = asyncio.create_task(append_all(wh_pool, during))
        n503 = await attempts(wh_pool, "http_status = 503")
        await wait_until_async(lambda: attempts(wh_pool, "http_status = 503"), n503 + 20, "503 answers")
        await receiver.stop()
        refused = await attempts(wh_pool, "http_status is null")
        await wait_until_async(lambda: attempts(wh_pool, "http_status is null"), refused + 10, "refusals")
        await writing
        receiver.status = 204
        await receiver.start()
        total = sum(len(v) for v in want.values())
        await wait_until(lambda: len(receiver.first_receipts()) >= total, 60, "every message")
    report(receiver, "outage")
    assert receiver.sequences_by_case() == want
    assert receiver.rejected == 0
    await receiver.stop()


async def wait_until_async(count: object, at_least: int, what: str, timeout: float = 30.0) -> None:
    """Poll an async count (a callable returning an awaitable int) until it reaches at_least."""
    assert callable(count)
    deadline = asyncio.get_running_loop().time() + timeout
    while (n := await count()) < at_least:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what}: {n} of {at_least} within {timeout} s")
        await asyncio.sleep(0.05)


async def test_an_event_committed_late_is_still_delivered(wh_pool: asyncpg.Pool, keyring: Keyring) -> None:
    """T2 takes its transaction id first; T1 appends case A (the lower position) and commits
    last, T2 appends case B and commits at once. B is delivered while T1 is open; A after it
    commits (a reader by position alone would have checkpointed past A and lost it)."""
    receiver = await Receiver([]).start()
    await endpoint(wh_pool, keyring, receiver)
    a, b = (f"R-LATE-{x}-{uuid.uuid4().hex[:6]}" for x in "AB")
    first_a = as_case(recorded_stream("001"), a)[0]
    first_b = as_case(recorded_stream("001"), b)[0]
    append = "select append_events($1, 0, $2, $3, $4)"
    async with running(wh_pool, keyring), wh_pool.acquire() as t1, wh_pool.acquire() as t2:
        tx1, tx2 = t1.transaction(), t2.transaction()
        await tx1.start()
        await tx2.start()
        await t2.fetchval("select pg_current_xact_id()")
        await t1.fetchval("select pg_current_xact_id()")
        await t1.fetchval(append, f"return-{a}", [first_a.event_id], [first_a.type], [first_a.data])
        await t2.fetchval(append, f"return-{b}", [first_b.event_id], [first_b.type], [first_b.data])
        await tx2.commit()
        await wait_until(lambda: b in receiver.sequences_by_case(), what="B, committed first")
        assert a not in receiver.sequences_by_case()
        await tx1.commit()
        await wait_until(lambda: a in receiver.sequences_by_case(), what="A, committed late")
    rows = await wh_pool.fetch(
        "select stream_id, global_position from events where stream_id = any($1)",
        [f"return-{a}", f"return-{b}"],
    )
    gp = {r["stream_id"]: r["global_position"] for r in rows}
    assert gp[f"return-{a}"] < gp[f"return-{b}"]
    assert [r.payload["data"]["return_id"] for r in receiver.first_receipts()] == [b, a]
    await receiver.stop()


async def test_retries_exhausted_disable_the_endpoint_and_enabling_it_delivers_everything(
    wh_pool: asyncpg.Pool, keyring: Keyring
) -> None:
    receiver = await Receiver([], status=500).start()
    endpoint_id = await endpoint(wh_pool, keyring, receiver)
    cases = new_cases(["002"], "X")
    later = new_cases(["014"], "Y")
    settings = replace(FAST, give_up_after=timedelta(seconds=1))
    async with running(wh_pool, keyring, settings):
        await append_all(wh_pool, cases)

        async def disabled() -> int:
            async with wh_pool.acquire() as conn:
                ep = await get_endpoint(conn, endpoint_id)
            assert ep is not None
            return 0 if ep.enabled else 1

        await wait_until_async(disabled, 1, "the endpoint disabled")
        async with wh_pool.acquire() as conn:
            ep = await get_endpoint(conn, endpoint_id)
            log = await list_deliveries(conn, endpoint_id=endpoint_id, limit=200)
        assert ep is not None and not ep.enabled and ep.disabled_at is not None
        assert ep.disabled_reason is not None and "HTTP 500" in ep.disabled_reason
        print("disabled:", ep.disabled_reason)
        # Only the first message of the case was tried (order per case), several times.
        assert {d.msg_id for d in log.items} == {log.items[-1].msg_id}
        assert len(log.items) >= 3 and all(d.http_status == 500 for d in log.items)
        assert [d.attempt for d in reversed(log.items)] == list(range(1, len(log.items) + 1))
        assert log.items[0].message_status == "failed"
        # Disabled: events still become messages, none is sent.
        await append_all(wh_pool, later)
        receiver.status = 204
        await asyncio.sleep(0.5)
        assert receiver.received == []
        async with wh_pool.acquire() as conn:
            enabled = await update_endpoint(conn, endpoint_id, enabled=True)
        assert enabled is not None and enabled.enabled and enabled.disabled_reason is None
        want = expected(cases | later)
        await wait_until(lambda: receiver.sequences_by_case() == want, what="everything after enabling")
    report(receiver, "after enabling")
    await receiver.stop()


async def test_secret_rotation_signs_with_both_during_the_grace_period(
    wh_pool: asyncpg.Pool, keyring: Keyring
) -> None:
    receiver = await Receiver([]).start()
    endpoint_id = await endpoint(wh_pool, keyring, receiver)
    (old,) = receiver.secrets
    async with wh_pool.acquire() as conn:
        rotated = await rotate_secret(conn, keyring, endpoint_id, timedelta(seconds=2))
        assert rotated is not None
        new, until = rotated
        ep = await get_endpoint(conn, endpoint_id)
    assert new != old and new.startswith("whsec_") and ep is not None and ep.secrets_valid == 2
    old_cases, new_cases_, after = (new_cases(["001"], tag) for tag in ("OLD", "NEW", "AFTER"))

    def arrived(cases: dict[str, list[NewEvent]]) -> bool:
        got = receiver.sequences_by_case()
        return all(got.get(k) == v for k, v in expected(cases).items())

    async with running(wh_pool, keyring):
        receiver.secrets[:] = [old]  # a shop that has not switched yet
        await append_all(wh_pool, old_cases)
        await wait_until(lambda: arrived(old_cases), what="verified with the old secret")
        receiver.secrets[:] = [new]  # a shop that has switched
        await append_all(wh_pool, new_cases_)
        await wait_until(lambda: arrived(new_cases_), what="verified with the new secret")
        assert {r.signatures for r in receiver.received} == {2}
        while datetime.now(UTC) < until:
            await asyncio.sleep(0.1)
        receiver.secrets[:] = [old]  # after the grace period the old secret no longer verifies
        n = len(receiver.received)
        await append_all(wh_pool, after)
        await wait_until(lambda: receiver.rejected >= 1, what="the old secret refused")
        assert len(receiver.received) == n
        receiver.secrets[:] = [new]
        await wait_until(lambda: arrived(after), what="the retries, verified with the new secret")
    assert {r.signatures for r in receiver.received[n:]} == {1}
    await receiver.stop()


async def test_filters_registration_time_and_two_senders(wh_pool: asyncpg.Pool, keyring: Keyring) -> None:
    """An endpoint gets only the types it asked for; one registered later only what was recorded
    after; two relay+sender pairs (as two processes) send each message once, in order per case."""
    everything, money = await Receiver([]).start(), await Receiver([]).start()
    await endpoint(wh_pool, keyring, everything)
    types: list[EventType] = ["refund.issued", "store_credit.granted"]
    await endpoint(wh_pool, keyring, money, types)
    earlier = new_cases(["001"], "EARLY")
    await append_all(wh_pool, earlier)
    late = await Receiver([]).start()
    await endpoint(wh_pool, keyring, late)
    cases = new_cases(latest_streams()[:16], "F")
    async with running(wh_pool, keyring, processes=2):
        await append_all(wh_pool, cases)
        want_all = expected(earlier | cases)
        want_money = {k: v for k, v in expected(earlier | cases, types).items() if v}
        await wait_until(lambda: everything.sequences_by_case() == want_all, what="every event")
        await wait_until(lambda: money.sequences_by_case() == want_money, what="the money events")
        await wait_until(lambda: late.sequences_by_case() == expected(cases), what="the later endpoint's")
    assert {r.payload["type"] for r in money.received} == set(types)
    for r in (everything, money, late):
        report(r, "two senders")
        assert r.duplicates() == 0
        await r.stop()


async def test_redelivery_from_a_position_of_the_log(wh_pool: asyncpg.Pool, keyring: Keyring) -> None:
    receiver = await Receiver([]).start()
    endpoint_id = await endpoint(wh_pool, keyring, receiver)
    cases = new_cases(["002"], "RE")
    (return_id,) = cases
    want = expected(cases)[return_id]
    async with running(wh_pool, keyring):
        await append_all(wh_pool, cases)
        await wait_until(lambda: len(receiver.received) == len(want), what="the first delivery")
        # The sender records an attempt after the receiver answered: wait for the last record.
        deadline = time.monotonic() + 30
        while await wh_pool.fetchval(
            "select count(*) from webhook_messages where endpoint_id = $1 and status = 'delivered'",
            endpoint_id,
        ) < len(want):
            assert time.monotonic() < deadline, "the log never recorded every delivery"
            await asyncio.sleep(0.05)
        async with wh_pool.acquire() as conn:
            log = await list_deliveries(conn, endpoint_id=endpoint_id, return_id=return_id, limit=2)
            assert log.next_cursor is not None
            rest = await list_deliveries(conn, endpoint_id=endpoint_id, cursor=log.next_cursor, limit=100)
            items = list(reversed(log.items + rest.items))  # oldest first
            assert [d.attempt_id for d in items] == sorted(d.attempt_id for d in items)
            assert all(d.error is None and d.http_status == 204 for d in items)
            assert [d.msg_id for d in items] == [r.msg_id for r in receiver.received]
            again = await redeliver(conn, endpoint_id, parse_position(items[2].position))
        assert again == len(want) - 2
        await wait_until(lambda: len(receiver.received) == len(want) + again, what="the redelivery")
    ids = [r.msg_id for r in receiver.received]
    assert ids[len(want) :] == ids[2 : len(want)]  # the same webhook-ids, in order
    assert receiver.duplicates() == again
    report(receiver, "redelivery")
    await receiver.stop()


async def test_relay_makes_each_message_once(wh_pool: asyncpg.Pool, keyring: Keyring) -> None:
    """The relay's rounds are idempotent: a message per event and endpoint, once."""
    receiver = Receiver([])
    endpoint_id = await endpoint(wh_pool, keyring, receiver)
    cases = new_cases(["030"], "ONCE")
    await append_all(wh_pool, cases)
    read, made = await relay_once(wh_pool)
    assert read == len(next(iter(cases.values())))
    assert made == sum(len(v) for v in expected(cases).values())
    assert await relay_once(wh_pool) == (0, 0)
    stored = await wh_pool.fetchval(
        "select count(*) from webhook_messages where endpoint_id = $1", endpoint_id
    )
    assert stored == made
