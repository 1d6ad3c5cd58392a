"""Webhook endpoints: registered, listed, changed, disabled and enabled, deleted; their signing
secrets rotated; their messages re-queued from a position (redelivery). Shared by the HTTP API
and the CLI; every function takes the connection the caller's transaction runs on."""

from __future__ import annotations

import re
import secrets as random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from pydantic import BaseModel

from payload.codec import Keyring
from store.event_store import Position
from webhooks.events import EventType
from webhooks.signing import new_secret, seal, unseal

_POSITION = re.compile(r"^(\d{1,20}):(\d{1,20})$")


class Endpoint(BaseModel):
    endpoint_id: str
    url: str
    description: str
    event_types: list[EventType]  # empty: every type
    enabled: bool
    disabled_at: datetime | None
    disabled_reason: str | None  # why it was disabled (retries exhausted, or by hand)
    created_at: datetime
    pending_messages: int  # not yet delivered (waiting, retrying, or failed)
    secrets_valid: int  # signing secrets signing now (2 during a rotation's grace period)


def format_position(transaction_id: int, global_position: int) -> str:
    return f"{transaction_id}:{global_position}"


def parse_position(text: str) -> Position:
    """A position as the delivery log shows it, "<transaction id>:<global position>"."""
    m = _POSITION.fullmatch(text.strip())
    if m is None or int(m.group(1)) >= 2**63 or int(m.group(2)) >= 2**63:
        raise ValueError('must be a position as the delivery log shows it, "<transaction>:<position>"')
    return Position(int(m.group(1)), int(m.group(2)))


_SELECT = """
select e.endpoint_id, e.url, e.description, e.event_types, e.enabled, e.disabled_at,
       e.disabled_reason, e.created_at,
       (select count(*) from webhook_messages m
         where m.endpoint_id = e.endpoint_id and m.status <> 'delivered') as pending_messages,
       (select count(*) from webhook_secrets s
         where s.endpoint_id = e.endpoint_id and (s.expires_at is null or s.expires_at > now()))
         as secrets_valid
from webhook_endpoints e
"""


def _endpoint(r: asyncpg.Record) -> Endpoint:
    return Endpoint(**dict(r))


async def _add_secret(conn: asyncpg.Connection, keyring: Keyring, endpoint_id: str) -> str:
    secret = new_secret()
    sealed, key_id = seal(keyring, secret)
    await conn.execute(
        "insert into webhook_secrets (endpoint_id, secret_no, sealed, key_id)"
        " select $1, coalesce(max(secret_no), 0) + 1, $2, $3 from webhook_secrets where endpoint_id = $1",
        endpoint_id,
        sealed,
        key_id,
    )
    return secret


async def create_endpoint(
    conn: asyncpg.Connection,
    keyring: Keyring,
    url: str,
    event_types: Sequence[EventType] = (),
    description: str = "",
) -> tuple[Endpoint, str]:
    """A new endpoint and its signing secret (`whsec_...`), which is shown once: only its
    ciphertext is kept. It receives the events recorded from now on."""
    endpoint_id = f"ep_{random.token_hex(8)}"
    async with conn.transaction():
        await conn.execute(
            "insert into webhook_endpoints (endpoint_id, url, description, event_types)"
            " values ($1, $2, $3, $4)",
            endpoint_id,
            url,
            description,
            sorted(set(event_types)),
        )
        secret = await _add_secret(conn, keyring, endpoint_id)
    endpoint = await get_endpoint(conn, endpoint_id)
    assert endpoint is not None
    return endpoint, secret


async def list_endpoints(conn: asyncpg.Connection) -> list[Endpoint]:
    return [_endpoint(r) for r in await conn.fetch(_SELECT + " order by e.created_at, e.endpoint_id")]


async def get_endpoint(conn: asyncpg.Connection, endpoint_id: str) -> Endpoint | None:
    row = await conn.fetchrow(_SELECT + " where e.endpoint_id = $1", endpoint_id)
    return None if row is None else _endpoint(row)


