"""The delivery log: every attempt, newest first, with keyset paging (GET /v1/webhooks/deliveries)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

import asyncpg
from pydantic import BaseModel

from webhooks.endpoints import format_position

MAX_LIMIT = 200


class Delivery(BaseModel):
    attempt_id: int
    msg_id: str  # the webhook-id header: the same for every attempt of a message
    endpoint_id: str
    return_id: str
    event_type: str
    position: str  # "<transaction>:<position>": redeliver from here (POST .../redeliver)
    attempt: int  # 1 for the first attempt of the message
    attempted_at: datetime
    http_status: int | None  # null: no answer (refused, timed out)
    error: str | None  # null: delivered (2xx)
    duration_ms: int
    message_status: str  # pending, delivered or failed, now


class DeliveryPage(BaseModel):
    items: list[Delivery]
    next_cursor: str | None


def encode_cursor(attempt_id: int) -> str:
    return base64.urlsafe_b64encode(f"a{attempt_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """ValueError for anything this module did not make."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError("is not a cursor this API gave") from None
    if not text.startswith("a") or not text[1:].isdigit() or len(text) > 21:
        raise ValueError("is not a cursor this API gave")
    return int(text[1:])


async def list_deliveries(
    conn: asyncpg.Connection,
    *,
    endpoint_id: str | None = None,
    return_id: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> DeliveryPage:
    before = decode_cursor(cursor) if cursor else None
    rows = await conn.fetch(
        """
        select a.attempt_id, a.msg_id, a.endpoint_id, m.return_id, m.event_type, m.transaction_id,
               m.global_position, a.attempt, a.attempted_at, a.http_status, a.error, a.duration_ms,
               m.status as message_status
        from webhook_attempts a join webhook_messages m on m.msg_id = a.msg_id
        where ($1::text is null or a.endpoint_id = $1) and ($2::text is null or m.return_id = $2)
          and ($3::bigint is null or a.attempt_id < $3)
        order by a.attempt_id desc
        limit $4
        """,
        endpoint_id,
        return_id,
        before,
        limit + 1,
    )
    items = []
    for r in rows[:limit]:
        fields = dict(r)
        position = format_position(fields.pop("transaction_id"), fields.pop("global_position"))
        items.append(Delivery(**fields, position=position))
    more = len(rows) > limit
    return DeliveryPage(items=items, next_cursor=encode_cursor(items[-1].attempt_id) if more else None)
