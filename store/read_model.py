"""Read model of return cases (table return_cases); domain-agnostic."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import astuple, dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import asyncpg

if TYPE_CHECKING:
    from store.event_store import StoredEvent


@dataclass(frozen=True)
class CaseRow:
    return_id: str
    order_id: str
    customer_id: str
    kind: str
    status: str
    resolution: str | None
    gross: Decimal
    total: Decimal
    refunded: Decimal
    store_credit: Decimal
    customer_messages: tuple[str, ...]
    opened_at: datetime
    closed_at: datetime | None
    stream_version: int
    # Set by the database on every write; ignored when writing.
    updated_at: datetime | None = None


# Columns the caller supplies (everything but updated_at).
_COLUMNS = [f.name for f in fields(CaseRow) if f.name != "updated_at"]


def _values(row: CaseRow) -> tuple[Any, ...]:
    return astuple(row)[: len(_COLUMNS)]


def _from_record(r: asyncpg.Record) -> CaseRow:
    d = dict(r)
    d["customer_messages"] = tuple(d["customer_messages"])
    return CaseRow(**d)


_UPSERT = f"""
insert into return_cases ({", ".join(_COLUMNS)})
values ({", ".join(f"${i}" for i in range(1, len(_COLUMNS) + 1))})
on conflict (return_id) do update set
    {", ".join(f"{c} = excluded.{c}" for c in _COLUMNS[1:])}, updated_at = now()
-- An older state arriving late (a retry, a slow writer) must not win.
where return_cases.stream_version <= excluded.stream_version
"""


async def upsert_case(conn: asyncpg.Connection, row: CaseRow) -> None:
    await conn.execute(_UPSERT, *_values(row))


async def get_case(pool: asyncpg.Pool, return_id: str) -> CaseRow | None:
    r = await pool.fetchrow("select * from return_cases where return_id = $1", return_id)
    return None if r is None else _from_record(r)


async def cases_of_customer(pool: asyncpg.Pool, customer_id: str) -> list[CaseRow]:
    rows = await pool.fetch(
        "select * from return_cases where customer_id = $1 order by opened_at, return_id",
        customer_id,
    )
    return [_from_record(r) for r in rows]


async def rebuild(
    pool: asyncpg.Pool,
    fold: Callable[[list[StoredEvent]], CaseRow | None],
    batch: int = 5000,
) -> int:
    """Replace return_cases by folding every stream; returns rows written.

    One transaction: readers keep the old table until commit, and appends that
    race with the rebuild wait on the truncate lock, then upsert on top.
    """
    from store.event_store import record_to_event  # avoids an import cycle

    written = 0
    pending: list[tuple[Any, ...]] = []
    current: list[StoredEvent] = []

    async with pool.acquire() as conn, conn.transaction():

        async def flush() -> None:
            nonlocal written
            if pending:
                await conn.copy_records_to_table("return_cases", records=pending, columns=_COLUMNS)
                written += len(pending)
                pending.clear()

        async def close_stream() -> None:
            if current:
                row = fold(list(current))
                if row is not None:
                    pending.append(_values(row))
                current.clear()
            if len(pending) >= batch:
                await flush()

        await conn.execute("truncate return_cases")
        # Server-side cursor: memory stays bounded by one stream plus a batch.
        async for rec in conn.cursor(
            "select * from events order by stream_id, stream_version", prefetch=batch
        ):
            if current and current[-1].stream_id != rec["stream_id"]:
                await close_stream()
            current.append(record_to_event(rec))
        await close_stream()
        await flush()
    return written
