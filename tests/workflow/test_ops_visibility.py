"""What ops see and do in the Temporal UI: search attributes kept current, the one-line summary,
the Markdown details, NeedsAttention, and overrides sent as signals (validated, never dropped)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import WorkflowHandle, WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from activities.effects import EffectActivities
from domain.effects import Refund
from policies import DEFAULT_POLICY_FILE
from returns_client import ReturnsClient
from tests.time_skipping import own_env, own_returns, skip_time  # noqa: F401 (fixtures: a server of its own)
from tests.workflow.test_return_case import assert_consistent, ledger_count, toner
from worker import build_worker
from workflows.return_case import ReturnCaseWorkflow
from workflows.search_attributes import (
    CUSTOMER_ID,
    NEEDS_ATTENTION,
    ORDER_ID,
    RESOLUTION,
    RETURN_KIND,
    RETURN_STATUS,
    RETURN_TOTAL,
)


def handle(rc: ReturnsClient, return_id: str) -> WorkflowHandle[Any, Any]:
    return rc.client.get_workflow_handle(rc.case_id(return_id))


async def attributes(rc: ReturnsClient, return_id: str) -> dict[str, Any]:
    sa = (await handle(rc, return_id).describe()).typed_search_attributes
    keys = (RETURN_STATUS, RETURN_KIND, RESOLUTION, ORDER_ID, CUSTOMER_ID, RETURN_TOTAL, NEEDS_ATTENTION)
    return {k.name: sa.get(k) for k in keys}


async def details(rc: ReturnsClient, return_id: str) -> str:
    meta = await handle(rc, return_id).query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    return str(meta.current_details)


async def eventually(check: Callable[[], Awaitable[bool]], env: WorkflowEnvironment | None = None) -> None:
    for _ in range(100):
        if await check():
            return
        if env is not None:
            await env.sleep(timedelta(seconds=30))  # let retry back-off pass on the skipping clock
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


async def test_search_attributes_follow_the_case(returns: ReturnsClient) -> None:
    req = toner()
    rid = req["return_id"]
    await returns.submit(req)
    assert await attributes(returns, rid) == {
        "ReturnStatus": "awaiting_photos",
        "ReturnKind": "warranty",
        "Resolution": "refund",  # preferred in the request
        "OrderId": req["order"]["order_id"],
        "CustomerId": req["order"]["customer"]["id"],
        "ReturnTotal": 39.95,
        "NeedsAttention": False,
    }
    view = await returns.submit_photos(rid, "L1", ["printer-error.jpg"])
    assert (await attributes(returns, rid))["ReturnStatus"] == view.status == "resolved"
    other = toner(preferred_resolution=None)
    await returns.submit(other)
    assert (await attributes(returns, other["return_id"]))["Resolution"] is None
    await returns.choose_resolution(other["return_id"], "store_credit")
    assert (await attributes(returns, other["return_id"]))["Resolution"] == "store_credit"


async def test_list_summary_names_return_total_and_first_item(returns: ReturnsClient) -> None:
    req = toner()
    await returns.submit(req)
    summary = await (await handle(returns, req["return_id"]).describe()).static_summary()
    line = req["order"]["lines"][0]
    # The client sets it from the request; the kind is the worker's decision (ReturnKind).
    assert summary == f"{req['return_id']} · €39.95 · {line['name']}"


async def test_details_show_needs_with_instructions_then_quote_and_messages(returns: ReturnsClient) -> None:
    req = toner()
    rid = req["return_id"]
    await returns.submit(req)
    text = await details(returns, rid)
    assert f"## {rid} · warranty · awaiting_photos" in text
    assert "- photos: L1 " in text and "A photo of the error message or of the defect" in text
    await returns.submit_photos(rid, "L1", ["printer-error.jpg"])
    text = await details(returns, rid)
    assert "### Quote: €39.95 (refund)" in text and "- refunded €39.95" in text
    assert "- case_opened\n- case_resolved" in text
    assert "- nothing (closed" in text


async def test_override_by_signal_lands_in_overrides_and_flags_the_case(
    returns: ReturnsClient, session_pool: asyncpg.Pool
) -> None:
    req = toner()
    rid = req["return_id"]
    await returns.submit(req)
    await handle(returns, rid).signal(
        ReturnCaseWorkflow.request_override,
        {"action": "override", "type": "waive_photos", "actor": "ops:anna", "reason": "photo by phone"},
    )

    await handle(returns, rid).result()  # resolved, effects done, workflow closed
    view = await returns.status(rid)
    assert [(o.type, o.actor, o.reason) for o in view.overrides] == [
        ("waive_photos", "ops:anna", "photo by phone")
    ]
    assert (await attributes(returns, rid))["NeedsAttention"] is True
    assert "waive_photos by ops:anna: photo by phone" in await details(returns, rid)
    await assert_consistent(returns, session_pool, rid)


async def test_refused_override_signals_are_shown_not_dropped(returns: ReturnsClient) -> None:
    req = toner()
    rid = req["return_id"]
    await returns.submit(req)
    h = handle(returns, rid)
    await h.signal(
        ReturnCaseWorkflow.request_override, {"type": "waive_photos", "actor": "ops:bo", "reason": " "}
    )
    await h.signal(
        ReturnCaseWorkflow.request_override,
        {"type": "approve_inspection", "actor": "ops:bo", "reason": "scan lost"},
    )

    async def both_listed() -> bool:
        return (await details(returns, rid)).count("by ops:bo") == 2

    await eventually(both_listed)
    text = await details(returns, rid)
    assert "### Refused override signals" in text and "reason: is required for every override" in text
    assert "approve_inspection by ops:bo" in text
    view = await returns.status(rid)
    assert (view.status, view.overrides) == ("awaiting_photos", [])


async def test_refused_override_signals_keep_the_last_20_and_count_the_rest(returns: ReturnsClient) -> None:
    """A script sending a bad override in a loop must not grow the workflow's state without end."""
    req = toner()
    rid = req["return_id"]
    await returns.submit(req)
    h = handle(returns, rid)
    for n in range(23):
        bad = {"type": "approve_inspection", "actor": f"ops:{n}", "reason": "x"}  # not awaiting inspection
        await h.signal(ReturnCaseWorkflow.request_override, bad)

    async def last_listed() -> bool:
        return "by ops:22:" in await details(returns, rid)

    await eventually(last_listed)
    text = await details(returns, rid)
    listed = [line for line in text.splitlines() if "approve_inspection by ops:" in line]
    assert [line.split(" by ")[1].split(":")[1] for line in listed] == [str(n) for n in range(3, 23)]
    assert text.endswith("\n- and 3 earlier")


