"""Contract 7.1 on the workflow: the repair order placed exactly once, repair_completed resolving
with nothing paid, refused actions changing nothing, an overdue repair flagged for ops, and ops
setting another resolution while the case awaits repair."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from temporalio import activity
from temporalio.testing import WorkflowEnvironment

from activities.effects import EffectActivities
from domain.effects import RepairOrder
from policies import DEFAULT_POLICY_FILE
from returns_client import Refused, ReturnsClient
from store import ledgers
from store.event_store import EventStore
from store.personal_data import PersonalData
from tests.time_skipping import own_env, own_returns, skip_time  # noqa: F401 (fixtures: a server of its own)
from tests.workflow.test_ops_visibility import attributes, details, eventually
from tests.workflow.test_return_case import assert_consistent, ledger_count, toner
from worker import build_worker


def printer(**changes: Any) -> dict[str, Any]:
    """A printer of 229.00 under guarantee, ordered after 31 July 2026: shipped and inspected,
    its one photo given with the form, repair preferred."""
    r = toner(preferred_resolution="repair", **changes)
    r["order"]["lines"][0].update(category="printers", unit_price="229.00", name="HP LaserJet Pro M404dn")
    r["items"][0]["photos"] = ["storing.jpg"]
    return r


async def stream(rc: ReturnsClient, pool: asyncpg.Pool, return_id: str) -> list[str]:
    return [e.type for e in await EventStore(pool).read_stream(rc.case_id(return_id))]


async def to_awaiting_repair(rc: ReturnsClient, req: dict[str, Any]) -> None:
    view = await rc.submit(req)
    assert view.allowed_resolutions == ["repair", "replacement", "refund", "store_credit"]
    assert view.resolution == "repair"
    await rc.parcel_received(req["return_id"])
    view = await rc.inspection_result(req["return_id"], passed=True, note="fuser")
    assert (view.status, view.pending) == ("awaiting_repair", ["repair"])


SET_REPAIR = {"type": "set_resolution", "resolution": "repair", "actor": "ops:a", "reason": "r"}


class DiesAfterRepairOrder(EffectActivities):
    """The repair shop took the order, then the attempt failed before answering."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__(pool)
        self.attempts = 0

    @activity.defn(name="order_repair")
    async def order_repair(self, e: RepairOrder) -> bool:
        self.attempts += 1
        created = await super().order_repair(e)
        if self.attempts == 1:
            raise RuntimeError("worker died after the repair order, before recording it")
        return created


async def test_the_repair_order_is_placed_once_and_repair_completed_resolves_paying_nothing(
    env: WorkflowEnvironment, session_pool: asyncpg.Pool
) -> None:
    effects = DiesAfterRepairOrder(session_pool)
    task_queue = f"repair-{uuid.uuid4()}"
    async with build_worker(env.client, session_pool, DEFAULT_POLICY_FILE, task_queue, effects=effects):
        rc = ReturnsClient(env.client, task_queue)
        req = printer()
        rid = req["return_id"]
        await to_awaiting_repair(rc, req)
        assert effects.attempts == 2  # the retry found the ledger row
        assert await ledger_count(session_pool, "repair_orders", rid) == 1
        assert (await attributes(rc, rid))["ReturnStatus"] == "awaiting_repair"
        assert "### Repair order" in await details(rc, rid)

        view = await rc.repair_completed(rid, note="fuser vervangen")
        assert (view.status, view.resolution, view.pending) == ("resolved", "repair", [])
        assert (str(view.refunded), str(view.store_credit), view.replaced) == ("0.00", "0.00", [])
        assert str(view.items[0].guarantee_until) == "2029-09-08"  # 2026-09-08 + 24 + 12 months
        assert view.customer_messages == ["case_opened", "case_resolved"]
        await assert_consistent(rc, session_pool, rid)
    events = await stream(rc, session_pool, rid)
    assert events.count("repair_order_placed") == events.count("repair_ordered") == 1
    for table in ("refunds", "store_credits", "replacement_orders"):
        assert await ledger_count(session_pool, table, rid) == 0
    # The outbox seals the text under the customer's key (store/personal_data.py).
    sent = await ledgers.messages(session_pool, PersonalData.from_env(session_pool), return_id=rid)
    text = next(m.text for m in sent if m.template == "case_opened")
    assert "kiezen tussen reparatie en vervanging" in text and "12 maanden" in text


@pytest.mark.parametrize(
    ("action", "args", "why"),
    [
        ("choose_resolution", {"resolution": "refund"}, "the repair order has been placed"),
        ("cancel", {}, "the repair order has been placed"),
        ("override", SET_REPAIR, "already been placed"),
    ],
)
async def test_actions_refused_while_awaiting_repair_change_nothing(
    returns: ReturnsClient, session_pool: asyncpg.Pool, action: str, args: dict[str, Any], why: str
) -> None:
    req = printer()
    rid = req["return_id"]
    await returns.submit(req)
    with pytest.raises(Refused, match=r"status awaiting_parcel.*not awaiting repair"):
        await returns.repair_completed(rid)
    await returns.parcel_received(rid)
    await returns.inspection_result(rid, passed=True)
    before = await stream(returns, session_pool, rid)
    with pytest.raises(Refused, match=rf"status awaiting_repair.*{why}"):
        await returns.act(rid, action, args)
    assert await stream(returns, session_pool, rid) == before
    assert (await returns.status(rid)).status == "awaiting_repair"


async def test_an_overdue_repair_needs_attention_and_ops_set_refund_pays_at_once(
    env: WorkflowEnvironment, returns: ReturnsClient, session_pool: asyncpg.Pool
) -> None:
    req = printer()
    rid = req["return_id"]
    await to_awaiting_repair(returns, req)
    assert (await attributes(returns, rid))["NeedsAttention"] is False
    await skip_time(env, timedelta(days=31))

    async def flagged() -> bool:
        return (await attributes(returns, rid))["NeedsAttention"] is True

    await eventually(flagged)
    assert "repair overdue: not completed within 30 days" in await details(returns, rid)
    assert (await returns.status(rid)).status == "awaiting_repair"

    view = await returns.override(
        rid, "set_resolution", actor="ops:anna", reason="no answer", resolution="refund"
    )
    assert (view.status, view.resolution, str(view.refunded)) == ("resolved", "refund", "229.00")
    assert await ledger_count(session_pool, "refunds", rid) == 1
    assert await ledger_count(session_pool, "repair_orders", rid) == 1
    events = await stream(returns, session_pool, rid)
    assert events.count("repair_overdue") == 1
    assert events[-3:] == ["case_resolved", "refund_issued", "message_sent"]
    await assert_consistent(returns, session_pool, rid)
