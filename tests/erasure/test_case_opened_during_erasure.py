"""A case of the customer opened while their erasure runs is sealed under the key the erasure
is about to delete: the erasure looks again before deleting it and refuses while that case is
open (its data stays readable); once it is closed, erasing again takes it too."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from temporalio import activity

from activities.erasure import ErasureActivities, Executions
from customers.erase import ErasureRefused, erase_customer
from policies import DEFAULT_POLICY_FILE
from store.event_store import EventStore
from tests.erasure.conftest import Stack, completed, request, until
from worker import build_worker

pytestmark = pytest.mark.slow  # a dev server; Temporal deletes executions in about 40 s


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
        with pytest.raises(ErasureRefused) as refused:
            await erase_customer(stack.client, customer, actor="ops:anna", reason="asked", task_queue=queue)
        assert refused.value.open_cases == [late["return_id"]]
        # The new case is whole: its key kept, its customer readable, its row the customer's.
        assert (
            await stack.pool.fetchval("select count(*) from data_keys where customer_id = $1", customer) == 1
        )
        events = await EventStore(stack.pool).read_stream(rc.case_id(late["return_id"]))
        assert events[0].data["request"]["order"]["customer"]["name"] == "Nina Nieuw"
        row = await stack.pool.fetchval(
            "select customer_id from return_cases where return_id = $1", late["return_id"]
        )
        assert row == customer

        await rc.cancel(late["return_id"])
        await until(completed(stack, late["return_id"]), what="late case done")
        summary = await erase_customer(
            stack.client, customer, actor="ops:anna", reason="asked", task_queue=queue
        )
    assert sorted(summary.return_ids) == sorted([first["return_id"], late["return_id"]])
    assert summary.counts.data_keys == 1
    events = await EventStore(stack.pool).read_stream(rc.case_id(late["return_id"]))
    assert events[0].data["request"]["order"]["customer"]["name"] == "[erased]"