async def test_reminder_sets_needs_attention(env: WorkflowEnvironment, returns: ReturnsClient) -> None:
    req = toner()
    rid = req["return_id"]
    await returns.submit(req)
    await skip_time(env, timedelta(days=8))  # past the photo reminder, before expiry

    async def reminded() -> bool:
        return (await attributes(returns, rid))["NeedsAttention"] is True

    await eventually(reminded)
    assert "reminder sent: photos" in await details(returns, rid)


class FailingRefunds(EffectActivities):
    """A payment provider that is down until the test says it is back."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__(pool)
        self.up = False
        self.attempts = 0

    @activity.defn(name="refund")
    async def refund(self, e: Refund) -> bool:
        self.attempts += 1
        if not self.up:
            raise RuntimeError("payment provider unavailable")
        return await super().refund(e)


@pytest.mark.slow  # waits out retry back-off
async def test_failing_effect_flags_the_case_until_it_succeeds(
    env: WorkflowEnvironment, session_pool: asyncpg.Pool
) -> None:
    effects = FailingRefunds(session_pool)
    task_queue = f"failing-{uuid.uuid4()}"
    async with build_worker(env.client, session_pool, DEFAULT_POLICY_FILE, task_queue, effects=effects):
        rc = ReturnsClient(env.client, task_queue)
        req = toner()
        rid = req["return_id"]
        await rc.submit(req)
        photos = asyncio.create_task(rc.submit_photos(rid, "L1", ["printer-error.jpg"]))

        async def flagged() -> bool:
            return (await attributes(rc, rid))["NeedsAttention"] is True

        await eventually(flagged, env)
        assert "effect failing: Refund €39.95 to" in await details(rc, rid)
        assert await ledger_count(session_pool, "refunds", rid) == 0
        effects.up = True
        view = await photos
        assert (view.status, str(view.refunded)) == ("resolved", "39.95")
        assert (await attributes(rc, rid))["NeedsAttention"] is False
        assert "effect failing" not in await details(rc, rid)
        assert effects.attempts > 4
        assert await ledger_count(session_pool, "refunds", rid) == 1
        # The local first attempt failed; regular activities took over: four tries, then the
        # one that retries until the provider is back (the case flagged meanwhile).
        assert scheduled_activities(await handle(rc, rid).fetch_history()) == ["refund", "refund"]
        await assert_consistent(rc, session_pool, rid)


CHANGE_VERSION = "TemporalChangeVersion"  # the SDK's core upserts it with each patch a run asks for


def upserts_per_task(history: WorkflowHistory) -> list[tuple[int, int]]:
    """For each completed workflow task, its UpsertWorkflowSearchAttributes commands (they follow
    its WorkflowTaskCompleted event): (the service's own, the SDK's TemporalChangeVersion)."""
    counts: list[tuple[int, int]] = []
    for e in history.events:
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            counts.append((0, 0))
        elif e.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            assert counts, "an upsert before any workflow task completed"
            fields = e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
            ours, patches = counts[-1]
            counts[-1] = (ours, patches + 1) if set(fields) == {CHANGE_VERSION} else (ours + 1, patches)
    return counts


async def test_a_workflow_task_upserts_search_attributes_at_most_once(returns: ReturnsClient) -> None:
    """Opening the case (its opening batch and the case_opened message in one task) and
    resolving it (the photos, the resolution, then the refund's done batch and its message)
    change the attributes several times per task; ops see each task's end state, one upsert.
    The run asks for one patch (workflows/return_case.py, _patched): one TemporalChangeVersion
    upsert, not one per patch the code has."""
    req = toner()
    rid = req["return_id"]
    await returns.submit(req)
    await returns.submit_photos(rid, "L1", ["printer-error.jpg"])
    await handle(returns, rid).result()  # resolved, refunded, closed
    counts = upserts_per_task(await handle(returns, rid).fetch_history())
    ours = [c[0] for c in counts]
    assert max(ours) == 1 and sum(ours) >= 2, counts  # opened; resolved with the refund pending
    assert sum(c[1] for c in counts) == 1, counts
    assert (await attributes(returns, rid))["ReturnStatus"] == "resolved"


def scheduled_activities(history: WorkflowHistory) -> list[str]:
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]


async def test_an_effect_that_succeeds_at_once_runs_inside_the_workflow_task(
    returns: ReturnsClient, session_pool: asyncpg.Pool
) -> None:
    """Patch effects-local-first: the refund's first attempt is a local activity (a marker in the
    history), so the case schedules no activity task; the refund happens once all the same."""
    req = toner()
    rid = req["return_id"]
    await returns.submit(req)
    await returns.submit_photos(rid, "L1", ["printer-error.jpg"])
    await handle(returns, rid).result()
    history = await handle(returns, rid).fetch_history()
    assert scheduled_activities(history) == []
    assert await ledger_count(session_pool, "refunds", rid) == 1
