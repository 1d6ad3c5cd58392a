"""Retention (GDPR Art. 5(1)(e)): the worker's schedule follows RETURNS_PERSONAL_DATA_RETENTION_DAYS
(created, updated, deleted), and the RetentionSweep it runs erases exactly the customers whose
cases all closed longer ago than the setting, as the actor `retention`."""

from __future__ import annotations

import uuid
from datetime import timedelta

import asyncpg
import pytest
from temporalio.client import ScheduleActionStartWorkflow, ScheduleOverlapPolicy
from temporalio.service import RPCError

from customers.retention import RetentionSettingError, ensure_retention_schedule, retention_days
from tests.erasure.conftest import Stack, completed, request, until
from workflows.erase_customer import ErasureSummary, erase_workflow_id
from workflows.retention_sweep import SCHEDULE_ID, RetentionSweepWorkflow, Sweep

pytestmark = pytest.mark.slow  # a dev server; erasures wait for Temporal's deletion


def test_the_setting_is_a_whole_number_of_days_or_unset() -> None:
    assert retention_days("") is None and retention_days("30") == 30
    for bad in ("thirty", "-1", "1.5"):
        with pytest.raises(RetentionSettingError, match="RETURNS_PERSONAL_DATA_RETENTION_DAYS"):
            retention_days(bad)


async def test_the_schedule_follows_the_setting(stack: Stack) -> None:
    assert "unset" in await ensure_retention_schedule(stack.client, None, stack.task_queue)
    await ensure_retention_schedule(stack.client, 30, stack.task_queue)
    await ensure_retention_schedule(stack.client, 90, stack.task_queue)  # updated in place
    desc = await stack.client.get_schedule_handle(SCHEDULE_ID).describe()
    action = desc.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow) and action.workflow == "RetentionSweep"
    assert desc.schedule.spec.intervals[0].every == timedelta(days=1)
    assert desc.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
    assert desc.schedule.state.note is not None and "=90" in desc.schedule.state.note
    assert "deleted" in await ensure_retention_schedule(stack.client, None, stack.task_queue)
    with pytest.raises(RPCError):
        await stack.client.get_schedule_handle(SCHEDULE_ID).describe()


async def test_the_sweep_erases_customers_whose_cases_closed_long_enough_ago(stack: Stack) -> None:
    rc = stack.returns
    done, still_open = f"C-{uuid.uuid4().hex[:8]}", f"C-{uuid.uuid4().hex[:8]}"
    closed_case = request("headset", done, "Ria Retentie", "ria@example.test", "oud")
    await rc.submit(closed_case)
    await rc.cancel(closed_case["return_id"])
    await until(completed(stack, closed_case["return_id"]), what="case done")
    open_case = request("headset", still_open, "Otto Open", "otto@example.test", "loopt nog")
    await rc.submit(open_case)
    # Closed less than a day ago: a 1-day setting erases nobody of these two.
    quiet = await stack.client.execute_workflow(
        RetentionSweepWorkflow.run, Sweep(days=1), id=f"sweep-{uuid.uuid4()}", task_queue=stack.task_queue
    )
    assert done not in quiet.started and still_open not in quiet.started
    # Backdate the closed case: now it is past the setting; the open one never is.
    admin = await asyncpg.connect(stack.admin_dsn)
    try:
        await admin.execute(
            "update return_cases set closed_at = closed_at - interval '2 days',"
            " opened_at = opened_at - interval '3 days' where return_id = $1",
            closed_case["return_id"],
        )
    finally:
        await admin.close()
    swept = await stack.client.execute_workflow(
        RetentionSweepWorkflow.run, Sweep(days=1), id=f"sweep-{uuid.uuid4()}", task_queue=stack.task_queue
    )
    assert done in swept.started and still_open not in swept.started
    summary = await stack.client.get_workflow_handle(
        erase_workflow_id(done), result_type=ErasureSummary
    ).result()
    assert summary.actor == "retention" and "RETURNS_PERSONAL_DATA_RETENTION_DAYS=1" in summary.reason
    assert summary.return_ids == [closed_case["return_id"]]
    assert await stack.pool.fetchval("select count(*) from return_cases where customer_id = $1", done) == 0
    assert (
        await stack.pool.fetchval("select count(*) from return_cases where customer_id = $1", still_open) == 1
    )
