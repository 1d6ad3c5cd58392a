"""store_credit.granted and replacement.requested as a shop receives them (issue 12): delivered
by the real relay and sender to a real HTTP receiver, with what a shop with its own gift cards or
order system needs to book them once (the key), and the lines and quantities to send."""

from __future__ import annotations

import asyncpg
import pytest

from payload.codec import Keyring
from tests.webhooks.conftest import running, wait_until
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_delivery import append_all, endpoint, new_cases

pytestmark = pytest.mark.slow


async def test_the_shop_gets_the_key_and_what_to_send(wh_pool: asyncpg.Pool, keyring: Keyring) -> None:
    receiver = await Receiver([]).start()
    await endpoint(wh_pool, keyring, receiver, ["store_credit.granted", "replacement.requested"])
    # A printer resolved with store credit, sneakers under warranty with a replacement.
    cases = new_cases(["014_printer_choose_store_credit", "015_sneakers_warranty_choose_replacement"], "SHOP")
    (credit_case, replacement_case) = cases
    async with running(wh_pool, keyring):
        await append_all(wh_pool, cases)
        await wait_until(lambda: len(receiver.received) == 2, what="both webhooks")
    by_type = {r.payload["type"]: r.payload["data"] for r in receiver.received}

    granted = by_type["store_credit.granted"]
    [issued] = [e.data for e in cases[credit_case] if e.type == "store_credit_issued"]
    request = cases[credit_case][0].data["request"]
    assert granted["return_id"] == credit_case
    assert granted["event"] == {
        "amount": issued["amount"],
        "customer_id": request["order"]["customer"]["id"],
        "return_id": credit_case,
        "key": issued["key"],
    }
    assert issued["key"].startswith(f"return-{credit_case}:")

    replacement = by_type["replacement.requested"]["event"]
    [ordered] = [e.data for e in cases[replacement_case] if e.type == "replacement_ordered"]
    request = cases[replacement_case][0].data["request"]
    lines = {x["line_id"]: x for x in request["order"]["lines"]}
    returned = {i["line_id"]: i["quantity"] for i in request["items"]}
    assert replacement["key"] == ordered["key"] and replacement["return_id"] == replacement_case
    assert replacement["order_id"] == request["order"]["order_id"]
    assert replacement["lines"] == [
        {"line_id": lid, "sku": lines[lid]["sku"], "name": lines[lid]["name"], "quantity": returned[lid]}
        for lid in ordered["line_ids"]
    ]
    assert receiver.duplicates() == 0
    await receiver.stop()
