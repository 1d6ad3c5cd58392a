"""Erasing a customer (GDPR Art. 17) on a real dev server: refused while a case is open and
nothing changed; then done: read model and ledgers anonymised with amounts kept, Temporal
executions deleted (and their bytes gone from its database file), the audited customer_erased
event recorded; every stream still folds and the read model rebuilds to the same rows."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest

from activities.event_store import fold_stored, row_of_stream
from customers.erase import ErasureRefused, erase_customer
from domain.customer import customer_event_from_json, customer_stream
from store.event_store import EventStore
from store.read_model import rebuild
from tests.erasure.conftest import Stack, completed, execution_status, file_bytes, request, until

pytestmark = pytest.mark.slow  # a dev server; Temporal deletes executions asynchronously

NAME, EMAIL, NOTE = "Erika Wisbaar", "erika.wisbaar@example.test", "Wisbare notitie over de toner"


async def rows_of(pool: asyncpg.Pool, return_ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = await pool.fetch("select * from return_cases where return_id = any($1::text[])", return_ids)
    return {r["return_id"]: {k: v for k, v in dict(r).items() if k != "updated_at"} for r in rows}


async def three_cases(stack: Stack, customer_id: str) -> tuple[str, str, str]:
    """A refund (resolved, paid), a cancelled case and one still open (awaiting photos)."""
    rc = stack.returns
    refund = request("toner", customer_id, NAME, EMAIL, NOTE)
    await rc.submit(refund)
    view = await rc.override(refund["return_id"], "waive_photos", actor="ops:anna", reason="photo by phone")
    assert view.status == "resolved" and view.resolution == "refund"
    cancelled = request("headset", customer_id, NAME, EMAIL, NOTE)
    await rc.submit(cancelled)
    await rc.cancel(cancelled["return_id"])
    still_open = request("headset", customer_id, NAME, EMAIL, NOTE)
    view = await rc.submit(still_open)
    assert view.status == "awaiting_photos"
    return refund["return_id"], cancelled["return_id"], still_open["return_id"]


async def test_refused_while_a_case_is_open_then_erased_with_the_books_intact(stack: Stack) -> None:
    customer = f"C-{uuid.uuid4().hex[:8]}"
    refund_id, cancelled_id, open_id = await three_cases(stack, customer)
    ids = [refund_id, cancelled_id, open_id]
    rc = stack.returns
    for rid in (refund_id, cancelled_id):  # effects done, workflows completed
        await until(completed(stack, rid), what=f"{rid} completed")
    refund = await stack.pool.fetchrow("select * from refunds where return_id = $1", refund_id)
    assert refund is not None and refund["amount"] > 0
    before = await rows_of(stack.pool, ids)
    assert {r["customer_id"] for r in before.values()} == {customer}

    # Refused while one case is open: it is named, and nothing changed.
    with pytest.raises(ErasureRefused) as refused:
        await erase_customer(
            stack.client, customer, actor="ops:anna", reason="customer asked", task_queue=stack.task_queue
        )
    assert refused.value.open_cases == [open_id]
    assert open_id in str(refused.value) and refund_id not in str(refused.value)
    assert await rows_of(stack.pool, ids) == before
    assert (
        await stack.pool.fetchval("select count(*) from erased_customers where customer_id = $1", customer)
        == 0
    )
    assert await EventStore(stack.pool).read_stream(customer_stream(customer)) == []
    for rid in ids:
        assert await execution_status(stack.client, rc.case_id(rid)) is not None

    await rc.cancel(open_id)
    await until(completed(stack, open_id), what="the last case completed")
    before = await rows_of(stack.pool, ids)
    # Photos stored by the portal: two of the customer's, and one of a case whose id extends theirs.
    theirs = [f"{refund_id}/L1/{'a' * 64}.jpg", f"{open_id}/L1/{'b' * 64}.png"]
    other = f"{refund_id}0/L1/{'c' * 64}.jpg"
    for key in [*theirs, other]:
        await stack.photos.put(key, b"photo bytes", "image/jpeg")
    summary = await erase_customer(
        stack.client, customer, actor="ops:anna", reason="customer asked", task_queue=stack.task_queue
    )

    assert sorted(summary.return_ids) == sorted(ids)
    assert summary.counts.cases == 3 and summary.counts.executions == 3 and summary.recorded
    assert summary.counts.photos == 2
    for key in theirs:
        with pytest.raises(KeyError):
            await stack.photos.get(key)
    assert await stack.photos.get(other) == b"photo bytes"
    assert summary.pseudonym.startswith("erased-") and customer not in summary.pseudonym
    after = await rows_of(stack.pool, ids)
    # The read model: the pseudonym instead of the customer, every amount and status as it was.
    assert {r["customer_id"] for r in after.values()} == {summary.pseudonym}
    for rid in ids:
        assert {**after[rid], "customer_id": customer} == before[rid]
    # The books: the refund's amount, method and reference, untouched.
    assert await stack.pool.fetchrow("select * from refunds where return_id = $1", refund_id) == refund
    # Temporal: the executions are gone.
    for rid in ids:
        assert await execution_status(stack.client, rc.case_id(rid)) is None
    # The audit record, on the customer's own stream.
    stream = await EventStore(stack.pool).read_stream(customer_stream(customer))
    assert [e.type for e in stream] == ["customer_erased"]
    erased = customer_event_from_json(stream[0].data)
    assert (erased.actor, erased.reason, sorted(erased.return_ids)) == (
        "ops:anna",
        "customer asked",
        sorted(ids),
    )
    tomb = await stack.pool.fetchrow("select * from erased_customers where customer_id = $1", customer)
    assert tomb is not None and (tomb["actor"], tomb["pseudonym"]) == ("ops:anna", summary.pseudonym)

    # Every case stream still folds, to the same amounts and statuses as its (anonymised) row.
    store = EventStore(stack.pool)
    for rid in ids:
        events = await store.read_stream(rc.case_id(rid))
        assert fold_stored(events) is not None
        folded = row_of_stream(events)
        assert folded is not None
        for column in ("status", "kind", "resolution", "gross", "total", "refunded", "store_credit"):
            assert getattr(folded, column) == before[rid][column], column
    # The read model rebuilds (customer streams skipped) to exactly the rows the erasure left.
    await rebuild(stack.pool, row_of_stream)
    assert await rows_of(stack.pool, ids) == after

    # Erasing again finds everything done: same pseudonym, nothing more to change.
    again = await erase_customer(
        stack.client, customer, actor="ops:anna", reason="asked twice", task_queue=stack.task_queue
    )
    assert again.pseudonym == summary.pseudonym
    assert again.counts.cases == 0 and again.counts.executions == 0 and again.counts.store_credits == 0


async def test_the_deleted_executions_leave_no_bytes_in_the_temporal_database(stack: Stack) -> None:
    """The payloads are ciphertext (payload keys); the search attributes are not (OrderId,
    CustomerId, for ops to filter), and secure_delete zeroes them with the deleted execution.
    (The workflow ids stay in the namespace retention's timer rows until those fire.)"""
    customer = f"C-{uuid.uuid4().hex[:8]}"
    rc = stack.returns
    req = request("headset", customer, NAME, EMAIL, NOTE)
    req["order"]["order_id"] = order_id = f"O-{uuid.uuid4().hex[:12]}"
    await rc.submit(req)
    await rc.cancel(req["return_id"])
    await until(completed(stack, req["return_id"]), what="case completed")
    assert order_id.encode() in file_bytes(stack.db_file)  # the OrderId search attribute
    for text in (NAME, EMAIL, NOTE):
        assert text.encode() not in file_bytes(stack.db_file)  # ciphertext only
    await erase_customer(stack.client, customer, actor="ops:anna", reason="test", task_queue=stack.task_queue)

    async def gone() -> bool:
        return order_id.encode() not in file_bytes(stack.db_file)

    await until(gone, seconds=120, what="the case's search attributes gone from the Temporal database file")
