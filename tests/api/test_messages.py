"""GET /v1/returns/{id}/messages: a case's customer messages and their delivery (webshop, ops)."""

from __future__ import annotations

import asyncpg
import httpx

from tests.api.conftest import auth
from tests.workflow.test_return_case import toner


async def test_a_case_lists_its_messages_with_their_delivery_state(
    http: httpx.AsyncClient, keys: dict[str, str], admin: asyncpg.Connection
) -> None:
    req = toner()
    rid = req["return_id"]
    assert (await http.post("/v1/returns", json=req, headers=auth(keys["webshop"]))).status_code == 201
    r = await http.get(f"/v1/returns/{rid}/messages", headers=auth(keys["ops"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["return_id"] == rid
    [message] = body["messages"]
    assert message["template"] == "case_opened"
    assert message["key"].startswith(f"return-{rid}:")
    # No relay runs beside this API: queued, never tried.
    assert (message["state"], message["attempts"], message["sent_at"], message["message_id"]) == (
        "queued",
        0,
        None,
        None,
    )
    assert "email" not in message and "text" not in message  # no personal data
    # As the relay records a delivery.
    await admin.execute(
        "update outbox set state = 'sent', attempts = 2, sent_at = now(), smtp_message_id = $2,"
        " last_error = '451 4.3.0 busy' where idempotency_key = $1",
        message["key"],
        "<x@shop.example>",
    )
    r = await http.get(f"/v1/returns/{rid}/messages", headers=auth(keys["webshop"]))
    [sent] = r.json()["messages"]
    assert (sent["state"], sent["attempts"], sent["message_id"], sent["last_error"]) == (
        "sent",
        2,
        "<x@shop.example>",
        "451 4.3.0 busy",
    )
    assert sent["sent_at"] is not None


async def test_messages_refuse_other_roles_unknown_cases_and_bad_ids(
    http: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    assert (await http.get("/v1/returns/R-X/messages")).status_code == 401
    r = await http.get("/v1/returns/R-X/messages", headers=auth(keys["warehouse"]))
    assert r.status_code == 403
    r = await http.get("/v1/returns/R-NO-SUCH-CASE/messages", headers=auth(keys["ops"]))
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    assert "R-NO-SUCH-CASE" in r.json()["detail"]
    r = await http.get("/v1/returns/R%20X/messages", headers=auth(keys["ops"]))
    assert r.status_code == 422 and "return_id" in r.text
