"""POST /v1/returns/{return_id}/replacement-order: the shop's order id for a replacement, taken
on a case whose workflow has completed too, and GET of a completed case showing what was
recorded after its workflow ended (returns_client.late)."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx

from domain import commands as cmd
from returns_client import ReturnsClient
from returns_client.late import tell_case
from store.read_model import get_case
from tests.api.conftest import auth
from tests.api.test_returns import problem
from tests.workflow.test_return_case import toner


def resolved_at_intake(preferred: str) -> dict[str, Any]:
    r = toner(preferred_resolution=preferred)
    r["items"][0]["photos"] = ["toner-error.jpg"]
    return r


async def completed_case(
    http: httpx.AsyncClient, shop: dict[str, str], rc: ReturnsClient, preferred: str
) -> str:
    req = resolved_at_intake(preferred)
    r = await http.post("/v1/returns", json=req, headers=shop)
    assert r.status_code == 201 and r.json()["status"] == "resolved", r.text
    await rc.client.get_workflow_handle(rc.case_id(req["return_id"])).result()
    return str(req["return_id"])


async def test_the_shops_order_id_shows_on_the_completed_case(
    http: httpx.AsyncClient, keys: dict[str, str], returns: ReturnsClient
) -> None:
    shop = auth(keys["webshop"])
    rid = await completed_case(http, shop, returns, "replacement")
    url = f"/v1/returns/{rid}/replacement-order"
    r = await http.post(url, json={"order_id": "SHOP-9001"}, headers=shop)
    assert r.status_code == 200, r.text
    assert r.json()["replacement_order_id"] == "SHOP-9001" and r.json()["status"] == "resolved"
    got = await http.get(f"/v1/returns/{rid}", headers=auth(keys["ops"]))
    assert got.status_code == 200 and got.json() == r.json()
    # The same id again answers the same view; another is refused, naming the one recorded.
    again = await http.post(url, json={"order_id": "SHOP-9001"}, headers=shop)
    assert again.status_code == 200 and again.json() == r.json()
    other = problem(await http.post(url, json={"order_id": "SHOP-9002"}, headers=shop), 409)
    assert "already confirmed as SHOP-9001" in other["detail"]
    got = await http.get(f"/v1/returns/{rid}", headers=shop)
    assert got.json()["replacement_order_id"] == "SHOP-9001"


async def test_a_case_not_resolved_with_replacement_is_a_conflict(
    http: httpx.AsyncClient, keys: dict[str, str], returns: ReturnsClient
) -> None:
    shop = auth(keys["webshop"])
    rid = await completed_case(http, shop, returns, "refund")
    body = problem(
        await http.post(f"/v1/returns/{rid}/replacement-order", json={"order_id": "SHOP-1"}, headers=shop),
        409,
    )
    assert "not resolved with a replacement" in body["detail"] and body["current_status"] == "resolved"
    assert (await http.get(f"/v1/returns/{rid}", headers=shop)).json()["replacement_order_id"] is None
    # An open case too (its workflow runs).
    req = toner()
    await http.post("/v1/returns", json=req, headers=shop)
    url = f"/v1/returns/{req['return_id']}/replacement-order"
    body = problem(await http.post(url, json={"order_id": "SHOP-1"}, headers=shop), 409)
    assert body["current_status"] == "awaiting_photos"


async def test_bad_input_names_the_field_and_other_roles_are_forbidden(
    http: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    shop = auth(keys["webshop"])
    url = "/v1/returns/R-NONE/replacement-order"
    for bad in ({"order_id": "   "}, {"order_id": ""}, {}, {"order_id": 12}, {"order_id": "x", "more": 1}):
        body = problem(await http.post(url, json=bad, headers=shop), 422)
        assert body["detail"].startswith("invalid ConfirmReplacementOrder"), body
        assert "order_id" in body["detail"] or "more" in body["detail"], body
    problem(await http.post(url, json={"order_id": "SHOP-1"}, headers=auth(keys["warehouse"])), 403)
    problem(await http.post(url, json={"order_id": "SHOP-1"}, headers=shop), 404)


async def test_a_failed_message_shows_on_the_completed_case(
    http: httpx.AsyncClient, keys: dict[str, str], returns: ReturnsClient, session_pool: asyncpg.Pool
) -> None:
    shop = auth(keys["webshop"])
    rid = await completed_case(http, shop, returns, "refund")
    fact = cmd.MessageFailed(
        key=f"{returns.case_id(rid)}:1:message:case_resolved",
        template="case_resolved",
        reason="550 no such user",
    )
    await tell_case(returns.client, session_pool, rid, fact)
    view = (await http.get(f"/v1/returns/{rid}", headers=auth(keys["ops"]))).json()
    assert [(f["template"], f["reason"]) for f in view["failed_messages"]] == [
        ("case_resolved", "550 no such user")
    ]
    row = await get_case(session_pool, rid)
    assert row is not None and row.needs_attention  # ops' list: GET /v1/returns?needs_attention=true
