"""GET /v1/returns/{id}/refunds and POST /v1/returns/{id}/retry-effects over HTTP: who may call
them, and what they answer (the embedded ledger is the provider here; tests/payments has Stripe)."""

from __future__ import annotations

import httpx

from tests.api.conftest import auth
from tests.api.test_returns import problem
from tests.workflow.test_return_case import toner


async def test_refunds_list_the_cases_refund_with_its_provider(
    http: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    req = toner()
    rid = req["return_id"]
    shop = auth(keys["webshop"])
    assert (await http.post("/v1/returns", json=req, headers=shop)).status_code == 201
    r = await http.post(
        f"/v1/returns/{rid}/photos", json={"line_id": "L1", "photos": ["e.jpg"]}, headers=shop
    )
    assert r.json()["status"] == "resolved"

    for key in ("webshop", "ops"):
        r = await http.get(f"/v1/returns/{rid}/refunds", headers=auth(keys[key]))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["return_id"] == rid
        [refund] = body["refunds"]
        assert {k: refund[k] for k in ("amount", "payment_method", "payment_reference", "provider")} == {
            "amount": "39.95",
            "payment_method": "ideal",
            "payment_reference": "tr_toner",
            "provider": "ledger",
        }
        assert (refund["provider_refund_id"], refund["status"]) == (None, "succeeded")
        assert refund["checked_at"] is None  # the ledger's refund is final at once: never asked
        assert refund["key"] and refund["created_at"]

    assert problem(await http.get(f"/v1/returns/{rid}/refunds", headers=auth(keys["warehouse"])), 403)
    assert problem(await http.get(f"/v1/returns/{rid}/refunds"), 401)
    assert (
        "R-NO-SUCH" in problem(await http.get("/v1/returns/R-NO-SUCH/refunds", headers=shop), 404)["detail"]
    )


async def test_retry_effects_is_for_ops_and_refused_on_a_closed_case(
    http: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    req = toner()
    rid = req["return_id"]
    shop = auth(keys["webshop"])
    ops = auth(keys["ops"])
    await http.post("/v1/returns", json=req, headers=shop)
    r = await http.post(f"/v1/returns/{rid}/retry-effects", headers=ops)  # open: nothing refused, harmless
    assert (r.status_code, r.json()) == (202, {"return_id": rid, "retry_effects": "sent"})
    await http.post(f"/v1/returns/{rid}/photos", json={"line_id": "L1", "photos": ["e.jpg"]}, headers=shop)

    assert problem(await http.post(f"/v1/returns/{rid}/retry-effects", headers=shop), 403)
    assert (
        "closed" in problem(await http.post(f"/v1/returns/{rid}/retry-effects", headers=ops), 409)["detail"]
    )
    assert problem(await http.post("/v1/returns/R-NO-SUCH/retry-effects", headers=ops), 404)
