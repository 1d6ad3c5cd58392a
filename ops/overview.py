"""The ops overview's figures, read from the read model (return_cases) and the outbox with SQL
aggregates, never from Temporal: counts by status and kind, the NeedsAttention queue (oldest
first), median days to resolution, messages per case, the share of cases asked for photos, refund
against store credit, and per day of the last 30 days: cases opened (by kind) and resolved (by
kind), and the amounts refunded and given as store credit."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import asyncpg
from pydantic import BaseModel

DAYS = 30
QUEUE_LIMIT = 200


class AttentionCase(BaseModel):
    """A case of the NeedsAttention queue and why; `temporal_ui` is its page in the Web UI."""

    return_id: str
    kind: str
    status: str
    total: Decimal
    opened_at: datetime
    reasons: list[str]
    temporal_ui: str | None


class Payouts(BaseModel):
    """Cases paid out so, and how much."""

    cases: int
    amount: Decimal


class Day(BaseModel):
    """One day (UTC) of the charts: cases opened and resolved by kind, amounts paid that day
    (by the day the case closed)."""

    day: date
    opened: dict[str, int]
    resolved: dict[str, int]
    refunded: Decimal
    store_credit: Decimal


class Overview(BaseModel):
    """The ops overview of the read model (docs/ops.md, "Ops overview")."""

    at: datetime
    cases: int
    by_status: dict[str, int]
    by_kind: dict[str, int]
    needs_attention: int
    queue: list[AttentionCase]
    median_days_to_resolution: float | None
    messages_per_case: float | None
    photos_asked_share: float | None
    refund: Payouts
    store_credit: Payouts
    days: list[Day]


def temporal_ui_link(ui: str | None, namespace: str, return_id: str) -> str | None:
    """The case's page in the Temporal Web UI (its workflow id is return-<return_id>)."""
    if not ui:
        return None
    return f"{ui.rstrip('/')}/namespaces/{namespace}/workflows/return-{return_id}"


_TOTALS = """
select count(*) as cases,
       count(*) filter (where needs_attention) as needs_attention,
       percentile_cont(0.5) within group (
           order by extract(epoch from closed_at - opened_at) / 86400
       ) filter (where status = 'resolved' and closed_at is not null) as median_days,
       avg(photos_asked::int) as photos_share,
       count(*) filter (where refunded > 0) as refund_cases,
       coalesce(sum(refunded), 0) as refunded,
       count(*) filter (where store_credit > 0) as credit_cases,
       coalesce(sum(store_credit), 0) as store_credit,
       (select count(*) from outbox o where o.return_id in (select return_id from return_cases)) as messages
from return_cases
"""

_DAYS = """
with days as (
    select d::date as day from generate_series($1::date, $2::date, interval '1 day') d
)
select days.day, c.kind,
       count(c.*) filter (where (c.opened_at at time zone 'UTC')::date = days.day) as opened,
       count(c.*) filter (where c.status = 'resolved' and (c.closed_at at time zone 'UTC')::date = days.day)
           as resolved,
       coalesce(sum(c.refunded) filter (where (c.closed_at at time zone 'UTC')::date = days.day), 0)
           as refunded,
       coalesce(sum(c.store_credit) filter (where (c.closed_at at time zone 'UTC')::date = days.day), 0)
           as store_credit
from days
join return_cases c
  on (c.opened_at >= days.day::timestamp at time zone 'UTC'
      and c.opened_at < (days.day + 1)::timestamp at time zone 'UTC')
  or (c.closed_at >= days.day::timestamp at time zone 'UTC'
      and c.closed_at < (days.day + 1)::timestamp at time zone 'UTC')
group by days.day, c.kind
"""


async def overview(
    pool: asyncpg.Pool,
    *,
    now: datetime | None = None,
    temporal_ui: str | None = None,
    namespace: str = "default",
    days: int = DAYS,
) -> Overview:
    """The figures as of `now` (default: the clock); the charts cover the `days` UTC days up to
    and including today."""
    now = now or datetime.now(UTC)
    today = now.astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        t = await conn.fetchrow(_TOTALS)
        by_status = {
            r["status"]: r["n"]
            for r in await conn.fetch(
                "select status, count(*) as n from return_cases group by status order by n desc, status"
            )
        }
        by_kind = {
            r["kind"]: r["n"]
            for r in await conn.fetch(
                "select kind, count(*) as n from return_cases group by kind order by n desc, kind"
            )
        }
        queue = await conn.fetch(
            "select return_id, kind, status, total, opened_at, attention from return_cases"
            " where needs_attention order by opened_at, return_id limit $1",
            QUEUE_LIMIT,
        )
        daily = await conn.fetch(_DAYS, first, today)
    per_day = {
        first + timedelta(days=n): Day(
            day=first + timedelta(days=n),
            opened={},
            resolved={},
            refunded=Decimal(0),
            store_credit=Decimal(0),
        )
        for n in range(days)
    }
    for r in daily:
        d = per_day[r["day"]]
        if r["opened"]:
            d.opened[r["kind"]] = r["opened"]
        if r["resolved"]:
            d.resolved[r["kind"]] = r["resolved"]
        d.refunded += r["refunded"]
        d.store_credit += r["store_credit"]
    cases: int = t["cases"]
    return Overview(
        at=now,
        cases=cases,
        by_status=by_status,
        by_kind=by_kind,
        needs_attention=t["needs_attention"],
        queue=[
            AttentionCase(
                return_id=r["return_id"],
                kind=r["kind"],
                status=r["status"],
                total=r["total"],
                opened_at=r["opened_at"],
                # A row flagged before migration 015 (or by an older worker) has no reasons.
                reasons=list(r["attention"]) or ["flagged; see the case's details"],
                temporal_ui=temporal_ui_link(temporal_ui, namespace, r["return_id"]),
            )
            for r in queue
        ],
        median_days_to_resolution=None if t["median_days"] is None else round(float(t["median_days"]), 2),
        messages_per_case=round(t["messages"] / cases, 2) if cases else None,
        photos_asked_share=None if t["photos_share"] is None else round(float(t["photos_share"]), 4),
        refund=Payouts(cases=t["refund_cases"], amount=t["refunded"]),
        store_credit=Payouts(cases=t["credit_cases"], amount=t["store_credit"]),
        days=list(per_day.values()),
    )
