"""The transactional outbox of customer messages (issue 12, 014_outbox_delivery.sql).

Written: a case's messages ride along with the append that records their `message_sent`
(`outbox_rider`, in the append's own statement): the message exists exactly when its event does.
With sealing on, the e-mail address, data and text are sealed under the customer's key and the
clear columns hold the erased values (010_personal_data.sql).

Delivered: a relay leases due rows (`lease`, `for update skip locked`, in one short transaction),
sends with no transaction held, then records the outcome (`mark_sent`, `retry_later`,
`mark_failed`), each only under the lease it holds: a relay whose lease ran out (it died, or was
slow) records nothing over a newer one. Per case the rows go out in their order (`seq`): none is
due while an earlier one of its case is still queued.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from domain.effects import CustomerMessage
from domain.personal import ERASED_EMAIL, ERASED_TEXT
from store.event_store import RIDER_FIRST_PARAM, Rider
from store.personal_data import PersonalData

NOTIFY_CHANNEL = "returns_outbox"  # the insert trigger's pg_notify, on commit


def outbox_aad(idempotency_key: str) -> str:
    """What a sealed outbox row is bound to: its message key."""
    return f"outbox:{idempotency_key}"


@dataclass(frozen=True)
class OutboxRow:
    idempotency_key: str
    return_id: str
    customer_id: str
    email: str
    template: str
    data: dict[str, Any]
    text: str
    sealed: dict[str, str] | None


async def outbox_row(m: CustomerMessage, text: str, personal: PersonalData | None) -> OutboxRow:
    """The row of a message as stored, with its text as the customer reads it (the record of what
    they were told; the relay renders the mail itself): sealed under its customer's key when
    `personal` is given."""
    if personal is None:
        return OutboxRow(m.key, m.return_id, m.customer_id, m.email, m.template, m.data, text, None)
    clear = {"email": m.email, "data": m.data, "text": text}
    sealed = await personal.seal(m.customer_id, clear, aad=outbox_aad(m.key))
    return OutboxRow(m.key, m.return_id, m.customer_id, ERASED_EMAIL, m.template, {}, ERASED_TEXT, sealed)


_COLUMNS = ("idempotency_key", "return_id", "customer_id", "email", "template", "data", "text", "sealed")
_TYPES = ("text", "text", "text", "text", "text", "jsonb", "text", "jsonb")


def outbox_rider(rows: Sequence[OutboxRow]) -> Rider:
    """The rows as a rider of the append that records their message_sent events. A duplicate
    retry of the append runs it again: `on conflict do nothing` keeps the first."""
    arrays = ", ".join(f"${RIDER_FIRST_PARAM + n}::{t}[]" for n, t in enumerate(_TYPES))
    sql = (
        f"insert into outbox ({', '.join(_COLUMNS)}) select * from unnest({arrays})"
        " on conflict (idempotency_key) do nothing"
    )
    return Rider(sql, tuple([getattr(r, c) for r in rows] for c in _COLUMNS))


class SealedWithoutKeys(ValueError):
    """Sealed rows and no master keys to open them: nothing can be read or sent."""


async def open_fields(r: Mapping[str, Any], personal: PersonalData | None) -> dict[str, Any] | None:
    """The personal fields (email, data, text) of an outbox row as written: opened when sealed,
    None when the customer's key is gone (erased)."""
    if r["sealed"] is None:
        return {"email": r["email"], "data": r["data"], "text": r["text"]}
    if personal is None:
        raise SealedWithoutKeys("outbox: sealed messages need the master keys (RETURNS_MASTER_KEYS)")
    opened = await personal.open(r["sealed"], aad=outbox_aad(r["idempotency_key"]))
    return None if opened is None else dict(opened)


# --- delivery ---


@dataclass(frozen=True)
class Leased:
    """A queued message leased to one relay, opened for sending."""

    message: CustomerMessage
    attempt: int  # 1 for the first
    lease_id: uuid.UUID

    @property
    def key(self) -> str:
        return self.message.key


