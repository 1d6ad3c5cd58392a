"""Read model of return cases (table return_cases): one CaseSummary row per case.

It stands on the event store, never the other way round: the row commits with its events as the
append's `Rider` (case_rider), and a rebuild folds the stored streams."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

import asyncpg

# The row is the domain's CaseSummary: one definition serves the workflow, the rebuild and SQL.
from domain.customer import CUSTOMER_STREAM_PREFIX
from domain.summary import CaseSummary as CaseRow
from store.event_store import RIDER_FIRST_PARAM, Rider, StoredEvent, record_to_event, unseal
from store.personal_data import PersonalData

__all__ = [
    "CaseRow",
    "case_rider",
    "case_values",
    "cases_of_customer",
    "find_cases",
    "get_case",
    "rebuild",
    "upsert_case",
]

# Columns the caller supplies (updated_at is set by the database on every write).
_COLUMNS = list(CaseRow.model_fields)


def case_values(row: CaseRow) -> tuple[Any, ...]:
    return tuple(getattr(row, c) for c in _COLUMNS)


def _from_record(r: asyncpg.Record) -> CaseRow:
    return CaseRow.model_validate({c: r[c] for c in _COLUMNS})


def _upsert(first: int) -> str:
    """The upsert of a row whose columns are parameters $first, $first+1, ..."""
    params = ", ".join(f"${i}" for i in range(first, first + len(_COLUMNS)))
    return f"""
insert into return_cases ({", ".join(_COLUMNS)})
values ({params})
on conflict (return_id) do update set
    {", ".join(f"{c} = excluded.{c}" for c in _COLUMNS[1:])}, updated_at = now()
-- An older state arriving late (a retry, a slow writer) must not win.
where return_cases.stream_version <= excluded.stream_version
"""


_UPSERT = _upsert(1)
_UPSERT_RIDER = _upsert(RIDER_FIRST_PARAM)


def case_rider(row: CaseRow) -> Rider:
    """The row as a rider of its case's append: written in the append's own statement, so it
    never lags the stream; a retried older append cannot win (the upsert's version guard)."""
    return Rider(_UPSERT_RIDER, case_values(row))


async def upsert_case(conn: asyncpg.Connection, row: CaseRow) -> None:
    await conn.execute(_UPSERT, *case_values(row))


REFUND_REFUSED = "refund refused by the payment provider"


async def flag_attention(pool: asyncpg.Pool, return_id: str, reason: str = REFUND_REFUSED) -> None:
    """Flag a case for ops' list until its next event rewrites the row (a refused refund: the
    workflow waits for ops, and the refund's event clears it); `reason` joins its attention."""
    await pool.execute(
        "update return_cases set needs_attention = true,"
        " attention = case when $2 = any(attention) then attention else array_append(attention, $2) end"
        " where return_id = $1",
        return_id,
        reason,
    )


async def get_case(pool: asyncpg.Pool, return_id: str) -> CaseRow | None:
    r = await pool.fetchrow("select * from return_cases where return_id = $1", return_id)
    return None if r is None else _from_record(r)


async def cases_of_customer(pool: asyncpg.Pool, customer_id: str) -> list[CaseRow]:
    rows = await pool.fetch(
        "select * from return_cases where customer_id = $1 order by opened_at, return_id",
        customer_id,
    )
    return [_from_record(r) for r in rows]


async def find_cases(
    pool: asyncpg.Pool,
    *,
    customer_id: str | None = None,
    order_id: str | None = None,
    status: str | None = None,
    needs_attention: bool | None = None,
    after: tuple[datetime, str] | None = None,
    limit: int = 50,
) -> list[CaseRow]:
    """Rows matching every filter given, oldest first, after a (opened_at, return_id) keyset."""
    where: list[str] = []
    args: list[Any] = []
    filters = {
        "customer_id": customer_id,
        "order_id": order_id,
        "status": status,
        "needs_attention": needs_attention,
    }
    for column, value in filters.items():
        if value is not None:
            args.append(value)
            where.append(f"{column} = ${len(args)}")
    if after is not None:
        args.extend(after)
        where.append(f"(opened_at, return_id) > (${len(args) - 1}, ${len(args)})")
    args.append(limit)
    rows = await pool.fetch(
        "select * from return_cases"
        + (f" where {' and '.join(where)}" if where else "")
        + f" order by opened_at, return_id limit ${len(args)}",
        *args,
    )
    return [_from_record(r) for r in rows]


async def rebuild(
    pool: asyncpg.Pool,
    fold: Callable[[list[StoredEvent]], CaseRow | None],
    batch: int = 5000,
    personal: PersonalData | None = None,
) -> int:
    """Replace return_cases by folding every case's stream; returns rows written. Each stream is
    unsealed first (`personal`, by default the process's master keys): an erased customer's
    cases fold with their personal fields erased and every amount as it was.

    One transaction: readers keep the old table until commit, and appends that
    race with the rebuild wait on the truncate lock, then upsert on top.
    Customer streams (`customer-<id>`: customer_erased) are not cases and are skipped. A case
    of an erased customer, opened before their erasure, gets the pseudonym of their tombstone
    instead of their id, as the erasure left its row.
    """
    personal = personal if personal is not None else PersonalData.from_env(pool)
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
                row = fold(await unseal(personal, list(current)))
                if row is not None:
                    pending.append(case_values(_as_erased(row, erased)))
                current.clear()

        await conn.execute("truncate return_cases")
        erased = {
            r["customer_id"]: (r["pseudonym"], r["erased_at"])
            for r in await conn.fetch(
                "select customer_id, pseudonym, erased_at from erased_customers where pseudonym is not null"
            )
        }
        # Server-side cursor, a batch at a time: memory stays bounded by two batches of events
        # and of rows. The next batch is asked for before this one is folded, so PostgreSQL
        # reads and sends it meanwhile; rows are copied in between, when the connection is free.
        cursor = await conn.cursor(
            "select * from events where not starts_with(stream_id, $1) order by stream_id, stream_version",
            CUSTOMER_STREAM_PREFIX,
        )
        ahead: asyncio.Future[list[asyncpg.Record]] = asyncio.ensure_future(cursor.fetch(batch))
        try:
            while True:
                records = await ahead
                if len(pending) >= batch:
                    await flush()
                if len(records) == batch:
                    ahead = asyncio.ensure_future(cursor.fetch(batch))
                    await asyncio.sleep(0)  # it sends its request before the fold holds the loop
                if personal is not None:  # the batch's data keys in one round trip, not one per customer
                    await personal.load_event_keys(r["data"] for r in records)
                for rec in records:
                    if current and current[-1].stream_id != rec["stream_id"]:
                        await close_stream()
                    current.append(record_to_event(rec))
                if len(records) < batch:
                    break
            await close_stream()
            await flush()
        finally:
            # A fold that failed leaves the read ahead to finish before the rollback.
            await asyncio.gather(ahead, return_exceptions=True)
    return written


def _as_erased(row: CaseRow, erased: dict[str, tuple[str, datetime]]) -> CaseRow:
    tomb = erased.get(row.customer_id)
    if tomb is None or row.opened_at > tomb[1]:
        return row
    return row.model_copy(update={"customer_id": tomb[0]})
