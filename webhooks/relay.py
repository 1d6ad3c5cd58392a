"""The fan-out: every recorded event a shop hears of becomes one message per endpoint that wants
it, in ONE short transaction with the subscription's checkpoint.

The events come from the gap-free read (store.event_store.read_subscription): an event whose
transaction took a lower position but committed after a higher one was read is still returned
once it has committed, so none is skipped. The messages and the checkpoint commit together, and
a message's id is derived from its endpoint and event (insert ... on conflict do nothing), so a
crash between the two repeats nothing and loses nothing.

An endpoint receives the events recorded from its registration on (recorded_at >= created_at);
a disabled endpoint's messages are still made, and sent once it is enabled again.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict

import asyncpg

from domain.customer import is_customer_stream
from store.event_store import StoredEvent, advance_subscription, read_subscription, record_to_event, unseal
from store.personal_data import PersonalData
from webhooks.events import Recorded, payload_json, payloads

SUBSCRIPTION = "webhooks"
_MSG_NAMESPACE = uuid.UUID("3f6b0f7e-4a8e-5c61-9a53-7d0b2f6c1e42")
log = logging.getLogger(__name__)


def message_id(endpoint_id: str, event_id: str) -> str:
    """Stable: the same endpoint and event always give the same webhook-id."""
    return "msg_" + uuid.uuid5(_MSG_NAMESPACE, f"{endpoint_id}:{event_id}").hex


_STREAMS_UP_TO = """
select e.global_position, e.stream_id, e.stream_version, e.event_id, e.type, e.data, e.recorded_at,
       e.transaction_id
from unnest($1::text[], $2::int[]) as w (stream_id, upto)
join events e on e.stream_id = w.stream_id and e.stream_version <= w.upto
order by e.stream_id, e.stream_version
"""

_INSERT = """
insert into webhook_messages
    (msg_id, endpoint_id, event_id, return_id, transaction_id, global_position, event_type, payload)
select * from unnest($1::text[], $2::text[], $3::uuid[], $4::text[], $5::xid8[], $6::bigint[],
                     $7::text[], $8::jsonb[])
on conflict (msg_id) do nothing
"""


def payload_aad(msg_id: str) -> str:
    """What a sealed webhook payload is bound to: its message."""
    return f"webhook:{msg_id}"


def _owner(stream: list[StoredEvent]) -> str | None:
    """The customer of a case's stream (its case_assessed names them), whose key seals payloads."""
    for e in stream:
        if e.type == "case_assessed":
            customer = e.data.get("request", {}).get("order", {}).get("customer", {})
            return str(customer["id"]) if "id" in customer else None
    return None


async def relay_once(
    pool: asyncpg.Pool, limit: int = 500, personal: PersonalData | None = None
) -> tuple[int, int]:
    """One round: (events read, messages made). `personal` (by default the process's master
    keys) unseals the events and seals each message's payload under its customer's key."""
    personal = personal if personal is not None else PersonalData.from_env(pool)
    async with pool.acquire() as conn, conn.transaction():
        events = await read_subscription(conn, SUBSCRIPTION, limit, personal)
        if not events:
            return 0, 0
        made = await _fan_out(conn, events, personal)
        await advance_subscription(conn, SUBSCRIPTION, events[-1])
    return len(events), made


async def _fan_out(conn: asyncpg.Connection, events: list[StoredEvent], personal: PersonalData | None) -> int:
    endpoints = await conn.fetch("select endpoint_id, event_types, created_at from webhook_endpoints")
    if not endpoints:
        return 0
    # Only events some endpoint was registered for (recorded after it) are mapped at all.
    since = min(ep["created_at"] for ep in endpoints)
    # Customer streams (customer_erased) are not cases: no webhook is made of them.
    events = [e for e in events if e.recorded_at >= since and not is_customer_stream(e.stream_id)]
    upto: dict[str, int] = {}
    for e in events:
        upto[e.stream_id] = max(upto.get(e.stream_id, 0), e.stream_version)
    if not upto:
        return 0
    rows = await conn.fetch(_STREAMS_UP_TO, list(upto), list(upto.values()))
    streams: dict[str, list[StoredEvent]] = defaultdict(list)
    for r in rows:
        streams[r["stream_id"]].append(record_to_event(r))
    wanted = {str(e.event_id) for e in events}
    by_event = {str(e.event_id): e for e in events}
    columns: tuple[list[object], ...] = ([], [], [], [], [], [], [], [])
    for stream_id, stream in streams.items():
        stream = await unseal(personal, stream)
        owner = _owner(stream)
        recorded = [Recorded(str(s.event_id), s.stream_version, s.recorded_at, s.data) for s in stream]
        try:
            mapped = payloads(recorded, wanted)
        except Exception:  # not a case's stream, or data this code cannot read: never stall the relay
            log.exception("webhooks: events of stream %s skipped: they do not fold into a case", stream_id)
            continue
        for rec, payload in mapped:
            event = by_event[rec.event_id]
            body = payload_json(payload)
            for ep in endpoints:
                types = ep["event_types"]
                if (types and payload.type not in types) or event.recorded_at < ep["created_at"]:
                    continue
                msg_id = message_id(ep["endpoint_id"], rec.event_id)
                stored = body
                if personal is not None and owner is not None:
                    stored = await personal.seal(owner, body, aad=payload_aad(msg_id))
                for column, value in zip(
                    columns,
                    (
                        msg_id,
                        ep["endpoint_id"],
                        event.event_id,
                        payload.data.return_id,
                        event.transaction_id,
                        event.global_position,
                        payload.type,
                        stored,
                    ),
                    strict=True,
                ):
                    column.append(value)
    if not columns[0]:
        return 0
    status = await conn.execute(_INSERT, *columns)
    return int(status.split()[-1])
