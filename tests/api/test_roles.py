"""Keys per role: every route by every role, and missing, wrong, malformed and revoked keys; the
keys CLI prints a key once and never again, and nothing logs a presented key."""

from __future__ import annotations

import logging

import asyncpg
import httpx
import pytest

from api.keys import create_key, revoke_key
from tests.api.conftest import api_cli, auth
from tests.workflow.test_return_case import toner

ALL = {"webshop", "warehouse", "ops"}
UNKNOWN = "R-ROLES-UNKNOWN"
# (method, path, body, roles allowed): an allowed key gets past auth to the route's own answer
# (2xx, or 404 for actions on a case that does not exist, so the matrix changes no case).
ROUTES: list[tuple[str, str, object, set[str]]] = [
    ("GET", "/v1/returns", None, ALL),
    ("GET", "/v1/returns/{known}", None, ALL),
    ("POST", f"/v1/returns/{UNKNOWN}/photos", {"line_id": "L1", "photos": ["a.jpg"]}, {"webshop"}),
    ("POST", f"/v1/returns/{UNKNOWN}/choice", {"resolution": "refund"}, {"webshop"}),
    ("POST", f"/v1/returns/{UNKNOWN}/cancel", None, {"webshop"}),
    ("POST", f"/v1/returns/{UNKNOWN}/parcel", None, {"warehouse"}),
    ("POST", f"/v1/returns/{UNKNOWN}/inspection", {"passed": True}, {"warehouse"}),
    ("POST", f"/v1/returns/{UNKNOWN}/repair", {"note": "done"}, {"warehouse"}),
    ("POST", f"/v1/returns/{UNKNOWN}/overrides", {"type": "waive_photos", "reason": "r"}, {"ops"}),
    ("POST", f"/v1/returns/{UNKNOWN}/replacement-order", {"order_id": "SHOP-1"}, {"webshop"}),
    ("POST", "/v1/returns", "submit", {"webshop"}),
]


@pytest.fixture(scope="module")
async def known(http: httpx.AsyncClient, keys: dict[str, str]) -> str:
    req = toner()
    r = await http.post("/v1/returns", json=req, headers=auth(keys["webshop"]))
    assert r.status_code == 201
    return str(req["return_id"])


@pytest.fixture(scope="module")
async def revoked(admin: asyncpg.Connection) -> str:
    key_id, key = await create_key(admin, "ops", "ops:gone", "revoked in the test")
    assert await revoke_key(admin, key_id)
    return key


async def call(
    http: httpx.AsyncClient, method: str, path: str, body: object, headers: dict[str, str]
) -> httpx.Response:
    if body == "submit":
        body = toner()
    return await http.request(method, path, json=body, headers=headers)


async def test_each_role_may_call_only_its_own_routes(
    http: httpx.AsyncClient, keys: dict[str, str], known: str
) -> None:
    seen = []
    for method, path, body, allowed in ROUTES:
        path = path.format(known=known)
        for role in sorted(ALL):
            r = await call(http, method, path, body, auth(keys[role]))
            if role in allowed:
                expected = {"GET": 200, "POST": 201 if path == "/v1/returns" else 404}[method]
                assert r.status_code == expected, (method, path, role, r.text)
            else:
                assert r.status_code == 403, (method, path, role, r.text)
                assert r.headers["content-type"] == "application/problem+json"
                assert f"a {role} key may not call this" in r.json()["detail"]
            seen.append((method, path, role, r.status_code))
    assert len(seen) == len(ROUTES) * 3


async def test_missing_wrong_malformed_and_revoked_keys_are_401(
    http: httpx.AsyncClient, keys: dict[str, str], known: str, revoked: str, caplog: pytest.LogCaptureFixture
) -> None:
    real = keys["ops"]
    forged = real[: real.rindex("_") + 1] + "x" * 43  # the real key_id, another secret
    cases = {
        "missing": {},
        "wrong secret": auth(forged),
        "malformed": auth("not-a-key"),
        "revoked": auth(revoked),
        "basic scheme": {"Authorization": f"Basic {real}"},
    }
    caplog.set_level(logging.DEBUG)
    for method, path, body, _ in ROUTES:
        path = path.format(known=known)
        for name, headers in cases.items():
            r = await call(http, method, path, body, headers)
            assert r.status_code == 401, (method, path, name, r.text)
            assert r.headers["www-authenticate"] == "Bearer"
            assert r.headers["content-type"] == "application/problem+json"
    logged = caplog.text
    for secret in (forged, revoked, real):
        # rk_<12 hex>_<secret>: the secret is urlsafe base64 and may itself contain "_".
        assert secret.split("_", 2)[2] not in logged


async def test_the_keys_cli_prints_a_key_once_lists_without_secrets_and_revokes(
    http: httpx.AsyncClient, session_dsn: str
) -> None:
    db = {"DATABASE_URL": session_dsn}
    made = await api_cli(db, "keys", "create", "--role", "ops", "--actor", "ops:cli", "--label", "cli")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    key_id = key.split("_")[1]
    assert f"key_id {key_id} (ops, actor ops:cli)" in made.stderr
    r = await http.get("/v1/returns?limit=1", headers=auth(key))
    assert r.status_code == 200
    listed = await api_cli(db, "keys", "list")
    assert listed.returncode == 0 and key_id in listed.stdout
    assert key.split("_", 2)[2] not in listed.stdout + listed.stderr  # the secret may contain "_"
    gone = await api_cli(db, "keys", "revoke", key_id)
    assert gone.returncode == 0, gone.stderr
    assert (await http.get("/v1/returns?limit=1", headers=auth(key))).status_code == 401
    no_actor = await api_cli(db, "keys", "create", "--role", "ops")
    assert no_actor.returncode == 2 and "an ops key needs --actor" in no_actor.stderr
