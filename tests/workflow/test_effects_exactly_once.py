"""A worker that dies between an effect and its record retries it; the ledger key makes it once."""

from __future__ import annotations

import uuid

import asyncpg
from temporalio import activity
from temporalio.testing import WorkflowEnvironment

from activities.effects import EffectActivities
from domain.effects import CustomerMessage, Refund
from policies import DEFAULT_POLICY_FILE
from returns_client import ReturnsClient
from store.event_store import EventStore
from tests.workflow.test_return_case import assert_consistent, ledger_count, toner
from worker import build_worker


class DiesAfterEffect(EffectActivities):
    """The provider accepted the refund and the e-mail, then the attempt failed before answering."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__(pool)
        self.died: list[str] = []

    async def _die_once(self, key: str) -> None:
        if key not in self.died:
            self.died.append(key)
            raise RuntimeError("worker died after the effect, before recording it")

    @activity.defn(name="refund")
    async def refund(self, e: Refund) -> bool:
        created = await super().refund(e)
        await self._die_once(e.key)
        return created

    @activity.defn(name="send_message")
    async def send_message(self, e: CustomerMessage) -> bool:
        created = await super().send_message(e)
        await self._die_once(e.key)
        return created


async def test_retried_effects_happen_once(env: WorkflowEnvironment, session_pool: asyncpg.Pool) -> None:
    effects = DiesAfterEffect(session_pool)
    task_queue = f"dies-{uuid.uuid4()}"
    async with build_worker(env.client, session_pool, DEFAULT_POLICY_FILE, task_queue, effects=effects):
        rc = ReturnsClient(env.client, task_queue)
        req = toner()
        await rc.submit(req)
        view = await rc.submit_photos(req["return_id"], "L1", ["printer-error.jpg"])
        await assert_consistent(rc, session_pool, req["return_id"])

    # The refund; messages are no activity (message-outbox): they go with their batch's append.
    assert [key.rsplit(":", 1)[-1] for key in effects.died] == ["refund"]
    assert (view.status, str(view.refunded)) == ("resolved", str(view.quote.total))
    assert view.customer_messages == ["case_opened", "case_resolved"]
    assert await ledger_count(session_pool, "refunds", req["return_id"]) == 1
    assert await ledger_count(session_pool, "outbox", req["return_id"]) == 2
    events = [e.type for e in await EventStore(session_pool).read_stream(rc.case_id(req["return_id"]))]
    assert events.count("refund_issued") == 1 and events.count("message_sent") == 2
