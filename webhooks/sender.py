"""Delivery: lease due messages, POST them signed, record each attempt and its outcome.

No transaction is held during an HTTP call: a transaction holding an xid for a 10 s call would
hold back every gap-free reader of the event store. So a message is leased (leased_until, a
lease id) in one short transaction, sent, and its outcome recorded in another. A sender that
dies mid-call leaves the lease to expire; the message is sent again with the same webhook-id
(at least once).

Order per case: a message is due only when no earlier message (by event position) of the same
endpoint and return is undelivered, so per endpoint and case at most one is in flight, and
`for update skip locked` keeps several senders (processes) from leasing the same one.

Retries: 2xx is delivered; anything else (status, timeout, refused connection) is retried on
the schedule of WebhookSettings until give_up_after from the first attempt; then the message
fails and its endpoint is disabled with the reason (ops see it in the endpoint list and a log
line); enabling the endpoint again sends its failed and waiting messages, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import httpx

from payload.codec import CodecError, Keyring
from store.personal_data import PersonalData, is_sealed
from webhooks.endpoints import disable, signing_secrets
from webhooks.relay import payload_aad
from webhooks.settings import WebhookSettings
from webhooks.signing import sign

log = logging.getLogger(__name__)

_LEASE = """
with due as (
    select m.msg_id from webhook_messages m
    join webhook_endpoints ep on ep.endpoint_id = m.endpoint_id
    where m.status = 'pending' and ep.enabled and m.next_attempt_at <= now()
      and (m.leased_until is null or m.leased_until < now())
      and not exists (
        select from webhook_messages p
        where p.endpoint_id = m.endpoint_id and p.return_id = m.return_id and p.status <> 'delivered'
          and (p.transaction_id, p.global_position) < (m.transaction_id, m.global_position)
      )
    order by m.next_attempt_at, m.transaction_id, m.global_position
    limit $1
    for update of m skip locked
)
update webhook_messages m
set leased_until = now() + $2::interval, lease_id = gen_random_uuid(), attempts = m.attempts + 1,
    first_attempt_at = coalesce(m.first_attempt_at, now())
from due where m.msg_id = due.msg_id
returning m.msg_id, m.endpoint_id, m.payload, m.attempts, m.first_attempt_at, m.lease_id
"""


@dataclass(frozen=True)
class Leased:
    msg_id: str
    endpoint_id: str
    url: str
    body: str
    attempt: int
    first_attempt_at: datetime
    lease_id: uuid.UUID
    secrets: tuple[str, ...]


async def lease(
    pool: asyncpg.Pool,
    keyring: Keyring,
    settings: WebhookSettings,
    limit: int,
    personal: PersonalData | None = None,
) -> list[Leased]:
    """Due messages, leased, with their payloads opened (the relay sealed them under the case's
    customer's key: `personal`, by default the process's master keys). A message whose customer
    was erased before it went out is never sent: it and every pending message under the same key
    are marked failed, with nothing to send."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(_LEASE, limit, settings.lease)
        if not rows:
            return []
        bodies: dict[str, Any] = {}
        for r in rows:
            payload = r["payload"]
            if is_sealed(payload):
                personal = personal or PersonalData.from_env(pool)
                if personal is None:
                    log.error(
                        "webhooks: sealed payloads and no master keys (RETURNS_MASTER_KEYS); deliveries wait"
                    )
                    return []
                payload = await personal.open(payload, aad=payload_aad(r["msg_id"]))
                if payload is None:  # this message and every other under the erased key
                    await conn.execute(
                        "update webhook_messages set status = 'failed', leased_until = null"
                        " where msg_id = $1 or (status = 'pending' and payload ->> 'key' = $2)",
                        r["msg_id"],
                        r["payload"]["key"],
                    )
                    log.warning("webhooks: %s not sent: its customer's personal data was erased", r["msg_id"])
                    continue
            bodies[r["msg_id"]] = payload
        rows = [r for r in rows if r["msg_id"] in bodies]
        if not rows:
            return []
        ids = sorted({r["endpoint_id"] for r in rows})
        urls = dict(
            await conn.fetch(
                "select endpoint_id, url from webhook_endpoints where endpoint_id = any($1)", ids
            )
        )
        try:
            secrets = await signing_secrets(conn, keyring, ids)
        except CodecError as e:  # a payload key removed too early: nothing can be signed
            log.error("webhooks: cannot unseal signing secrets (%s); deliveries wait", e)
            return []
    return [
        Leased(
            msg_id=r["msg_id"],
            endpoint_id=r["endpoint_id"],
            url=urls.get(r["endpoint_id"], ""),
            body=json.dumps(bodies[r["msg_id"]], separators=(",", ":"), ensure_ascii=False),
            attempt=r["attempts"],
            first_attempt_at=r["first_attempt_at"],
            lease_id=r["lease_id"],
            secrets=tuple(secrets.get(r["endpoint_id"], ())),
        )
        for r in rows
    ]


