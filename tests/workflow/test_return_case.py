"""The ReturnCase workflow on the time-skipping server with the real activities and PostgreSQL."""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from activities.event_store import fold_stored, row_of_stream
from domain.request import InvalidRequest, parse_request
from domain.view import case_view
from returns_client import CaseNotFound, Refused, ReturnsClient
from returns_client.client import SUBMITTED_BY
from store import ledgers
from store.event_store import EventStore
from store.personal_data import PersonalData
from store.read_model import get_case
from tests.time_skipping import own_env, own_returns, skip_time  # noqa: F401 (fixtures: a server of its own)
from workflows import interface as wf
from workflows.return_case import event_id

ROOT = Path(__file__).resolve().parents[2]
TONER = json.loads((ROOT / "examples" / "toner.json").read_text())


def toner(**changes: Any) -> dict[str, Any]:
    """The seed toner request under a fresh return_id (warranty, one photo, refund preferred)."""
    r: dict[str, Any] = copy.deepcopy(TONER)
    r["return_id"] = f"R-{uuid.uuid4().hex[:10]}"
    r["requested_at"] = "2026-10-20T09:00:00+02:00"
    r.update(changes)
    return r


def shipped_toner(**changes: Any) -> dict[str, Any]:
    """A toner above returnless_below, so it is shipped and inspected."""
    r = toner(**changes)
    r["order"]["lines"][0]["unit_price"] = "89.00"
    return r


async def assert_consistent(rc: ReturnsClient, pool: asyncpg.Pool, return_id: str) -> None:
    """The stored events fold to exactly the workflow's view, and the read model follows them."""
    events = await EventStore(pool).read_stream(rc.case_id(return_id))
    folded = fold_stored(events)
    assert folded is not None
    assert case_view(folded) == await rc.status(return_id)
    row = await get_case(pool, return_id)
    expected = row_of_stream(events)
    assert row is not None and expected is not None
    assert row.status == expected.status and row.stream_version == len(events)
    assert row.customer_messages == expected.customer_messages and row.refunded == expected.refunded
    # Each event's id is its run's at its version, so a redecided batch finds its recorded place.
    run_id = (await rc.client.get_workflow_handle(rc.case_id(return_id)).describe()).run_id
    assert [e.event_id for e in events] == [event_id(run_id, e.stream_version) for e in events]


async def ledger_count(pool: asyncpg.Pool, table: str, return_id: str) -> int:
    return int(await pool.fetchval(f"select count(*) from {table} where return_id = $1", return_id))


async def test_submit_answers_classified_view_with_first_message(
    returns: ReturnsClient, session_pool: asyncpg.Pool
) -> None:
    req = toner()
    view = await returns.submit(req)
    assert (view.status, view.kind, view.pending) == ("awaiting_photos", "warranty", ["photos"])
    assert view.items[0].photo_instructions == ["A photo of the error message or of the defect"]
    assert view.customer_messages == ["case_opened"]
    assert view.quote.total == view.quote.gross
    [message] = await ledgers.messages(
        session_pool, PersonalData.from_env(session_pool), return_id=req["return_id"]
    )
    assert message.template == "case_opened" and "foto" in message.text.lower()
    assert message.email == req["order"]["customer"]["email"]
    await assert_consistent(returns, session_pool, req["return_id"])


async def test_same_return_id_gives_the_same_case(returns: ReturnsClient, session_pool: asyncpg.Pool) -> None:
    req = toner()
    views = await asyncio.gather(*(returns.submit(req) for _ in range(20)))
    assert len({v.model_dump_json() for v in views}) == 1
    events = await EventStore(session_pool).read_stream(returns.case_id(req["return_id"]))
    assert [e.type for e in events] == ["case_assessed", "message_sent"]
    assert await ledger_count(session_pool, "outbox", req["return_id"]) == 1


