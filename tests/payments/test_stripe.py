"""Refunds at Stripe, against localstripe running as a real server (conftest.py): the workflow on
a time-skipping server, the real activities, the Stripe adapter for payment method `card`."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.effects import EffectActivities
from domain.effects import Refund
from payments.ledger import LedgerProvider
from payments.settings import PaymentProviders
from payments.stripe_adapter import StripeProvider
from policies import DEFAULT_POLICY_FILE
from replay.histories import replay
from returns_client import ReturnsClient
from stack.embedded import time_skipping_server
from store import ledgers
from store.read_model import get_case
from tests.payments.conftest import KEY, LocalStripe
from tests.time_skipping import own_env, own_returns, skip_time  # noqa: F401 (fixtures: a server of its own)
from tests.workflow.test_ops_visibility import details
from tests.workflow.test_return_case import assert_consistent, toner
from worker import build_worker

pytestmark = pytest.mark.slow  # a time-skipping server of its own, and refusals waited out


@dataclass
class Service:
    env: WorkflowEnvironment
    returns: ReturnsClient
    pool: asyncpg.Pool


@pytest.fixture(scope="module")
async def stripe_service(localstripe: LocalStripe, session_pool: asyncpg.Pool) -> AsyncIterator[Service]:
    """A worker whose `card` refunds go to localstripe (the rest to the ledger), on a server of
    its own: a refused case stays open, waiting for ops."""
    providers = PaymentProviders({"card": StripeProvider(KEY, localstripe.base), "*": LedgerProvider()})
    effects = EffectActivities(session_pool, payments=providers)
    task_queue = f"stripe-{uuid.uuid4()}"
    async with (
        time_skipping_server() as env,
        build_worker(env.client, session_pool, DEFAULT_POLICY_FILE, task_queue, effects=effects),
    ):
        yield Service(env, ReturnsClient(env.client, task_queue), session_pool)


def paid_by_card(reference: str) -> dict[str, Any]:
    """The seed toner (€39.95, refund once the photo is in), paid by card at Stripe."""
    req = toner()
    req["order"]["payment"] = {"method": "card", "reference": reference}
    return req


async def test_refund_at_stripe_is_the_quote_once_with_its_key(
    stripe_service: Service, localstripe: LocalStripe
) -> None:
    pi = localstripe.paid(3995)
    req = paid_by_card(pi)
    rid = req["return_id"]
    rc = stripe_service.returns
    await rc.submit(req)
    view = await rc.submit_photos(rid, "L1", ["printer-error.jpg"])
    assert (view.status, view.refunded) == ("resolved", Decimal("39.95"))

    at_stripe = localstripe.refunds(pi)
    assert len(at_stripe) == 1
    refund = at_stripe[0]
    assert (refund["amount"], refund["currency"], refund["status"]) == (3995, "eur", "succeeded")
    [row] = await ledgers.refunds_of(stripe_service.pool, rid)
    assert refund["metadata"] == {"return_id": rid, "effect_key": row.key}
    assert (row.provider, row.provider_refund_id, row.status) == ("stripe", refund["id"], "succeeded")
    assert (row.amount, row.payment_method, row.payment_reference) == (Decimal("39.95"), "card", pi)
    await assert_consistent(rc, stripe_service.pool, rid)


async def test_a_second_attempt_finds_the_refund_instead_of_making_another(
    stripe_service: Service, localstripe: LocalStripe
) -> None:
    """The answer of the first call is lost (a crash): the retry looks the key up at Stripe."""
    pi = localstripe.paid(5000)
    provider = StripeProvider(KEY, localstripe.base)
    effect = Refund(
        key=f"refund-{uuid.uuid4()}",
        return_id="R-LOST",
        amount=Decimal("12.34"),
        payment_method="card",
        payment_reference=pi,
    )
    first = await provider.refund(effect)
    creates = localstripe.calls()
    again = await provider.refund(effect)
    assert again == first
    assert localstripe.calls() == creates  # looked up, not created
    assert [r["amount"] for r in localstripe.refunds(pi)] == [1234]


async def test_a_refused_refund_flags_the_case_and_waits_for_ops(
    stripe_service: Service, localstripe: LocalStripe
) -> None:
    """Paid €10.00, quoted €39.95: Stripe (localstripe) refuses; the case shows its message, the
    read model flags it, the provider is not called again until ops retry, and then once more."""
    pi = localstripe.paid(1000)
    req = paid_by_card(pi)
    rid = req["return_id"]
    rc, env, pool = stripe_service.returns, stripe_service.env, stripe_service.pool
    await rc.submit(req)
    before = localstripe.calls()
    photos = asyncio.create_task(rc.submit_photos(rid, "L1", ["printer-error.jpg"]))
    try:
        message = "Refund amount (€39.95) is greater than charge amount (€10.00)"

        async def flagged() -> bool:
            return message in await details(rc, rid)

        await until(flagged)
        shown = await details(rc, rid)
        assert "effect failing: Refund €39.95 to card" in shown and "refused" in shown
        row = await get_case(pool, rid)
        assert row is not None and row.needs_attention
        assert "refund refused by the payment provider" in row.attention  # the ops overview's why
        assert localstripe.calls() - before == 1  # non-retryable: one call, no retry back-off

        await skip_time(env, timedelta(hours=6))  # any retry timer would have fired by now
        assert localstripe.calls() - before == 1
        assert localstripe.refunds(pi) == []
        assert await ledgers.refunds_of(pool, rid) == []
        assert not photos.done()

        await rc.retry_effects(rid)  # ops (nothing fixed at the provider: refused again)

        async def tried_again() -> bool:
            return localstripe.calls() - before == 2 and message in await details(rc, rid)

        await until(tried_again)
        await skip_time(env, timedelta(hours=6))
        assert localstripe.calls() - before == 2
        assert localstripe.refunds(pi) == []

        # The refusal, the wait and ops' retry replay as recorded (the payment-refusals patch).
        history = await rc.client.get_workflow_handle(rc.case_id(rid)).fetch_history()
        assert [v.failure async for v in replay([history])] == [None]
    finally:
        photos.cancel()


async def test_after_ops_fix_it_at_the_provider_their_retry_refunds_and_clears_the_flag(
    stripe_service: Service, localstripe: LocalStripe
) -> None:
    """Stripe refuses to refund a payment that has not succeeded; ops see why, the payment is
    completed at Stripe, ops retry: the refund is made once, the case resolves, the flags clear."""
    pi = localstripe.unpaid(3995)
    req = paid_by_card(pi)
    rid = req["return_id"]
    rc, pool = stripe_service.returns, stripe_service.pool
    await rc.submit(req)
    photos = asyncio.create_task(rc.submit_photos(rid, "L1", ["printer-error.jpg"]))
    try:

        async def flagged() -> bool:
            return "refused: stripe: Cannot refund a failed payment." in await details(rc, rid)

        await until(flagged)
        row = await get_case(pool, rid)
        assert row is not None and row.needs_attention

        localstripe.pay(pi)  # fixed at the provider
        await rc.retry_effects(rid)
        view = await asyncio.wait_for(photos, 60)
    finally:
        photos.cancel()
    assert (view.status, view.refunded) == ("resolved", Decimal("39.95"))
    [refund] = localstripe.refunds(pi)
    assert refund["amount"] == 3995
    [ledger] = await ledgers.refunds_of(pool, rid)
    assert ledger.provider_refund_id == refund["id"]
    assert "effect failing" not in await details(rc, rid)
    row = await get_case(pool, rid)
    assert row is not None and not row.needs_attention
    await assert_consistent(rc, pool, rid)


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 60) -> None:
    """Poll `check` until it holds, within a deadline."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.1)
