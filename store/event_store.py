"""Append-only event store on PostgreSQL (see ARCHITECTURE, Event store notes).

It knows streams and events, nothing of what is built from them: a projection that must commit
with an append (the read model's row) rides along as a `Rider`, and readers of all events (the
relays) follow them through a subscription whose checkpoint they advance in their own transaction.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from domain.personal import personal_paths
from store.personal_data import SEALED, PersonalData

# SQLSTATE raised by append_events on a real conflict (see 001_event_store.sql).
CONFLICT_SQLSTATE = "RS001"


@dataclass(frozen=True)
class NewEvent:
    event_id: uuid.UUID
    type: str
    data: dict[str, Any]


@dataclass(frozen=True, order=True)
class Position:
    """An event's place in the order of all events: its transaction first, then its global
    position. Only this order is gap-free for readers (see 006_subscriptions.sql)."""

    transaction_id: int
    global_position: int


START = Position(0, 0)


@dataclass(frozen=True)
class StoredEvent:
    global_position: int
    stream_id: str
    stream_version: int
    event_id: uuid.UUID
    type: str
    data: dict[str, Any]
    recorded_at: datetime
    # The appending transaction: one per batch, since every append is a transaction of its own.
    transaction_id: int

    @property
    def position(self) -> Position:
        return Position(self.transaction_id, self.global_position)


@dataclass(frozen=True)
class Rider:
    """A data-modifying statement that commits inside an append's own statement: one round trip,
    and a refused append takes it back too. `sql` numbers its parameters from RIDER_FIRST_PARAM
    on and gets `args` for them. It also runs when the append is a duplicate retry, so it must
    be idempotent and keep an older state from winning itself."""

    sql: str
    args: tuple[Any, ...]


RIDER_FIRST_PARAM = 6  # append_events takes $1-$5


class ConcurrencyConflict(Exception):
    """Expected version mismatch (or event ids reused): not retryable as is."""


_APPEND = "select append_events($1, $2, $3, $4, $5)"
_COLUMNS = "global_position, stream_id, stream_version, event_id, type, data, recorded_at, transaction_id"


@functools.cache
def _append_with(rider_sqls: tuple[str, ...]) -> str:
    # A data-modifying CTE runs whether or not it is referenced; a conflict raised by the
    # append aborts the whole statement, riders included.
    riders = "".join(f",\nrider{n} as ({sql})" for n, sql in enumerate(rider_sqls))
    return f"""
with appended as (select append_events($1, $2, $3, $4, $5) as version){riders}
select version from appended
"""


_PARAM = re.compile(r"\$(\d+)")


def _shifted(sql: str, by: int) -> str:
    """A rider's statement with its parameters moved past those of the riders before it."""
    if by == 0:
        return sql
    return _PARAM.sub(lambda m: f"${int(m.group(1)) + by}", sql)


Riders = Rider | Sequence[Rider] | None


def _riders(riders: Riders) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """Several riders in one statement: each numbers its parameters from RIDER_FIRST_PARAM on,
    so the later ones are renumbered past the earlier ones' arguments."""
    if riders is None:
        return (), ()
    if isinstance(riders, Rider):
        riders = (riders,)
    sqls: list[str] = []
    args: list[Any] = []
    for r in riders:
        sqls.append(_shifted(r.sql, len(args)))
        args.extend(r.args)
    return tuple(sqls), tuple(args)


def record_to_event(r: asyncpg.Record) -> StoredEvent:
    return StoredEvent(
        global_position=r["global_position"],
        stream_id=r["stream_id"],
        stream_version=r["stream_version"],
        event_id=r["event_id"],
        type=r["type"],
        data=r["data"],
        recorded_at=r["recorded_at"],
        transaction_id=r["transaction_id"],
    )


# The batch recorded right after a version: the rows one append's transaction wrote from there
# on, if that append started there (a batch is one transaction: appends never share one).
_RECORDED_BATCH = f"""
with batch as (
    select n.transaction_id from events n
    where n.stream_id = $1 and n.stream_version = $2 + 1
      and not exists (
        select from events p
        where p.stream_id = $1 and p.stream_version = $2 and p.transaction_id = n.transaction_id
      )
)
select {_COLUMNS} from events
where stream_id = $1 and stream_version > $2 and transaction_id = (select transaction_id from batch)
order by stream_version
"""

