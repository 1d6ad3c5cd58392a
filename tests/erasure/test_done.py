"""The issue's "done": a customer with three cases, one of them a refund, is exported, then
erased, over the HTTP API and the CLI on a real dev server and PostgreSQL. Refused while a case
is open (409 naming it, nothing changed). The name and e-mail are nowhere in the clear: not in
the PostgreSQL data directory (after a CHECKPOINT, pg_wal included) nor in the Temporal database
file, before or after; after the erasure nothing reads them any more, and the refund's amount
and reference are still in the books."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from api.app import Deps, create_app
from api.keys import create_key
from api.server import serving
from domain.personal import ERASED_EMAIL, ERASED_NAME
from store.event_store import EventStore
from store.ledgers import messages
from tests.api.conftest import api_cli, auth
from tests.erasure.conftest import KEYS, KEYS_TEXT, Stack, closed, file_bytes, request, tree_bytes, until

pytestmark = pytest.mark.slow  # a dev server, uvicorn, CLI processes; Temporal deletes asynchronously


@pytest.fixture(scope="module")
async def http(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Deps(pool=stack.pool, returns=stack.returns, keyring=KEYS))
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=300) as client:
        yield client


@pytest.fixture(scope="module")
async def ops_key(stack: Stack) -> str:
    conn = await asyncpg.connect(stack.admin_dsn)
    try:
        _, key = await create_key(conn, "ops", "ops:anna", label="erasure tests")
    finally:
        await conn.close()
    return key


async def clear_text_anywhere(stack: Stack, *texts: str) -> list[str]:
    """Which of `texts` are in the PostgreSQL data directory (base, pg_wal, everything, after a
    CHECKPOINT) or in the Temporal database file, in the clear."""
    conn = await asyncpg.connect(stack.pg.get_uri())
    try:
        await conn.execute("checkpoint")
    finally:
        await conn.close()
    haystacks = {"postgres": tree_bytes(stack.pg.pgdata), "temporal": file_bytes(stack.db_file)}
    return [f"{t} in {where}" for t in texts for where, data in haystacks.items() if t.encode() in data]


async def kpis(pool: asyncpg.Pool, ids: list[str]) -> tuple[Any, ...]:
    row = await pool.fetchrow(
        "select count(*), sum(gross), sum(total), sum(refunded), sum(store_credit),"
        " array_agg(status order by return_id) from return_cases where return_id = any($1::text[])",
        ids,
    )
    assert row is not None
    return tuple(row)


async def test_a_customer_with_three_cases_is_exported_then_erased(
    stack: Stack, http: httpx.AsyncClient, ops_key: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    customer, name, email = f"C-{tag}", f"Wilma Wisbaar {tag}", f"wilma.{tag}@example.test"
    note = f"Notitie {tag} over de kapotte toner"
    rc = stack.returns
    refund = request("toner", customer, name, email, note)
    await rc.submit(refund)
    await rc.override(refund["return_id"], "waive_photos", actor="ops:anna", reason="photo by phone")
    cancelled = request("headset", customer, name, email, note)
    await rc.submit(cancelled)
    await rc.cancel(cancelled["return_id"])
    still_open = request("headset", customer, name, email, note)
    await rc.submit(still_open)
    ids = [refund["return_id"], cancelled["return_id"], still_open["return_id"]]
    await until(lambda: closed(stack.client, rc.case_id(refund["return_id"])), what="refund paid, case done")
    paid = await stack.pool.fetchrow("select * from refunds where return_id = $1", refund["return_id"])
    assert paid is not None

    # Refused while a case is open: 409 naming it (API and CLI), nothing changed.
    before = await stack.pool.fetch("select * from return_cases where return_id = any($1::text[])", ids)
    r = await http.post(
        f"/v1/customers/{customer}/erasure", json={"reason": "customer asked"}, headers=auth(ops_key)
    )
    assert r.status_code == 409, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["open_cases"] == [still_open["return_id"]]
    assert still_open["return_id"] in r.json()["detail"]
    env = {
        "TEMPORAL_ADDRESS": stack.temporal.address,
        "RETURNS_CODEC_KEYS": KEYS_TEXT,
        "RETURNS_TASK_QUEUE": stack.task_queue,
        "DATABASE_URL": stack.app_dsn,
    }
    cli = await api_cli(env, "customers", "erase", customer, "--actor", "ops:anna", "--reason", "asked")
    assert cli.returncode == 2 and still_open["return_id"] in cli.stderr and cli.stdout == ""
    assert (
        await stack.pool.fetch("select * from return_cases where return_id = any($1::text[])", ids) == before
    )
    assert (
        await stack.pool.fetchval("select count(*) from erased_customers where customer_id = $1", customer)
        == 0
    )
    # Bad input: a clear 4xx naming the field, nothing started.
    r = await http.post(f"/v1/customers/{customer}/erasure", json={"reason": ""}, headers=auth(ops_key))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"

    # Export (API and CLI): all three cases, their views, events and mails, in the clear.
    r = await http.get(f"/v1/customers/{customer}/export", headers=auth(ops_key))
    assert r.status_code == 200, r.text
    exported = r.json()
    assert sorted(c["return_id"] for c in exported["cases"]) == sorted(ids)
    by_id = {c["return_id"]: c for c in exported["cases"]}
    assert by_id[refund["return_id"]]["view"]["status"] == "resolved"
    assert (
        by_id[refund["return_id"]]["ledgers"]["refunds"][0]["payment_reference"] == paid["payment_reference"]
    )
    assessed = by_id[refund["return_id"]]["events"][0]["data"]
    assert assessed["request"]["order"]["customer"] == {"id": customer, "name": name, "email": email}
    assert any(m["email"] == email for m in by_id[refund["return_id"]]["messages"])
    cli = await api_cli(env, "customers", "export", customer)
    assert cli.returncode == 0, cli.stderr
    assert name in cli.stdout and sorted(ids) == sorted(
        c["return_id"] for c in json.loads(cli.stdout)["cases"]
    )

    # Stored: never in the clear, in PostgreSQL or Temporal. (The same grep finds what is stored
    # in the clear: the customer id, in the events and rows, and the OrderId search attribute.)
    assert await clear_text_anywhere(stack, name, email, note) == []
    assert f"{customer} in postgres" in await clear_text_anywhere(stack, customer)
    figures = await kpis(stack.pool, ids[:2])

    await rc.cancel(still_open["return_id"])
    await until(lambda: closed(stack.client, rc.case_id(still_open["return_id"])), what="last case done")
    r = await http.post(
        f"/v1/customers/{customer}/erasure", json={"reason": "customer asked"}, headers=auth(ops_key)
    )
    assert r.status_code == 200, r.text
    summary = r.json()
    assert summary["actor"] == "ops:anna" and sorted(summary["return_ids"]) == sorted(ids)
    assert summary["counts"]["data_keys"] == 1 and summary["counts"]["executions"] == 3

    # Nothing personal can be read any more: the events fold with the erased values, the mails
    # are erased, the keys are gone, the export knows no such customer, the cases are gone
    # from Temporal; the bytes are nowhere in the clear.
    store = EventStore(stack.pool)
    for rid in ids:
        events = await store.read_stream(rc.case_id(rid))
        customer_read = events[0].data["request"]["order"]["customer"]
        assert (customer_read["name"], customer_read["email"]) == (ERASED_NAME, ERASED_EMAIL)
        assert all(item["note"] == "" for item in events[0].data["request"]["items"])
        for m in await messages(stack.pool, store.personal, return_id=rid):
            assert m.email == ERASED_EMAIL and m.text == "" and email not in str(m.data)
    assert await stack.pool.fetchval("select count(*) from data_keys where customer_id = $1", customer) == 0
    r = await http.get(f"/v1/customers/{customer}/export", headers=auth(ops_key))
    assert r.status_code == 200 and r.json()["cases"] == [] and r.json()["erased_at"] is not None
    assert name not in r.text and email not in r.text
    for rid in ids:
        assert (await http.get(f"/v1/returns/{rid}", headers=auth(ops_key))).status_code == 404
    assert await clear_text_anywhere(stack, name, email, note) == []

    # The books: the refund's amount and reference; the KPIs in amounts unchanged.
    assert (
        await stack.pool.fetchrow("select * from refunds where return_id = $1", refund["return_id"]) == paid
    )
    assert await kpis(stack.pool, ids[:2]) == figures
