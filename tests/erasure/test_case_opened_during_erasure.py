"""A case the customer opens while their erasure runs is not lost to it: it is sealed under a new
key (the tombstone condemns the keys made before it), and it is not one of the erased cases, so
its data stays readable and its row stays the customer's; erasing again later takes it too."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from temporalio import activity

from activities.erasure import ErasureActivities, Executions
from customers.erase import erase_customer
from policies import DEFAULT_POLICY_FILE
from store.event_store import EventStore
from tests.erasure.conftest import Stack, completed, request, until
from worker import build_worker

pytestmark = pytest.mark.slow  # a dev server; Temporal deletes executions asynchronously


class OpensACaseMeanwhile(ErasureActivities):
    """While the first deletion runs, the customer submits a new return."""

    def __init__(self, stack: Stack, new_case: dict[str, Any]) -> None:
        super().__init__(stack.pool)
        self._stack = stack
        self._new_case: dict[str, Any] | None = new_case

    @activity.defn(name="delete_executions")
    async def delete_executions(self, e: Executions) -> int:
        if self._new_case is not None:
            await self._stack.returns.submit(self._new_case)
            self._new_case = None
        return await super().delete_executions(e)


async def test_a_case_opened_during_the_erasure_is_not_lost_to_it(stack: Stack) -> None:
    customer = f"C-{uuid.uuid4().hex[:8]}"
    rc = stack.returns
    first = request("headset", customer, "Nina Nieuw", "nina@example.test", "eerste")
    await rc.submit(first)
    await rc.cancel(first["return_id"])
    await until(completed(stack, first["return_id"]), what="first case done")
    late = request("headset", customer, "Nina Nieuw", "nina@example.test", "tweede, tijdens het wissen")
    queue = f"erasure-meanwhile-{uuid.uuid4()}"
    erasure = OpensACaseMeanwhile(stack, late)
    async with build_worker(stack.client, stack.pool, DEFAULT_POLICY_FILE, queue, erasure=erasure):
        summary = await erase_customer(
            stack.client, customer, actor="ops:anna", reason="asked", task_queue=queue
        )
        assert summary.return_ids == [first["return_id"]] and summary.counts.data_keys == 1
        # The new case is whole: a key of its own, its customer readable, its row the customer's.
        keys = await stack.pool.fetch("select key_id from data_keys where customer_id = $1", customer)
        assert [k["key_id"] for k in keys] == [f"{customer}/2"]
        store = EventStore(stack.pool)
        events = await store.read_stream(rc.case_id(late["return_id"]))
        assert events[0].data["request"]["order"]["customer"]["name"] == "Nina Nieuw"
        row = await stack.pool.fetchval(
            "select customer_id from return_cases where return_id = $1", late["return_id"]
        )
        assert row == customer
        events = await store.read_stream(rc.case_id(first["return_id"]))
        assert events[0].data["request"]["order"]["customer"]["name"] == "[erased]"

        # Once it is closed, erasing again takes it too.
        await rc.cancel(late["return_id"])
        await until(completed(stack, late["return_id"]), what="late case done")
        again = await erase_customer(
            stack.client, customer, actor="ops:anna", reason="asked", task_queue=queue
        )
    assert again.return_ids == sorted([first["return_id"], late["return_id"]])
    assert again.counts.data_keys == 1 and again.pseudonym == summary.pseudonym
    events = await EventStore(stack.pool).read_stream(rc.case_id(late["return_id"]))
    assert events[0].data["request"]["order"]["customer"]["name"] == "[erased]"
