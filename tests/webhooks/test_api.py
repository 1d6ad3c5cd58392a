"""/v1/webhooks served for real (uvicorn on a free port) beside the `returns` fixture's worker:
endpoints registered over HTTP, cases driven over HTTP, their events at a real receiver, the
delivery log and redelivery over HTTP; errors as problems."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from api.app import Deps, create_app
from api.keys import create_key
from api.problems import MEDIA_TYPE
from api.server import serving
from payload.codec import Keyring
from returns_client import ReturnsClient
from store.event_store import EventStore
from tests.webhooks.conftest import running, wait_until
from tests.webhooks.receiver import Receiver
from tests.workflow.test_return_case import toner
from webhooks.events import EVENT_TYPES, Recorded, payloads

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
async def wh_api(returns: ReturnsClient, session_pool: asyncpg.Pool, keyring: Keyring) -> AsyncIterator[str]:
    async with serving(create_app(Deps(pool=session_pool, returns=returns, keyring=keyring))) as url:
        yield url


@pytest.fixture(scope="module")
async def wh_keys(session_dsn: str) -> dict[str, str]:
    conn = await asyncpg.connect(session_dsn)
    try:
        out = {}
        for role, actor in (("webshop", None), ("warehouse", None), ("ops", "ops:anna")):
            _, out[role] = await create_key(conn, role, actor, label=f"webhook tests {role}")
        return out
    finally:
        await conn.close()


@pytest.fixture
async def http(wh_api: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=wh_api, timeout=60) as client:
        yield client


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == MEDIA_TYPE
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["detail"]
    return body


async def test_endpoints_over_http_and_their_errors(http: httpx.AsyncClient, wh_keys: dict[str, str]) -> None:
    shop, ops = auth(wh_keys["webshop"]), auth(wh_keys["ops"])
    url = "https://shop.example/hooks"
    problem(await http.post("/v1/webhooks/endpoints", json={"url": url}), 401)
    problem(
        await http.post("/v1/webhooks/endpoints", json={"url": url}, headers=auth(wh_keys["warehouse"])), 403
    )
    bad = problem(await http.post("/v1/webhooks/endpoints", json={"url": "ftp://x"}, headers=shop), 422)
    assert [e["field"] for e in bad["errors"]] == ["url"]
    body = {"url": url, "event_types": ["refund.issued", "return.exploded"]}
    bad = problem(await http.post("/v1/webhooks/endpoints", json=body, headers=shop), 422)
    assert [e["field"] for e in bad["errors"]] == ["event_types[1]"], bad
    bad = problem(
        await http.post("/v1/webhooks/endpoints", json={"url": url, "secret": "x"}, headers=shop), 422
    )
    assert bad["errors"] == [{"field": "secret", "message": "unknown field"}]

    r = await http.post(
        "/v1/webhooks/endpoints", json={"url": url, "event_types": ["refund.issued"]}, headers=shop
    )
    assert r.status_code == 201, r.text
    created = r.json()
    endpoint_id, secret = created["endpoint_id"], created["secret"]
    assert secret.startswith("whsec_") and created["enabled"] and created["event_types"] == ["refund.issued"]
    listed = (await http.get("/v1/webhooks/endpoints", headers=ops)).json()["items"]
    mine = next(e for e in listed if e["endpoint_id"] == endpoint_id)
    assert "secret" not in mine and secret not in (await http.get("/v1/webhooks/endpoints", headers=ops)).text
    problem(await http.get("/v1/webhooks/endpoints/ep_nope", headers=shop), 404)

    r = await http.patch(f"/v1/webhooks/endpoints/{endpoint_id}", json={"enabled": False}, headers=ops)
    assert r.status_code == 200 and not r.json()["enabled"]
    assert r.json()["disabled_reason"] == f"disabled by ops:anna ({wh_keys['ops'].split('_')[1]})"
    r = await http.patch(
        f"/v1/webhooks/endpoints/{endpoint_id}", json={"enabled": True, "event_types": []}, headers=shop
    )
    assert r.json()["enabled"] and r.json()["event_types"] == [] and r.json()["disabled_reason"] is None

    r = await http.post(f"/v1/webhooks/endpoints/{endpoint_id}/rotate-secret", headers=shop)
    assert r.status_code == 200, r.text
    assert r.json()["secret"].startswith("whsec_") and r.json()["secret"] != secret
    got = (await http.get(f"/v1/webhooks/endpoints/{endpoint_id}", headers=shop)).json()
    assert got["secrets_valid"] == 2
    problem(await http.post("/v1/webhooks/endpoints/ep_nope/rotate-secret", headers=shop), 404)

    bad = problem(
        await http.post(
            f"/v1/webhooks/endpoints/{endpoint_id}/redeliver", json={"from": "soon"}, headers=shop
        ),
        422,
    )
    assert bad["errors"][0]["field"] == "from"
    bad = problem(await http.get("/v1/webhooks/deliveries", params={"cursor": "zz"}, headers=shop), 422)
    assert bad["errors"][0]["field"] == "cursor"
    problem(await http.get("/v1/webhooks/deliveries", params={"limit": 0}, headers=shop), 422)

    assert (await http.delete(f"/v1/webhooks/endpoints/{endpoint_id}", headers=shop)).status_code == 204
    problem(await http.delete(f"/v1/webhooks/endpoints/{endpoint_id}", headers=shop), 404)


async def test_the_openapi_document_describes_every_webhook(http: httpx.AsyncClient) -> None:
    doc = (await http.get("/openapi.json")).json()
    assert set(doc["webhooks"]) == set(EVENT_TYPES)
    assert "/v1/webhooks/deliveries" in doc["paths"] and "WebhookPayload" in doc["components"]["schemas"]


async def test_cases_driven_over_http_reach_the_shop_in_order(
    http: httpx.AsyncClient, wh_keys: dict[str, str], session_pool: asyncpg.Pool, keyring: Keyring
) -> None:
    shop, ops = auth(wh_keys["webshop"]), auth(wh_keys["ops"])
    receiver = await Receiver([]).start()
    r = await http.post("/v1/webhooks/endpoints", json={"url": receiver.url}, headers=shop)
    endpoint_id = r.json()["endpoint_id"]
    receiver.secrets.append(r.json()["secret"])
    # Endpoints other tests of this database registered (schemathesis' random URLs) get nothing.
    await session_pool.execute(
        "update webhook_endpoints set enabled = false, disabled_reason = 'other test'"
        " where endpoint_id <> $1 and enabled",
        endpoint_id,
    )
    waived, cancelled = toner(), toner()
    async with running(session_pool, keyring):
        for req in (waived, cancelled):
            assert (await http.post("/v1/returns", json=req, headers=shop)).status_code == 201
        rid = waived["return_id"]
        r = await http.post(
            f"/v1/returns/{rid}/overrides", json={"type": "waive_photos", "reason": "by phone"}, headers=ops
        )
        assert r.json()["status"] == "resolved", r.text
        await http.post(f"/v1/returns/{cancelled['return_id']}/cancel", headers=shop)
        want: dict[str, list[int]] = {}
        for req in (waived, cancelled):
            stream = await EventStore(session_pool).read_stream(f"return-{req['return_id']}")
            recorded = [Recorded(str(s.event_id), s.stream_version, s.recorded_at, s.data) for s in stream]
            want[req["return_id"]] = [
                x.stream_version for x, _ in payloads(recorded, {x.event_id for x in recorded})
            ]
        await wait_until(lambda: receiver.sequences_by_case() == want, what="every event of both cases")
        types = [
            x.payload["type"] for x in receiver.first_receipts() if x.payload["data"]["return_id"] == rid
        ]
        assert types == ["return.opened", "override.applied", "return.resolved", "refund.issued"]
        log = (await http.get("/v1/webhooks/deliveries", params={"return_id": rid}, headers=ops)).json()
        assert [d["msg_id"] for d in reversed(log["items"])] == [
            x.msg_id for x in receiver.first_receipts() if x.payload["data"]["return_id"] == rid
        ]
        assert {d["http_status"] for d in log["items"]} == {204}
        first = log["items"][-1]["position"]
        r = await http.post(
            f"/v1/webhooks/endpoints/{endpoint_id}/redeliver", json={"from": first}, headers=shop
        )
        assert r.status_code == 200 and r.json()["requeued"] >= len(want[rid])
        await wait_until(lambda: receiver.duplicates() >= len(want[rid]), what="the redelivery")
    print(f"over HTTP: {len(receiver.received)} receipts, {receiver.duplicates()} duplicates (redelivered)")
    assert receiver.rejected == 0
    await http.delete(f"/v1/webhooks/endpoints/{endpoint_id}", headers=shop)
    await receiver.stop()


# (method, path, body, status for an allowed key): unknown endpoints, so the matrix changes nothing.
WEBHOOK_ROUTES: list[tuple[str, str, object, int]] = [
    ("GET", "/v1/webhooks/endpoints", None, 200),
    ("GET", "/v1/webhooks/endpoints/ep_unknown", None, 404),
    ("PATCH", "/v1/webhooks/endpoints/ep_unknown", {"description": "x"}, 404),
    ("DELETE", "/v1/webhooks/endpoints/ep_unknown", None, 404),
    ("POST", "/v1/webhooks/endpoints/ep_unknown/rotate-secret", None, 404),
    ("POST", "/v1/webhooks/endpoints/ep_unknown/redeliver", {"from": "1:1"}, 404),
    ("GET", "/v1/webhooks/deliveries", None, 200),
    ("POST", "/v1/webhooks/endpoints", {"url": "http://127.0.0.1:9/never"}, 201),
]


async def test_webshop_and_ops_keys_manage_webhooks_the_warehouse_may_not(
    http: httpx.AsyncClient, wh_keys: dict[str, str]
) -> None:
    created = []
    for method, path, body, status in WEBHOOK_ROUTES:
        for role, expected in (("webshop", status), ("ops", status), ("warehouse", 403), (None, 401)):
            headers = auth(wh_keys[role]) if role else {}
            r = await http.request(method, path, json=body, headers=headers)
            assert r.status_code == expected, (method, path, role, r.text)
            if r.status_code == 201:
                created.append(r.json()["endpoint_id"])
    for endpoint_id in created:
        assert (
            await http.delete(f"/v1/webhooks/endpoints/{endpoint_id}", headers=auth(wh_keys["ops"]))
        ).status_code == 204