async def update_endpoint(
    conn: asyncpg.Connection,
    endpoint_id: str,
    *,
    event_types: Sequence[EventType] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
    reason: str = "disabled by hand",
) -> Endpoint | None:
    """Change what is given. Disabling keeps making its messages (nothing is lost) but sends none;
    enabling sends them again, failed ones included, in order per case."""
    async with conn.transaction():
        row = await conn.fetchrow(
            "select enabled from webhook_endpoints where endpoint_id = $1 for update", endpoint_id
        )
        if row is None:
            return None
        if event_types is not None:
            await conn.execute(
                "update webhook_endpoints set event_types = $2 where endpoint_id = $1",
                endpoint_id,
                sorted(set(event_types)),
            )
        if description is not None:
            await conn.execute(
                "update webhook_endpoints set description = $2 where endpoint_id = $1",
                endpoint_id,
                description,
            )
        if enabled is False and row["enabled"]:
            await disable(conn, endpoint_id, reason)
        if enabled is True and not row["enabled"]:
            await conn.execute(
                "update webhook_endpoints set enabled = true, disabled_at = null, disabled_reason = null"
                " where endpoint_id = $1",
                endpoint_id,
            )
            await conn.execute(
                "update webhook_messages set status = 'pending', attempts = 0, first_attempt_at = null,"
                " next_attempt_at = now(), leased_until = null, lease_id = null"
                " where endpoint_id = $1 and status = 'failed'",
                endpoint_id,
            )
    return await get_endpoint(conn, endpoint_id)


async def disable(conn: asyncpg.Connection, endpoint_id: str, reason: str) -> None:
    await conn.execute(
        "update webhook_endpoints set enabled = false, disabled_at = now(), disabled_reason = $2"
        " where endpoint_id = $1 and enabled",
        endpoint_id,
        reason,
    )


async def delete_endpoint(conn: asyncpg.Connection, endpoint_id: str) -> bool:
    """Gone with its messages and delivery log."""
    status: str = await conn.execute("delete from webhook_endpoints where endpoint_id = $1", endpoint_id)
    return status == "DELETE 1"


async def rotate_secret(
    conn: asyncpg.Connection, keyring: Keyring, endpoint_id: str, grace: timedelta
) -> tuple[str, datetime] | None:
    """A new signing secret (shown once); the ones signing now keep signing for `grace`, so
    a receiver can switch without losing a message. Returns the secret and when the old ones end."""
    async with conn.transaction():
        exists = await conn.fetchval(
            "select true from webhook_endpoints where endpoint_id = $1 for update", endpoint_id
        )
        if not exists:
            return None
        until: datetime = await conn.fetchval("select now() + $1::interval", grace)
        await conn.execute(
            "update webhook_secrets set expires_at = least(coalesce(expires_at, $2), $2)"
            " where endpoint_id = $1 and (expires_at is null or expires_at > now())",
            endpoint_id,
            until,
        )
        secret = await _add_secret(conn, keyring, endpoint_id)
    return secret, until


async def signing_secrets(
    conn: asyncpg.Connection, keyring: Keyring, endpoint_ids: Sequence[str]
) -> dict[str, list[str]]:
    """Every secret signing now, per endpoint, newest first."""
    rows = await conn.fetch(
        "select endpoint_id, sealed from webhook_secrets where endpoint_id = any($1)"
        " and (expires_at is null or expires_at > now()) order by endpoint_id, secret_no desc",
        list(endpoint_ids),
    )
    out: dict[str, list[str]] = {}
    for r in rows:
        out.setdefault(r["endpoint_id"], []).append(unseal(keyring, r["sealed"]))
    return out


async def redeliver(conn: asyncpg.Connection, endpoint_id: str, start: Position) -> int | None:
    """Send this endpoint's messages from `start` on (its events at or after that position)
    again, with the same webhook-ids, in order per case. Returns how many were re-queued."""
    async with conn.transaction():
        exists = await conn.fetchval("select true from webhook_endpoints where endpoint_id = $1", endpoint_id)
        if not exists:
            return None
        status = await conn.execute(
            "update webhook_messages set status = 'pending', attempts = 0, first_attempt_at = null,"
            " delivered_at = null, next_attempt_at = now(), leased_until = null, lease_id = null"
            " where endpoint_id = $1 and (transaction_id, global_position) >= ($2::xid8, $3)",
            endpoint_id,
            start.transaction_id,
            start.global_position,
        )
    return int(status.split()[-1])


def as_json(endpoint: Endpoint) -> dict[str, Any]:
    return endpoint.model_dump(mode="json")