# All events after a position, in the gap-free order, only of transactions that have ended.
_READ_ALL = f"""
select {_COLUMNS} from events
where (transaction_id, global_position) > ($1::xid8, $2)
  and transaction_id < pg_snapshot_xmin(pg_current_snapshot())
order by transaction_id, global_position
limit $3
"""


async def unseal(personal: PersonalData | None, events: list[StoredEvent]) -> list[StoredEvent]:
    """Stored events as their readers fold them: personal fields opened, or at their erased values
    once the customer's key is gone (store/personal_data.py). Without sealing (no master keys)
    they are returned as stored, and a sealed one fails to fold: never read as erased by mistake."""
    if personal is None:
        return events
    return [
        dataclasses.replace(e, data=await personal.unseal_event(e.data, event_id=e.event_id))
        if SEALED in e.data
        else e
        for e in events
    ]


# The customer of a case's stream: its case_assessed (the first event) names them in the clear.
_STREAM_OWNER = """
select data -> 'request' -> 'order' -> 'customer' ->> 'id' from events
where stream_id = $1 and type = 'case_assessed' order by stream_version limit 1
"""


def _customer_of(data: dict[str, Any]) -> str | None:
    if data.get("type") != "case_assessed":
        return None
    customer = data.get("request", {}).get("order", {}).get("customer", {})
    return str(customer["id"]) if isinstance(customer, dict) and "id" in customer else None


class EventStore:
    """`personal`: the cipher of personal data; by default the process's master keys
    (RETURNS_MASTER_KEYS or the data dir's master-keys file), none: events are stored in the clear.
    Personal fields are sealed under the key of the stream's owner (its customer id): the one a
    writer names, else the customer of the case_assessed in the batch or at the stream's start.
    Every read here unseals."""

    def __init__(self, pool: asyncpg.Pool, personal: PersonalData | None = None) -> None:
        self._pool = pool
        self.personal = personal if personal is not None else PersonalData.from_env(pool)

    @property
    def pool(self) -> asyncpg.Pool:
        return self._pool

    async def _sealed(
        self, stream_id: str, owner: str | None, events: Sequence[NewEvent]
    ) -> Sequence[NewEvent]:
        if self.personal is None or not any(personal_paths(e.type) for e in events):
            return events
        owner = owner or next((o for e in events if (o := _customer_of(e.data))), None)
        if owner is None:
            owner = await self._pool.fetchval(_STREAM_OWNER, stream_id)
        if owner is None:
            raise ValueError(f"append to {stream_id}: personal fields, and no customer to seal them for")
        return [
            e
            if SEALED in e.data  # sealed already (copied as stored): never sealed twice
            else dataclasses.replace(
                e, data=await self.personal.seal_event(owner, e.data, event_id=e.event_id)
            )
            for e in events
        ]

    async def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        rider: Riders = None,
        *,
        owner: str | None = None,
    ) -> int:
        """Append events at expected_version; returns the stream's new version.

        Retrying a batch that already committed (same event ids) returns the
        current version and writes nothing. `owner`: the customer whose personal data the
        events hold (sealed under their key).
        """
        if not events:
            raise ValueError("append needs at least one event")
        events = await self._sealed(stream_id, owner, events)
        return await self._append(self._pool, stream_id, expected_version, events, rider)

    async def append_once(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        rider: Riders = None,
        *,
        owner: str | None = None,
    ) -> list[StoredEvent]:
        """append, for a writer that may decide a batch again after a crash (a workflow task
        retried after its local append committed): the same event ids, but other data (a later
        `at`, possibly other events). When the batch recorded right after expected_version
        starts with this batch's first event id, nothing is written (the rider neither) and that
        recorded batch is returned, exactly: the rows its one append wrote, not what later
        appends added. It is the case's record; the new decision is not. Returns [] for a
        fresh append.

        Raises ConcurrencyConflict when the batch's ids are recorded elsewhere in the stream
        (append_events would answer that as a duplicate retry): a writer whose ids no longer
        line up with the record must not be told its events were appended.
        """
        if not events:
            raise ValueError("append needs at least one event")
        events = await self._sealed(stream_id, owner, events)
        async with self._pool.acquire() as conn, conn.transaction():
            recorded = await conn.fetch(_RECORDED_BATCH, stream_id, expected_version)
            if recorded and recorded[0]["event_id"] == events[0].event_id:
                return await unseal(self.personal, [record_to_event(r) for r in recorded])
            version = await self._append(conn, stream_id, expected_version, events, rider)
            if version != expected_version + len(events):
                raise ConcurrencyConflict(
                    f"conflict: the event ids of this batch are recorded on {stream_id}, "
                    f"but not right after version {expected_version}"
                )
            return []

    @staticmethod
    async def _append(
        db: asyncpg.Pool | asyncpg.Connection,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        rider: Riders,
    ) -> int:
        args = (
            stream_id,
            expected_version,
            [e.event_id for e in events],
            [e.type for e in events],
            [e.data for e in events],
        )
        try:
            # One statement, so one round trip and atomic without BEGIN/COMMIT round trips.
            sqls, rider_args = _riders(rider)
            if not sqls:
                version: int = await db.fetchval(_APPEND, *args)
            else:
                version = await db.fetchval(_append_with(sqls), *args, *rider_args)
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "events_event_id_key":
                raise ConcurrencyConflict(f"conflict: event ids already recorded ({exc})") from exc
            raise
        except asyncpg.PostgresError as exc:
            if exc.sqlstate == CONFLICT_SQLSTATE:
                raise ConcurrencyConflict(str(exc)) from exc
            raise
        return version

    async def read_stream(self, stream_id: str) -> list[StoredEvent]:
        rows = await self._pool.fetch(
            f"select {_COLUMNS} from events where stream_id = $1 order by stream_version",
            stream_id,
        )
        return await unseal(self.personal, [record_to_event(r) for r in rows])

    async def read_all(self, after: Position = START, limit: int = 1000) -> list[StoredEvent]:
        """Events after a position, in the gap-free order, of ended transactions only (a later
        read after the last event returned misses nothing). A reader that must not lose its
        place uses a subscription instead."""
        return await unseal(self.personal, await _read_all(self._pool, after, limit))


