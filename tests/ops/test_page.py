"""Who may open the ops overview, over real HTTP (uvicorn on a free port): an ops key as a bearer
header or through the sign-in form's session cookie; no key 401, another role's key 403, a
revoked key refused at once, the key never in a cookie or a log line."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from api.app import create_app
from api.keys import create_key, revoke_key
from api.server import serving
from ops.api import router as ops_router
from ops.session import COOKIE
from tests.ops.conftest import Known


@pytest.fixture
async def http(known: Known) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(routers=[ops_router])
    app.state.pool = known.pool
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=60) as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_no_key_401_other_roles_403_ops_200(known: Known, http: httpx.AsyncClient) -> None:
    _, ops = await create_key(known.admin, "ops", "ops:anna")
    _, shop = await create_key(known.admin, "webshop", None)
    _, warehouse = await create_key(known.admin, "warehouse", None)

    page = await http.get("/ops")
    assert page.status_code == 401 and 'name="key"' in page.text and "<script" not in page.text
    api = await http.get("/v1/ops/overview")
    assert api.status_code == 401 and api.headers["content-type"] == "application/problem+json"

    for key in (shop, warehouse):
        assert (await http.get("/ops", headers=bearer(key))).status_code == 403
        assert (await http.get("/v1/ops/overview", headers=bearer(key))).status_code == 403
    assert (await http.get("/ops", headers=bearer(ops + "x"))).status_code == 401

    page = await http.get("/ops", headers=bearer(ops))
    assert page.status_code == 200 and "ops:anna" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert re.search(r'<table id="by-status">.*?resolved</th><td class="num">3<', page.text, re.S)
    api = await http.get("/v1/ops/overview", headers=bearer(ops))
    assert api.status_code == 200
    assert (api.json()["cases"], api.json()["by_kind"]) == (6, {"return": 3, "warranty": 2, "rejected": 1})


async def test_sign_in_sets_a_session_cookie_and_a_revoked_key_is_refused_at_once(
    known: Known, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key_id, ops = await create_key(known.admin, "ops", "ops:ben")
    _, shop = await create_key(known.admin, "webshop", None)
    form = {"Content-Type": "application/x-www-form-urlencoded"}

    refused = await http.post("/ops/sign-in", content=f"key={shop}", headers=form)
    assert refused.status_code == 403 and COOKIE not in refused.headers.get("set-cookie", "")
    wrong = await http.post("/ops/sign-in", content="key=rk_000000000000_" + "x" * 40, headers=form)
    assert wrong.status_code == 401 and "invalid or revoked" in wrong.text
    assert (await http.post("/ops/sign-in", content="key=", headers=form)).status_code == 401

    signed_in = await http.post("/ops/sign-in", content=f"key={ops}", headers=form)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/ops"
    cookie = signed_in.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Path=/ops" in cookie
    assert ops not in cookie and ops.rsplit("_", 1)[1] not in cookie  # the key's id only
    session = http.cookies[COOKIE]
    assert session.startswith(key_id + ".")

    page = await http.get("/ops")  # the client sends the cookie, no header
    assert page.status_code == 200 and "ops:ben" in page.text and "Today's queue" in page.text

    tampered = key_id + ".9999999999." + session.rsplit(".", 1)[1]
    assert (await http.get("/ops", cookies={COOKIE: tampered})).status_code == 401
    http.cookies.set(COOKIE, session, path="/ops")

    assert await revoke_key(known.admin, key_id)
    again = await http.get("/ops")
    assert again.status_code == 401 and 'name="key"' in again.text

    out = await http.post("/ops/sign-out")
    assert out.status_code == 303 and f'{COOKIE}=""' in out.headers["set-cookie"]
    secret = ops.rsplit("_", 1)[1]
    assert not [
        r for r in caplog.records if secret in r.getMessage() or shop.rsplit("_", 1)[1] in r.getMessage()
    ]