async def test_closed_case_is_answered_not_restarted(
    returns: ReturnsClient, session_pool: asyncpg.Pool
) -> None:
    req = toner()
    await returns.submit(req)
    await returns.cancel(req["return_id"])
    handle = returns.client.get_workflow_handle(returns.case_id(req["return_id"]))
    await handle.result()
    again = await returns.submit(req)
    assert again.status == "cancelled"
    with pytest.raises(Refused, match=r"status cancelled"):
        await returns.submit_photos(req["return_id"], "L1", ["late.jpg"])


async def test_a_submit_whose_answer_was_lost_still_says_it_started_the_case(returns: ReturnsClient) -> None:
    """Under load an update-with-start can start the case and its answer miss the RPC deadline;
    the retry (the same update id) finds the case, and the API answered 200 for a new case. The
    lost attempt is played by a start under this submit's id; another submit is not the start."""
    req = toner()
    update_id = f"submit-{uuid.uuid4()}"
    await returns.client.start_workflow(
        wf.WORKFLOW,
        wf.StartCase(request=parse_request(req)),
        id=returns.case_id(req["return_id"]),
        task_queue=returns.task_queue,
        memo={SUBMITTED_BY: update_id},
    )
    view, started = await returns.submit_case(req, update_id)
    assert started and view.status == "awaiting_photos"
    again, started = await returns.submit_case(req)
    assert not started and again == view


async def test_invalid_request_starts_nothing(returns: ReturnsClient, session_pool: asyncpg.Pool) -> None:
    req = toner()
    req["items"][0]["quantity"] = 5
    with pytest.raises(InvalidRequest, match=r"items\[0\]\.quantity"):
        await returns.submit(req)
    with pytest.raises(CaseNotFound):
        await returns.status(req["return_id"])
    assert await EventStore(session_pool).read_stream(returns.case_id(req["return_id"])) == []


async def test_refused_action_changes_nothing(returns: ReturnsClient, session_pool: asyncpg.Pool) -> None:
    req = toner()
    await returns.submit(req)
    before = await EventStore(session_pool).read_stream(returns.case_id(req["return_id"]))
    with pytest.raises(Refused, match=r"parcel_received refused .*status awaiting_photos"):
        await returns.parcel_received(req["return_id"])
    with pytest.raises(Refused, match=r"replacement|not allowed|line"):
        await returns.submit_photos(req["return_id"], "L9", ["x.jpg"])
    with pytest.raises(Refused, match=r"actor"):
        await returns.override(req["return_id"], "waive_photos", actor=" ", reason="r")
    after = await EventStore(session_pool).read_stream(returns.case_id(req["return_id"]))
    assert after == before


async def test_photos_then_refund_exactly_once(returns: ReturnsClient, session_pool: asyncpg.Pool) -> None:
    req = toner()
    await returns.submit(req)
    view = await returns.submit_photos(req["return_id"], "L1", ["printer-error.jpg"])
    assert (view.status, str(view.refunded), view.customer_messages) == (
        "resolved",
        "39.95",
        ["case_opened", "case_resolved"],
    )
    row = await session_pool.fetchrow(
        "select amount, payment_method, payment_reference from refunds where return_id = $1", req["return_id"]
    )
    assert (str(row["amount"]), row["payment_method"], row["payment_reference"]) == (
        "39.95",
        "ideal",
        "tr_toner",
    )
    assert await ledger_count(session_pool, "refunds", req["return_id"]) == 1
    assert await ledger_count(session_pool, "store_credits", req["return_id"]) == 0
    await assert_consistent(returns, session_pool, req["return_id"])


async def test_store_credit_stays_store_credit(returns: ReturnsClient, session_pool: asyncpg.Pool) -> None:
    req = toner(preferred_resolution=None)
    view = await returns.submit(req)
    assert view.pending == ["photos", "choice"]
    await returns.choose_resolution(req["return_id"], "store_credit")
    view = await returns.submit_photos(req["return_id"], "L1", ["p.jpg"])
    assert (str(view.store_credit), str(view.refunded)) == ("39.95", "0.00")
    assert await ledger_count(session_pool, "refunds", req["return_id"]) == 0
    assert await ledger_count(session_pool, "store_credits", req["return_id"]) == 1
    await assert_consistent(returns, session_pool, req["return_id"])