async def _read_all(db: asyncpg.Pool | asyncpg.Connection, after: Position, limit: int) -> list[StoredEvent]:
    rows = await db.fetch(_READ_ALL, after.transaction_id, after.global_position, limit)
    return [record_to_event(r) for r in rows]


# --- subscriptions: gap-free reading of all events, checkpointed in the reader's transaction ---
#
#   async with conn.transaction():
#       events = await read_subscription(conn, "webhooks", limit=100)
#       for e in events:
#           ...  # deliver, and write the delivery record on `conn`
#       if events:
#           await advance_subscription(conn, "webhooks", events[-1])
#
# The record and the checkpoint commit together; if the transaction fails, neither moved, and
# the next read returns the same events again (a relay delivers at least once, keyed by
# event_id for receivers that must see each event once). Keep that transaction short: while
# it holds a transaction id (the subscription's row lock takes one), every reader of all
# events reads only below it.


def _require_transaction(conn: asyncpg.Connection) -> None:
    if not conn.is_in_transaction():
        raise RuntimeError("subscriptions are read and advanced inside the caller's transaction")


async def read_subscription(
    conn: asyncpg.Connection, name: str, limit: int = 100, personal: PersonalData | None = None
) -> list[StoredEvent]:
    """The next events of subscription `name` (created at the start when new), oldest first,
    unsealed with `personal` when given. Locks the subscription until the caller's transaction
    ends: a second reader of the same name waits, then reads after whatever the first one
    checkpointed."""
    _require_transaction(conn)
    await conn.execute("insert into subscriptions (name) values ($1) on conflict (name) do nothing", name)
    row = await conn.fetchrow(
        "select last_tx, last_position from subscriptions where name = $1 for update", name
    )
    return await unseal(
        personal, await _read_all(conn, Position(row["last_tx"], row["last_position"]), limit)
    )


async def advance_subscription(conn: asyncpg.Connection, name: str, last: StoredEvent | Position) -> None:
    """Move the checkpoint of `name` to `last` (the last event dealt with), in the caller's
    transaction; it commits or rolls back with it. A checkpoint never moves back."""
    _require_transaction(conn)
    at = last.position if isinstance(last, StoredEvent) else last
    moved = await conn.execute(
        "update subscriptions set last_tx = $2::xid8, last_position = $3, updated_at = now()"
        " where name = $1 and (last_tx, last_position) <= ($2::xid8, $3)",
        name,
        at.transaction_id,
        at.global_position,
    )
    if moved != "UPDATE 1":
        raise ValueError(f"subscription {name}: unknown, or already past {at}")
