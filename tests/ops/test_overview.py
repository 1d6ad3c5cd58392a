"""The ops overview's figures on a database of known cases (tests/ops/conftest.py), read by the
service's restricted role with SQL aggregates."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from ops.overview import Day, overview, temporal_ui_link
from store.read_model import flag_attention
from tests.ops.conftest import NOW, Known


async def test_counts_queue_and_figures_of_known_cases(known: Known) -> None:
    o = await overview(known.pool, now=NOW, temporal_ui="http://127.0.0.1:8233/", namespace="shop")
    assert o.cases == 6
    assert o.by_status == {
        "resolved": 3,
        "awaiting_parcel": 1,
        "awaiting_photos": 1,
        "rejected": 1,
    }
    assert o.by_kind == {"return": 3, "warranty": 2, "rejected": 1}
    # The queue: flagged cases only, oldest first, with why and their Temporal UI page.
    assert o.needs_attention == 2
    assert [(c.return_id, c.reasons) for c in o.queue] == [
        ("R-6", ["reminder sent: parcel"]),
        ("R-5", ["rejected, appeal window open"]),
    ]
    assert o.queue[0].temporal_ui == "http://127.0.0.1:8233/namespaces/shop/workflows/return-R-6"
    # Resolved after 1, 2 and 6 days; R-5 is closed-less and rejected: not a resolution.
    assert o.median_days_to_resolution == 2.0
    # 9 messages of these cases (R-OTHER's 4 are not in the read model) over 6 cases.
    assert o.messages_per_case == 1.5
    assert o.photos_asked_share == round(2 / 6, 4)
    assert (o.refund.cases, o.refund.amount) == (2, Decimal("100.00"))
    assert (o.store_credit.cases, o.store_credit.amount) == (1, Decimal("25.50"))


async def test_the_last_30_days_per_day(known: Known) -> None:
    o = await overview(known.pool, now=NOW)
    assert len(o.days) == 30
    assert o.days[-1].day == NOW.date() and o.days[0].day == NOW.date() - timedelta(days=29)
    by_day = {d.day: d for d in o.days}

    def on(days_ago: float) -> Day:
        return by_day[(NOW - timedelta(days=days_ago)).date()]

    assert on(10).opened == {"return": 1}
    assert on(9).resolved == {"return": 1} and on(9).refunded == Decimal("40.00")
    assert on(2).resolved == {"warranty": 1} and on(2).store_credit == Decimal("25.50")
    assert on(0.1).opened == {"warranty": 1}
    # R-6 was opened 40 days ago: outside the charts, still in the counts.
    assert sum(sum(d.opened.values()) for d in o.days) == 5
    assert sum(sum(d.resolved.values()) for d in o.days) == 3
    assert sum(d.refunded for d in o.days) == Decimal("100.00")


async def test_a_refused_refund_flags_the_case_with_its_reason_once(known: Known) -> None:
    await flag_attention(known.pool, "R-4")
    await flag_attention(known.pool, "R-4")
    o = await overview(known.pool, now=NOW)
    assert [(c.return_id, c.reasons) for c in o.queue][-1] == (
        "R-4",
        ["refund refused by the payment provider"],
    )
    await known.restore()


def test_no_ui_no_link() -> None:
    assert temporal_ui_link(None, "default", "R-1") is None
    assert (
        temporal_ui_link("http://ui:8080", "default", "R-1")
        == "http://ui:8080/namespaces/default/workflows/return-R-1"
    )


async def test_an_empty_read_model_has_no_figures(known: Known) -> None:
    # Last in the module: it empties the module's database.
    async with known.pool.acquire() as conn:
        await conn.execute("truncate return_cases")
    o = await overview(known.pool, now=NOW)
    assert (o.cases, o.by_status, o.queue, o.median_days_to_resolution) == (0, {}, [], None)
    assert (o.messages_per_case, o.photos_asked_share) == (None, None)
    assert len(o.days) == 30 and all(not d.opened for d in o.days)
