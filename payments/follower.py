"""The refund follower: asks the payment provider for the status of each refund it made until that
status is final, records it in the `refunds` ledger, and flags the case for ops when the refund
ended failed or canceled (the customer did not get the money).

It runs beside the worker (worker.py), as the mail relay does, and needs no workflow: the case is
resolved when the provider accepted the refund; what happens to it afterwards is the provider's.

- Due: a provider refund is due at once when recorded (store.ledgers.record_refund), then after
  each answer that is not final: 1 minute (RETURNS_REFUND_CHECK_SECONDS), doubling per check, at
  most 6 hours apart. The longest due is asked first (store.refund_checks.take).
- Several followers (worker processes) never ask twice for one row: a row is taken with `for
  update skip locked` and leased; the answer is recorded under that lease only.
- A provider that errors (down, 5xx, a refund it does not know) is logged, without secrets, and
  asked again on the same schedule; the follower never stops the worker.
- Final: succeeded/refunded is recorded; failed/canceled is recorded and the case is flagged
  (store.read_model.flag_attention with "refund <status> at <provider> (<refund id>)"): the ops
  overview lists it, GET /v1/returns?needs_attention=true finds it, and GET
  /v1/returns/{id}/refunds shows the status. The case is flagged before the status is recorded,
  so a follower that dies between the two flags it again (the flag is idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from payments.port import FAILED_STATUSES, is_final
from payments.settings import PaymentConfigError, PaymentProviders
from store import read_model, refund_checks
from store.refund_checks import Due
from webhooks.sender import wait_for_work

log = logging.getLogger(__name__)

CHECK_ENV = "RETURNS_REFUND_CHECK_SECONDS"


@dataclass(frozen=True)
class FollowerSettings:
    first: timedelta = timedelta(minutes=1)  # after the first check; doubling from there
    cap: timedelta = timedelta(hours=6)
    # Longer than a provider call may take (the adapters' timeouts are 20 s): a row whose
    # follower died is asked again once its lease ends.
    lease: timedelta = timedelta(minutes=2)
    batch: int = 8  # refunds asked at once per process
    poll_interval: float = 5.0  # seconds between looks for due refunds when idle

    def delay_after(self, checks: int) -> timedelta:
        """The wait after the `checks`-th check (1-based) that did not end the refund."""
        doubled: timedelta = self.first * (1 << min(max(checks, 1) - 1, 20))
        return min(doubled, self.cap)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> FollowerSettings:
        """RETURNS_REFUND_CHECK_SECONDS: the first wait (default 60); PaymentConfigError if bad."""
        value = (env.get(CHECK_ENV) or "").strip()
        if not value:
            return cls()
        try:
            seconds = float(value)
        except ValueError:
            seconds = 0
        if not seconds > 0:
            raise PaymentConfigError(f"{CHECK_ENV}: {value!r} is not a number of seconds above 0")
        first = timedelta(seconds=seconds)
        return cls(first=first, cap=max(first, cls.cap), poll_interval=min(cls.poll_interval, seconds))


def attention_reason(due: Due, status: str) -> str:
    """What ops read in the case's attention: the provider's own status and its refund."""
    return f"refund {status} at {due.provider} ({due.provider_refund_id})"


# Anything shaped like a Stripe (sk_/rk_) or Mollie (live_/test_) key, even masked by the client.
_KEY = re.compile(r"\b(?:[sr]k_(?:test|live)_|(?:live|test)_)[A-Za-z0-9*]{4,}")


def describe(e: BaseException) -> str:
    """An error as logged and stored: its type and message on one line, with anything shaped like
    an API key cut out (the keys travel in a header; Stripe quotes a masked one on a 401)."""
    return _KEY.sub("<key>", " ".join(f"{type(e).__name__}: {e}".split()))[:500]


async def check(pool: asyncpg.Pool, providers: PaymentProviders, settings: FollowerSettings, due: Due) -> str:
    """Ask the provider once and record the answer; returns the status recorded (or kept)."""
    provider = providers.named(due.provider)
    try:
        if provider is None:
            raise PaymentConfigError(f"no adapter {due.provider!r} in RETURNS_PAYMENT_PROVIDERS")
        status = await provider.refund_status(due.payment_reference, due.provider_refund_id)
    except Exception as e:  # anything the provider or its client raises: ask again later
        delay = settings.delay_after(due.checks)
        error = describe(e)
        await refund_checks.check_later(pool, due, error, delay)
        log.warning(
            "refunds: %s %s of %s not checked (%s); asking again in %s",
            due.provider,
            due.provider_refund_id,
            due.return_id,
            error,
            delay,
        )
        return due.status
    if status in FAILED_STATUSES:
        await read_model.flag_attention(pool, due.return_id, attention_reason(due, status))
    next_check = None if is_final(status) else settings.delay_after(due.checks)
    if await refund_checks.record_status(pool, due, status, next_check) and status != due.status:
        level = logging.WARNING if status in FAILED_STATUSES else logging.INFO
        log.log(
            level, "refunds: %s %s of %s: %s", due.provider, due.provider_refund_id, due.return_id, status
        )
    return status


async def follow_once(pool: asyncpg.Pool, providers: PaymentProviders, settings: FollowerSettings) -> int:
    """Ask for every due refund (up to settings.batch, at once); returns how many were taken."""
    taken = await refund_checks.take(pool, settings.batch, settings.lease)
    await asyncio.gather(*(_check_logged(pool, providers, settings, d) for d in taken))
    return len(taken)


async def _check_logged(
    pool: asyncpg.Pool, providers: PaymentProviders, settings: FollowerSettings, due: Due
) -> None:
    try:
        await check(pool, providers, settings, due)
    except Exception:  # the answer was not recorded (the database away): asked again after the lease
        log.exception("refunds: the status of %s was not recorded", due.key)


async def run_follower(
    pool: asyncpg.Pool, providers: PaymentProviders, settings: FollowerSettings, stop: asyncio.Event
) -> None:
    """Follow refunds until `stop`; never raises (a round that fails is tried again)."""
    failures = 0
    while not stop.is_set():
        taken = 0
        try:
            taken = await follow_once(pool, providers, settings)
            failures = 0
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
            failures += 1
            log.warning("refunds: follower cannot read the refunds (%s); retrying", describe(e))
        except Exception:  # never let the follower die quietly inside the worker
            failures += 1
            log.exception("refunds: follower round failed; retrying")
        if taken < settings.batch:
            await wait_for_work(stop, None, set(), min(settings.poll_interval * 2 ** min(failures, 5), 60.0))


@contextlib.asynccontextmanager
async def following(
    pool: asyncpg.Pool,
    providers: PaymentProviders,
    settings: FollowerSettings | None = None,
) -> AsyncIterator[list[str]]:
    """The follower until the block ends, when an outside provider is configured; yields the
    lines to print."""
    settings = settings or FollowerSettings.from_env()
    if not providers.outside:
        yield []  # the ledger's refunds are final at once: nothing to follow
        return
    stop = asyncio.Event()
    task = asyncio.create_task(run_follower(pool, providers, settings, stop))
    note = (
        f"Refund follower: asks {', '.join(providers.outside)} for the status of their refunds until "
        f"final (at once, then after {settings.first.total_seconds():g} s, doubling up to "
        f"{settings.cap.total_seconds() / 3600:g} h)"
    )
    try:
        yield [note]
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, timeout=25)  # a provider call under way: the adapters' 20 s
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
