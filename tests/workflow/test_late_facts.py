"""returns_client.late.tell_case on the real workflow (time-skipping server) and PostgreSQL: a
running case takes the fact through its `record_fact` update, a completed one through an append
to its stored stream; either way the stream, the read model and the view show it, a refused fact
changes nothing, and the same fact again is recorded once."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from activities.event_store import fold_stored
from domain import commands as cmd
from domain.view import case_view
from returns_client import CaseNotFound, Refused, ReturnsClient
from returns_client.late import record_fact, tell_case
from store.event_store import EventStore
from store.read_model import get_case
from tests.workflow.test_return_case import toner
from workflows.return_case import event_id


def resolved_at_intake(preferred: str) -> dict[str, Any]:
    """The toner with its photo in the request: returnless, resolved at intake with `preferred`."""
    r = toner(preferred_resolution=preferred)
    r["items"][0]["photos"] = ["toner-error.jpg"]
    return r


async def completed(rc: ReturnsClient, preferred: str) -> str:
    req = resolved_at_intake(preferred)
    view = await rc.submit(req)
    assert view.status == "resolved" and view.resolution == preferred
    await rc.client.get_workflow_handle(rc.case_id(req["return_id"])).result()  # effects done, ended
    return str(req["return_id"])


async def stream_types(rc: ReturnsClient, pool: asyncpg.Pool, return_id: str) -> list[str]:
    return [e.type for e in await EventStore(pool).read_stream(rc.case_id(return_id))]


def failed(return_id: str, template: str = "case_opened") -> cmd.MessageFailed:
    return cmd.MessageFailed(
        key=f"return-{return_id}:1:message:{template}",
        template=template,
        reason="550 5.1.1 mailbox unavailable",
    )


async def test_a_running_case_takes_the_fact_through_its_workflow(
    returns: ReturnsClient, session_pool: asyncpg.Pool
) -> None:
    req = toner()  # awaiting its photo: the workflow runs
    rid = req["return_id"]
    assert (await returns.submit(req)).status == "awaiting_photos"
    view = await record_fact(returns.client, session_pool, rid, failed(rid))
    assert [(f.template, f.reason) for f in view.failed_messages] == [
        ("case_opened", "550 5.1.1 mailbox unavailable")
    ]
    assert view.status == "awaiting_photos"
    assert (await returns.status(rid)).failed_messages == view.failed_messages  # the workflow's state
    events = await EventStore(session_pool).read_stream(returns.case_id(rid))
    assert events[-1].type == "message_failed"
    # Appended by the workflow itself: its event id is its run's at that version.
    run_id = (await returns.client.get_workflow_handle(returns.case_id(rid)).describe()).run_id
    assert events[-1].event_id == event_id(run_id, events[-1].stream_version)
    row = await get_case(session_pool, rid)
    assert row is not None and row.needs_attention and row.stream_version == len(events)
    # The same fact again: recorded once.
    await tell_case(returns.client, session_pool, rid, failed(rid))
    assert (await stream_types(returns, session_pool, rid)).count("message_failed") == 1


async def test_a_running_case_refuses_a_fact_it_does_not_take(
    returns: ReturnsClient, session_pool: asyncpg.Pool
) -> None:
    req = toner()
    rid = req["return_id"]
    await returns.submit(req)
    before = await stream_types(returns, session_pool, rid)
    with pytest.raises(Refused, match=r"replacement_order refused for .* not resolved with a replacement"):
        await tell_case(returns.client, session_pool, rid, cmd.ConfirmReplacementOrder(order_id="SHOP-1"))
    assert await stream_types(returns, session_pool, rid) == before
    assert (await returns.status(rid)).replacement_order_id is None


async def test_a_completed_case_takes_the_shops_replacement_order_once(
    returns: ReturnsClient, session_pool: asyncpg.Pool
) -> None:
    rid = await completed(returns, "replacement")
    before = await stream_types(returns, session_pool, rid)
    assert "replacement_ordered" in before

    view = await record_fact(
        returns.client, session_pool, rid, cmd.ConfirmReplacementOrder(order_id="SHOP-9001")
    )
    assert view.replacement_order_id == "SHOP-9001" and view.status == "resolved"
    events = await EventStore(session_pool).read_stream(returns.case_id(rid))
    assert [e.type for e in events] == [*before, "replacement_order_confirmed"]
    # Appended by tell_case, not by a run of the workflow (which has ended).
    run_id = (await returns.client.get_workflow_handle(returns.case_id(rid)).describe()).run_id
    assert events[-1].event_id != event_id(run_id, events[-1].stream_version)
    folded = fold_stored(events)
    assert folded is not None and case_view(folded) == view
    row = await get_case(session_pool, rid)
    assert row is not None and row.stream_version == len(events) and row.status == "resolved"

    # The same id again changes nothing; another is refused and changes nothing.
    await tell_case(returns.client, session_pool, rid, cmd.ConfirmReplacementOrder(order_id="SHOP-9001"))
    with pytest.raises(Refused, match="already confirmed as SHOP-9001"):
        await tell_case(returns.client, session_pool, rid, cmd.ConfirmReplacementOrder(order_id="SHOP-2"))
    assert len(await stream_types(returns, session_pool, rid)) == len(events)


async def test_a_completed_case_refuses_a_replacement_order_it_was_not_resolved_with(
    returns: ReturnsClient, session_pool: asyncpg.Pool
) -> None:
    rid = await completed(returns, "refund")
    before = await stream_types(returns, session_pool, rid)
    row_before = await get_case(session_pool, rid)
    with pytest.raises(Refused, match=r"\(status resolved\): the case was not resolved with a replacement"):
        await tell_case(returns.client, session_pool, rid, cmd.ConfirmReplacementOrder(order_id="SHOP-1"))
    assert await stream_types(returns, session_pool, rid) == before
    assert await get_case(session_pool, rid) == row_before


async def test_a_failed_message_on_a_completed_case_flags_it_in_the_read_model(
    returns: ReturnsClient, session_pool: asyncpg.Pool
) -> None:
    rid = await completed(returns, "refund")
    row = await get_case(session_pool, rid)
    assert row is not None and not row.needs_attention and row.closed_at is not None
    await tell_case(returns.client, session_pool, rid, failed(rid, "case_resolved"))
    await tell_case(returns.client, session_pool, rid, failed(rid, "case_resolved"))  # a relay's retry
    row = await get_case(session_pool, rid)
    assert row is not None and row.needs_attention and row.status == "resolved"
    assert (await stream_types(returns, session_pool, rid)).count("message_failed") == 1


async def test_an_unknown_case_is_not_found(returns: ReturnsClient, session_pool: asyncpg.Pool) -> None:
    with pytest.raises(CaseNotFound):
        await tell_case(returns.client, session_pool, "R-NO-SUCH-CASE", failed("R-NO-SUCH-CASE"))