async def _sleep_days(env: WorkflowEnvironment, days: float) -> None:
    await skip_time(env, timedelta(days=days))


async def test_photo_reminder_then_expiry(
    returns: ReturnsClient, env: WorkflowEnvironment, session_pool: asyncpg.Pool
) -> None:
    req = toner()
    await returns.submit(req)
    await _sleep_days(env, 7.1)
    assert (await returns.status(req["return_id"])).customer_messages == ["case_opened", "reminder"]
    await _sleep_days(env, 7)
    view = await returns.status(req["return_id"])
    assert (view.status, view.customer_messages) == ("expired", ["case_opened", "reminder", "case_expired"])
    await assert_consistent(returns, session_pool, req["return_id"])


async def test_choice_defaults_to_refund_and_inspection_auto_approves(
    returns: ReturnsClient, env: WorkflowEnvironment, session_pool: asyncpg.Pool
) -> None:
    req = shipped_toner(preferred_resolution=None)
    await returns.submit(req)
    await returns.submit_photos(req["return_id"], "L1", ["p.jpg"])
    await returns.parcel_received(req["return_id"])
    assert (await returns.status(req["return_id"])).pending == ["choice", "inspection"]
    await _sleep_days(env, 5.1)  # inspection not reported: approved automatically
    assert (await returns.status(req["return_id"])).pending == ["choice"]
    await _sleep_days(env, 9)  # no choice in 14 days: the legal default
    view = await returns.status(req["return_id"])
    assert (view.status, view.resolution, str(view.refunded)) == ("resolved", "refund", "89.00")
    assert view.customer_messages == ["case_opened", "reminder", "case_resolved"]
    events = [e.type for e in await EventStore(session_pool).read_stream(returns.case_id(req["return_id"]))]
    assert "resolution_defaulted" in events and events.count("refund_issued") == 1
    await assert_consistent(returns, session_pool, req["return_id"])


async def test_failed_inspection_then_ops_accept(returns: ReturnsClient, session_pool: asyncpg.Pool) -> None:
    req = shipped_toner()
    await returns.submit(req)
    await returns.override(req["return_id"], "waive_photos", actor="ops:anna", reason="photo by phone")
    await returns.parcel_received(req["return_id"])
    view = await returns.inspection_result(req["return_id"], passed=False, note="toner tampered")
    assert (view.status, view.customer_messages[-1]) == ("rejected", "inspection_failed")
    view = await returns.override(
        req["return_id"], "accept", actor="ops:anna", reason="goodwill", kind="warranty"
    )
    assert (view.status, str(view.refunded)) == ("resolved", "89.00")
    assert [o.type for o in view.overrides] == ["waive_photos", "accept"]
    assert view.overrides[1].actor == "ops:anna" and view.overrides[1].reason == "goodwill"
    await assert_consistent(returns, session_pool, req["return_id"])


async def test_rejected_case_closes_after_appeal_window(
    returns: ReturnsClient, env: WorkflowEnvironment, session_pool: asyncpg.Pool
) -> None:
    req = toner()
    req["order"]["delivered_at"] = "2020-01-02T12:00:00+01:00"  # far out of guarantee
    view = await returns.submit(req)
    assert (view.status, view.kind, view.customer_messages) == ("rejected", "rejected", ["case_rejected"])
    assert view.items[0].rule == "fault-out-of-guarantee"
    await _sleep_days(env, 14.1)
    handle = returns.client.get_workflow_handle(returns.case_id(req["return_id"]))
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    with pytest.raises(Refused, match="closed"):
        await returns.override(req["return_id"], "accept", actor="ops", reason="late", kind="warranty")
    await assert_consistent(returns, session_pool, req["return_id"])
