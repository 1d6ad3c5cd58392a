"""Webhook payloads at rest (issue 16): the relay stores each message's payload sealed under the
case's customer's key, the sender opens it to sign and send it, and a message whose customer is
erased before it goes out is never sent (marked failed, nothing to send)."""

from __future__ import annotations

import json

import asyncpg

from payload.codec import Keyring
from store.personal_data import PersonalData, is_sealed
from tests.webhooks.conftest import FAST
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_delivery import append_all, attempts, endpoint, expected, new_cases
from webhooks.relay import relay_once
from webhooks.sender import lease


async def test_payloads_are_stored_sealed_and_sent_opened(wh_pool: asyncpg.Pool, keyring: Keyring) -> None:
    await endpoint(wh_pool, keyring, Receiver([]))
    cases = new_cases(["030"], "SEALED")
    await append_all(wh_pool, cases)
    _, made = await relay_once(wh_pool)
    assert made == sum(len(v) for v in expected(cases).values()) > 0
    stored = await wh_pool.fetch("select msg_id, payload from webhook_messages order by global_position")
    assert all(is_sealed(r["payload"]) for r in stored)
    leased = await lease(wh_pool, keyring, FAST, 100)
    bodies = {m.msg_id: json.loads(m.body) for m in leased}
    assert len(leased) >= 1  # per case, the earliest pending message is due first
    for body in bodies.values():
        assert body["data"]["return_id"] in cases and body["type"].count(".") == 1


async def test_a_message_of_an_erased_customer_is_never_sent(wh_pool: asyncpg.Pool, keyring: Keyring) -> None:
    await endpoint(wh_pool, keyring, Receiver([]))
    cases = new_cases(["030"], "ERASED")
    await append_all(wh_pool, cases)
    _, made = await relay_once(wh_pool)
    [customer_id] = {
        r["customer_id"] for r in await wh_pool.fetch("select distinct customer_id from data_keys")
    }
    await wh_pool.execute(
        "insert into erased_customers (customer_id, actor, reason) values ($1, 'ops:test', 'test')",
        customer_id,
    )
    personal = PersonalData.from_env(wh_pool)
    assert personal is not None
    async with wh_pool.acquire() as conn:
        assert await personal.forget(conn, customer_id) == 1
    for _ in range(made):  # each round leases the next message of the case, if any is left
        assert await lease(wh_pool, keyring, FAST, 100) == []
    statuses = await wh_pool.fetch("select status from webhook_messages")
    assert [r["status"] for r in statuses] == ["failed"] * made
    assert await attempts(wh_pool) == 0