async def attempt(http: httpx.AsyncClient, m: Leased) -> tuple[int | None, str | None, int]:
    """POST once: (http status or None, error text or None, duration ms)."""
    started = time.perf_counter()
    try:
        if not m.secrets:
            return None, "no signing secret", 0
        headers = sign(m.msg_id, m.body, m.secrets)
        response = await http.post(m.url, content=m.body.encode(), headers=headers)
        status: int | None = response.status_code
        error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
    except httpx.HTTPError as e:
        status, error = None, f"{type(e).__name__}: {e}"[:500]
    return status, error, round((time.perf_counter() - started) * 1000)


async def record(
    pool: asyncpg.Pool,
    settings: WebhookSettings,
    m: Leased,
    status: int | None,
    error: str | None,
    duration_ms: int,
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "insert into webhook_attempts (msg_id, endpoint_id, attempt, http_status, error, duration_ms)"
            " values ($1, $2, $3, $4, $5, $6)",
            m.msg_id,
            m.endpoint_id,
            m.attempt,
            status,
            error,
            duration_ms,
        )
        if error is None:
            await conn.execute(
                "update webhook_messages set status = 'delivered', delivered_at = now(), leased_until = null"
                " where msg_id = $1 and lease_id = $2",
                m.msg_id,
                m.lease_id,
            )
            return
        now: datetime = await conn.fetchval("select now()")
        if now - m.first_attempt_at >= settings.give_up_after:
            failed = await conn.execute(
                "update webhook_messages set status = 'failed', leased_until = null"
                " where msg_id = $1 and lease_id = $2",
                m.msg_id,
                m.lease_id,
            )
            if failed == "UPDATE 1":
                reason = (
                    f"{m.msg_id} failed {m.attempt} attempts over {settings.give_up_after}; last: {error}"
                )
                await disable(conn, m.endpoint_id, reason)
                log.warning("webhooks: endpoint %s disabled: %s", m.endpoint_id, reason)
            return
        await conn.execute(
            "update webhook_messages set next_attempt_at = now() + $3::interval, leased_until = null"
            " where msg_id = $1 and lease_id = $2",
            m.msg_id,
            m.lease_id,
            settings.delay_after(m.attempt),
        )


async def deliver(pool: asyncpg.Pool, http: httpx.AsyncClient, settings: WebhookSettings, m: Leased) -> None:
    status, error, duration_ms = await attempt(http, m)
    await record(pool, settings, m, status, error, duration_ms)


async def run_sender(
    pool: asyncpg.Pool,
    keyring: Keyring,
    settings: WebhookSettings,
    stop: asyncio.Event,
    wake: asyncio.Event | None = None,
    personal: PersonalData | None = None,
) -> None:
    """Deliver until `stop`: up to settings.concurrency attempts in flight. `wake` (set by the
    relay of this process) cuts the wait for new messages short."""
    personal = personal or PersonalData.from_env(pool)
    wake = wake or asyncio.Event()
    # httpx logs every request's URL at INFO; a shop's URL may carry a token of its own.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger("httpx").level))
    in_flight: set[asyncio.Task[None]] = set()
    failures = 0
    async with httpx.AsyncClient(timeout=settings.timeout) as http:
        while not stop.is_set():
            leased: list[Leased] = []
            free = settings.concurrency - len(in_flight)
            if free > 0:
                try:
                    leased = await lease(pool, keyring, settings, free, personal)
                    failures = 0
                except Exception as e:  # the database away, mostly: never let the sender die quietly
                    failures += 1
                    log.warning("webhooks: sender cannot lease (%s); retrying", e)
                    backoff = min(5.0, settings.poll_interval * 2 ** min(failures, 6))
                    await wait_for_work(stop, None, set(), backoff)
                    continue
            for m in leased:
                task = asyncio.create_task(_deliver_logged(pool, http, settings, m))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            if not leased:
                await wait_for_work(stop, wake, in_flight, settings.poll_interval)
        if in_flight:  # let attempts under way finish; a cut one is sent again after its lease
            _, pending = await asyncio.wait(in_flight, timeout=settings.timeout + 1)
            for task in pending:
                task.cancel()


async def _deliver_logged(
    pool: asyncpg.Pool, http: httpx.AsyncClient, settings: WebhookSettings, m: Leased
) -> None:
    try:
        await deliver(pool, http, settings, m)
    except Exception:  # the outcome was not recorded: the lease expires and it is sent again
        log.exception("webhooks: delivery of %s not recorded", m.msg_id)


async def wait_for_work(
    stop: asyncio.Event, wake: asyncio.Event | None, tasks: set[asyncio.Task[None]], timeout: float
) -> None:
    """Until `stop`, `wake` (cleared again), one of `tasks` ends, or `timeout` seconds: the idle
    wait of a relay (this sender's, the mail relay's)."""
    waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(stop.wait())]
    if wake is not None:
        waits.append(asyncio.ensure_future(wake.wait()))
    waits += list(tasks)
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits[: 2 if wake is not None else 1]:
            w.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await w
        if wake is not None:
            wake.clear()
