"""GET /v1/returns from the read model: filters, needs_attention, cursor paging over more rows
than a page, and invalid filters as 422."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime
from typing import Any

import httpx

from returns_client import ReturnsClient
from tests.api.conftest import auth
from tests.workflow.test_return_case import toner


async def pages(http: httpx.AsyncClient, key: str, query: dict[str, Any]) -> list[list[dict[str, Any]]]:
    out: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        params = {**query, **({"cursor": cursor} if cursor else {})}
        r = await http.get("/v1/returns", params=params, headers=auth(key))
        assert r.status_code == 200, r.text
        body = r.json()
        out.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return out


async def until(check: Any, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "the read model did not catch up"
        await asyncio.sleep(0.05)


async def test_filters_and_cursor_paging_over_more_rows_than_a_page(
    http: httpx.AsyncClient, keys: dict[str, str], returns: ReturnsClient
) -> None:
    customer = f"C-{uuid.uuid4().hex[:8]}"
    made = []
    for n in range(5):
        req = toner()
        req["order"]["customer"]["id"] = customer
        req["order"]["order_id"] = f"O-LIST-{n}"
        await returns.submit(req)
        made.append(req["return_id"])
    await returns.override(made[0], "waive_photos", actor="ops:t", reason="by phone")
    await returns.cancel(made[1])

    async def caught_up() -> bool:
        got = await pages(http, keys["ops"], {"customer_id": customer, "limit": 200})
        return len(got[0]) == 5 and {r["status"] for r in got[0]} >= {"cancelled"}

    await until(caught_up)
    got = await pages(http, keys["webshop"], {"customer_id": customer, "limit": 2})
    assert [len(p) for p in got] == [2, 2, 1]
    rows = [r for p in got for r in p]
    ids = [r["return_id"] for r in rows]
    assert sorted(ids) == sorted(made)  # each once
    keyset = [(datetime.fromisoformat(r["opened_at"]), r["return_id"]) for r in rows]
    assert keyset == sorted(keyset)  # oldest first
    assert {r["customer_id"] for r in rows} == {customer}

    flagged = await pages(http, keys["ops"], {"customer_id": customer, "needs_attention": "true"})
    assert [r["return_id"] for r in flagged[0]] == [made[0]]  # an override was applied
    cancelled = await pages(http, keys["warehouse"], {"customer_id": customer, "status": "cancelled"})
    assert [r["return_id"] for r in cancelled[0]] == [made[1]]
    one = await pages(http, keys["ops"], {"customer_id": customer, "order_id": "O-LIST-3"})
    assert [r["return_id"] for r in one[0]] == [made[3]]


async def test_invalid_filters_are_422_naming_the_field(
    http: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    key = auth(keys["ops"])
    for params, field in (
        ({"status": "lost"}, "status"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"needs_attention": "maybe"}, "needs_attention"),
        ({"cursor": "bm90IGEgY3Vyc29y"}, "cursor"),
        ({"cursor": "%%%"}, "cursor"),
    ):
        r = await http.get("/v1/returns", params=params, headers=key)
        assert r.status_code == 422, (params, r.text)
        body = r.json()
        assert [e["field"] for e in body["errors"]] == [field], body
        assert body["detail"].startswith(f"invalid request: {field}: ")