_LEASE = """
with due as (
    select o.idempotency_key from outbox o
    where o.state = 'queued' and o.next_attempt_at <= now()
      and (o.leased_until is null or o.leased_until < now())
      and not exists (
        select from outbox p where p.return_id = o.return_id and p.state = 'queued' and p.seq < o.seq
      )
    order by o.next_attempt_at, o.seq
    limit $1
    for update of o skip locked
)
update outbox o
set leased_until = now() + $2::interval, lease_id = gen_random_uuid(), attempts = o.attempts + 1
from due where o.idempotency_key = due.idempotency_key
returning o.idempotency_key, o.return_id, o.customer_id, o.email, o.template, o.data, o.text,
          o.sealed, o.attempts, o.lease_id, o.seq
"""


async def lease(
    pool: asyncpg.Pool, limit: int, lease_for: timedelta, personal: PersonalData | None
) -> list[Leased]:
    """Up to `limit` due messages, leased for `lease_for`, opened. A message whose customer was
    erased before it went out is never sent: it is marked erased."""
    rows = sorted(await pool.fetch(_LEASE, limit, lease_for), key=lambda r: r["seq"])
    out: list[Leased] = []
    for r in rows:
        try:
            fields = await open_fields(r, personal)
        except SealedWithoutKeys:
            await _release(pool, [x["idempotency_key"] for x in rows])
            raise
        if fields is None:
            await pool.execute(
                "update outbox set state = 'erased', leased_until = null, last_error = $2"
                " where idempotency_key = $1 and lease_id = $3",
                r["idempotency_key"],
                "not sent: the customer's personal data was erased",
                r["lease_id"],
            )
            continue
        message = CustomerMessage(
            key=r["idempotency_key"],
            return_id=r["return_id"],
            customer_id=r["customer_id"],
            template=r["template"],
            email=fields["email"],
            data=fields["data"],
        )
        out.append(Leased(message=message, attempt=r["attempts"], lease_id=r["lease_id"]))
    return out


async def _release(pool: asyncpg.Pool, keys: list[str]) -> None:
    await pool.execute(
        "update outbox set leased_until = null, attempts = attempts - 1 where idempotency_key = any($1)",
        keys,
    )


async def mark_sent(pool: asyncpg.Pool, m: Leased, message_id: str) -> bool:
    status = await pool.execute(
        "update outbox set state = 'sent', sent_at = now(), smtp_message_id = $3, leased_until = null,"
        " last_error = null where idempotency_key = $1 and lease_id = $2 and state = 'queued'",
        m.key,
        m.lease_id,
        message_id,
    )
    return bool(status == "UPDATE 1")


async def retry_later(pool: asyncpg.Pool, m: Leased, error: str, delay: timedelta) -> bool:
    status = await pool.execute(
        "update outbox set next_attempt_at = now() + $4::interval, leased_until = null, last_error = $3"
        " where idempotency_key = $1 and lease_id = $2 and state = 'queued'",
        m.key,
        m.lease_id,
        error[:1000],
        delay,
    )
    return bool(status == "UPDATE 1")


async def mark_failed(pool: asyncpg.Pool, m: Leased, error: str) -> bool:
    """The message failed for good; True when this call marked it (the case is told once)."""
    status = await pool.execute(
        "update outbox set state = 'failed', leased_until = null, last_error = $3"
        " where idempotency_key = $1 and lease_id = $2 and state = 'queued'",
        m.key,
        m.lease_id,
        error[:1000],
    )
    return bool(status == "UPDATE 1")


@dataclass(frozen=True)
class Delivery:
    """A message's delivery as ops see it: no personal data."""

    key: str
    template: str
    state: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    message_id: str | None


async def deliveries(pool: asyncpg.Pool, return_id: str) -> list[Delivery]:
    """The messages of a case in the order they were queued."""
    rows = await pool.fetch(
        "select idempotency_key, template, state, attempts, last_error, created_at, sent_at,"
        " smtp_message_id from outbox where return_id = $1 order by seq",
        return_id,
    )
    return [
        Delivery(
            key=r["idempotency_key"],
            template=r["template"],
            state=r["state"],
            attempts=r["attempts"],
            last_error=r["last_error"],
            created_at=r["created_at"],
            sent_at=r["sent_at"],
            message_id=r["smtp_message_id"],
        )
        for r in rows
    ]
