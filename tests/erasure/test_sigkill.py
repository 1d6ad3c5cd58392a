"""An erasure whose worker is SIGKILLed half-way (after the rows are anonymised, while Temporal
deletes the executions) completes when another worker takes over, and never ends half-erased:
keys deleted, executions gone, one customer_erased event."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid

import pytest

from customers.erase import erase_customer
from domain.customer import customer_stream
from policies import DEFAULT_POLICY_FILE
from store.event_store import EventStore
from tests.conftest import ROOT
from tests.erasure.conftest import KEYS_TEXT, Stack, completed, execution_status, request, until
from worker import build_worker
from workflows.erase_customer import ERASE_WORKFLOW, EraseCustomer, ErasureSummary, erase_workflow_id

pytestmark = pytest.mark.slow  # a worker process, a kill, Temporal's asynchronous deletion and a retry


async def test_an_erasure_killed_half_way_completes_on_another_worker(stack: Stack) -> None:
    customer = f"C-{uuid.uuid4().hex[:8]}"
    rc = stack.returns
    ids = []
    for _ in range(2):
        req = request("headset", customer, "Kees Kil", "kees.kil@example.test", "kapot")
        await rc.submit(req)
        await rc.cancel(req["return_id"])
        ids.append(req["return_id"])
    for rid in ids:
        await until(completed(stack, rid), what=f"{rid} done")
    keys_before = await stack.pool.fetchval("select count(*) from data_keys where customer_id = $1", customer)
    assert keys_before == 1

    queue = f"erasure-kill-{uuid.uuid4()}"
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": stack.temporal.address,
        "DATABASE_URL": stack.app_dsn,
        "DATABASE_ADMIN_URL": stack.admin_dsn,
        "RETURNS_TASK_QUEUE": queue,
        "RETURNS_CODEC_KEYS": KEYS_TEXT,
        "RETURNS_API_PORT": "off",
    }
    proc = subprocess.Popen(
        [sys.executable, "worker.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        handle = await stack.client.start_workflow(
            ERASE_WORKFLOW,
            EraseCustomer(customer_id=customer, actor="ops:anna", reason="killed half-way"),
            id=erase_workflow_id(customer),
            task_queue=queue,
            result_type=ErasureSummary,
        )

        async def deleting() -> bool:
            pending = (await handle.describe()).raw_description.pending_activities
            return any(p.activity_type.name == "delete_executions" and p.attempt == 1 for p in pending)

        await until(deleting, seconds=120, what="the worker process at the deletion step")
    finally:
        proc.send_signal(signal.SIGKILL)
        await asyncio.to_thread(proc.wait)

    # Half-way: rows anonymised, keys and audit event not yet.
    rows = await stack.pool.fetch(
        "select customer_id from return_cases where return_id = any($1::text[])", ids
    )
    assert [r["customer_id"] for r in rows] != [] and customer not in {r["customer_id"] for r in rows}
    assert await stack.pool.fetchval("select count(*) from data_keys where customer_id = $1", customer) == 1
    assert await EventStore(stack.pool).read_stream(customer_stream(customer)) == []

    async with build_worker(stack.client, stack.pool, DEFAULT_POLICY_FILE, queue):
        summary = await asyncio.wait_for(handle.result(), timeout=240)
        # The same erasure asked for again answers as done, changing nothing.
        again = await erase_customer(
            stack.client, customer, actor="ops:anna", reason="again", task_queue=queue
        )

    assert summary.counts.cases == 2 and summary.counts.data_keys == 1 and summary.recorded
    assert again.counts.data_keys == 0 and again.pseudonym == summary.pseudonym
    assert await stack.pool.fetchval("select count(*) from data_keys where customer_id = $1", customer) == 0
    for rid in ids:
        assert await execution_status(stack.client, rc.case_id(rid)) is None
    stream = await EventStore(stack.pool).read_stream(customer_stream(customer))
    assert [e.data["reason"] for e in stream] == ["killed half-way", "again"]
