"""GET /v1/customers/{id}/balance and POST .../balance/redemptions over the served API: the credit
a case granted, redeemed once per reference, never below zero even with requests racing, bad
amounts a 422 naming `amount`, more than the balance a 409 naming it."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import asyncpg
import httpx

from returns_client import ReturnsClient
from store import ledgers
from tests.api.conftest import auth
from tests.api.test_returns import problem
from tests.workflow.test_return_case import toner


def customer() -> str:
    return f"C-{uuid.uuid4().hex[:10]}"


async def grant(pool: asyncpg.Pool, customer_id: str, amount: str) -> None:
    rid = f"R-{uuid.uuid4().hex[:10]}"
    await ledgers.grant_store_credit(
        pool,
        idempotency_key=f"return-{rid}:3:store_credit",
        return_id=rid,
        customer_id=customer_id,
        amount=Decimal(amount),
    )


async def test_the_credit_a_case_granted_is_the_customers_balance(
    http: httpx.AsyncClient, keys: dict[str, str], returns: ReturnsClient
) -> None:
    req = toner(preferred_resolution="store_credit")
    req["items"][0]["photos"] = ["toner-error.jpg"]  # resolved at intake
    cid = req["order"]["customer"]["id"] = customer()
    r = await http.post("/v1/returns", json=req, headers=auth(keys["webshop"]))
    assert r.json()["status"] == "resolved", r.text
    await returns.client.get_workflow_handle(returns.case_id(req["return_id"])).result()
    credit = (await http.get(f"/v1/returns/{req['return_id']}", headers=auth(keys["webshop"]))).json()
    b = await http.get(f"/v1/customers/{cid}/balance", headers=auth(keys["webshop"]))
    assert b.status_code == 200, b.text
    body = b.json()
    assert (body["customer_id"], body["currency"], body["balance"]) == (cid, "EUR", credit["store_credit"])
    [entry] = body["entries"]
    assert (entry["type"], entry["amount"], entry["return_id"]) == (
        "grant",
        credit["store_credit"],
        req["return_id"],
    )
    assert entry["key"].startswith(f"return-{req['return_id']}:") and entry["key"].endswith(":store_credit")
    assert (await http.get(f"/v1/customers/{cid}/balance", headers=auth(keys["ops"]))).status_code == 200


async def test_a_reference_redeems_once_with_or_without_an_idempotency_key(
    http: httpx.AsyncClient, keys: dict[str, str], session_pool: asyncpg.Pool
) -> None:
    cid, shop = customer(), auth(keys["webshop"])
    await grant(session_pool, cid, "20.00")
    url = f"/v1/customers/{cid}/balance/redemptions"
    first = await http.post(url, json={"amount": "12.50", "reference": "SHOP-1"}, headers=shop)
    assert first.status_code == 201, first.text
    assert (first.json()["amount"], first.json()["balance"], first.json()["reference"]) == (
        "12.50",
        "7.50",
        "SHOP-1",
    )
    again = await http.post(url, json={"amount": "12.50", "reference": "SHOP-1"}, headers=shop)
    assert again.status_code == 200 and again.json()["redemption_id"] == first.json()["redemption_id"]
    other = problem(await http.post(url, json={"amount": "1.00", "reference": "SHOP-1"}, headers=shop), 409)
    assert "SHOP-1 was already redeemed for 12.50" in other["detail"]
    # The API's Idempotency-Key: a retry answers the first answer.
    keyed = {**shop, "Idempotency-Key": f"redeem-{uuid.uuid4()}"}
    one = await http.post(url, json={"amount": "2.00", "reference": "SHOP-2"}, headers=keyed)
    two = await http.post(url, json={"amount": "2.00", "reference": "SHOP-2"}, headers=keyed)
    assert (one.status_code, two.status_code) == (201, 201) and one.json() == two.json()
    b = (await http.get(f"/v1/customers/{cid}/balance", headers=shop)).json()
    assert b["balance"] == "5.50"
    assert [(e["type"], e["amount"], e["reference"]) for e in b["entries"]] == [
        ("redemption", "2.00", "SHOP-2"),
        ("redemption", "12.50", "SHOP-1"),
        ("grant", "20.00", None),
    ]
    assert len((await http.get(f"/v1/customers/{cid}/balance?limit=1", headers=shop)).json()["entries"]) == 1


async def test_more_than_the_balance_is_a_conflict_naming_it(
    http: httpx.AsyncClient, keys: dict[str, str], session_pool: asyncpg.Pool
) -> None:
    cid, shop = customer(), auth(keys["webshop"])
    await grant(session_pool, cid, "5.00")
    url = f"/v1/customers/{cid}/balance/redemptions"
    body = problem(await http.post(url, json={"amount": "5.01", "reference": "SHOP-1"}, headers=shop), 409)
    assert body["balance"] == "5.00" and "the balance is 5.00" in body["detail"]
    unknown = customer()
    body = problem(
        await http.post(
            f"/v1/customers/{unknown}/balance/redemptions",
            json={"amount": "1.00", "reference": "S"},
            headers=shop,
        ),
        409,
    )
    assert body["balance"] == "0.00"
    empty = (await http.get(f"/v1/customers/{unknown}/balance", headers=shop)).json()
    assert (empty["balance"], empty["entries"]) == ("0.00", [])
    assert (await http.get(f"/v1/customers/{cid}/balance", headers=shop)).json()["balance"] == "5.00"


async def test_bad_amounts_name_the_field_and_change_nothing(
    http: httpx.AsyncClient, keys: dict[str, str], session_pool: asyncpg.Pool
) -> None:
    cid, shop = customer(), auth(keys["webshop"])
    await grant(session_pool, cid, "5.00")
    url = f"/v1/customers/{cid}/balance/redemptions"
    bad: list[Any] = ["0", "0.00", "-1.00", "1.005", 1.5, "abc", None, "NaN", "1e3"]
    for amount in bad:
        body = problem(
            await http.post(url, json={"amount": amount, "reference": "SHOP-1"}, headers=shop), 422
        )
        assert body["detail"].startswith("invalid Redemption: amount"), (amount, body)
    for reference in ("", "   ", "a\x00b", "x" * 201):
        body = problem(
            await http.post(url, json={"amount": "1.00", "reference": reference}, headers=shop), 422
        )
        assert "reference" in body["detail"], body
    problem(await http.post(url, json={"amount": "1.00"}, headers=shop), 422)
    problem(await http.post(url, json={"amount": "1.00", "reference": "S", "more": 1}, headers=shop), 422)
    b = (await http.get(f"/v1/customers/{cid}/balance", headers=shop)).json()
    assert (b["balance"], len(b["entries"])) == ("5.00", 1)
    problem(await http.get(f"/v1/customers/{cid}/balance?limit=0", headers=shop), 422)


async def test_only_the_shop_and_ops_read_and_redeem(
    http: httpx.AsyncClient, keys: dict[str, str], session_pool: asyncpg.Pool
) -> None:
    cid = customer()
    await grant(session_pool, cid, "5.00")
    url = f"/v1/customers/{cid}/balance/redemptions"
    problem(await http.get(f"/v1/customers/{cid}/balance", headers=auth(keys["warehouse"])), 403)
    problem(
        await http.post(url, json={"amount": "1.00", "reference": "S"}, headers=auth(keys["warehouse"])), 403
    )
    problem(await http.get(f"/v1/customers/{cid}/balance"), 401)
    r = await http.post(url, json={"amount": "1.00", "reference": "OPS-1"}, headers=auth(keys["ops"]))
    assert r.status_code == 201 and r.json()["balance"] == "4.00"


async def test_racing_requests_never_take_the_balance_below_zero(
    http: httpx.AsyncClient, keys: dict[str, str], session_pool: asyncpg.Pool
) -> None:
    cid, shop = customer(), auth(keys["webshop"])
    await grant(session_pool, cid, "10.00")
    url = f"/v1/customers/{cid}/balance/redemptions"
    answers = await asyncio.gather(
        *(http.post(url, json={"amount": "3.00", "reference": f"SHOP-{n}"}, headers=shop) for n in range(8))
    )
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] * 3 + [409] * 5, [a.text for a in answers]
    b = (await http.get(f"/v1/customers/{cid}/balance", headers=shop)).json()
    assert b["balance"] == "1.00" and [e["type"] for e in b["entries"]].count("redemption") == 3
