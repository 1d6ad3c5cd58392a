"""An Idempotency-Key makes a retried request answer the first answer and apply once: also when
the case closed in between, when the first answer was never stored (the process died), and when
a stale first attempt is taken over; the same key for another body is a 422."""

from __future__ import annotations

import json
import os
import uuid

import asyncpg
import httpx

from api.idempotency import fingerprint
from payload.codec import Keyring
from returns_client import ReturnsClient
from store.personal_data import MASTER_KEYS_ENV, PersonalData
from tests.api.conftest import auth
from tests.workflow.test_return_case import ledger_count, shipped_toner, toner


def key() -> str:
    return f"idem-{uuid.uuid4()}"


async def test_a_retry_answers_the_first_answer_once_even_after_the_case_closed(
    http: httpx.AsyncClient, keys: dict[str, str], session_pool: asyncpg.Pool
) -> None:
    req = shipped_toner()
    req["items"][0]["photos"] = ["toner.jpg"]
    rid = req["return_id"]
    shop, warehouse = auth(keys["webshop"]), auth(keys["warehouse"])
    k_submit, k_parcel, k_inspect = key(), key(), key()
    first = await http.post("/v1/returns", json=req, headers={**shop, "Idempotency-Key": k_submit})
    assert first.status_code == 201 and first.json()["status"] == "awaiting_parcel"
    again = await http.post("/v1/returns", json=req, headers={**shop, "Idempotency-Key": k_submit})
    assert (again.status_code, again.json()) == (201, first.json())  # the first answer, 201 too

    parcel = await http.post(f"/v1/returns/{rid}/parcel", headers={**warehouse, "Idempotency-Key": k_parcel})
    assert parcel.json()["status"] == "awaiting_inspection"
    body = {"passed": True, "note": "sealed"}
    done = await http.post(
        f"/v1/returns/{rid}/inspection", json=body, headers={**warehouse, "Idempotency-Key": k_inspect}
    )
    assert done.status_code == 200 and done.json()["status"] == "resolved"
    # The case is closed now; a retry of either action still answers what it first answered.
    for path, k, b, answer in (
        ("parcel", k_parcel, None, parcel),
        ("inspection", k_inspect, body, done),
    ):
        retry = await http.post(
            f"/v1/returns/{rid}/{path}", json=b, headers={**warehouse, "Idempotency-Key": k}
        )
        assert (retry.status_code, retry.json()) == (200, answer.json())
    assert await ledger_count(session_pool, "refunds", rid) == 1
    # Without the key the same request is a new one, and refused: the case is closed.
    refused = await http.post(f"/v1/returns/{rid}/parcel", headers=warehouse)
    assert refused.status_code == 409 and refused.json()["current_status"] == "resolved"


async def test_the_same_key_for_another_body_is_422_and_changes_nothing(
    http: httpx.AsyncClient, keys: dict[str, str], returns: ReturnsClient
) -> None:
    req = toner()
    rid = req["return_id"]
    shop = auth(keys["webshop"])
    await http.post("/v1/returns", json=req, headers=shop)
    k = key()
    r = await http.post(
        f"/v1/returns/{rid}/choice",
        json={"resolution": "store_credit"},
        headers={**shop, "Idempotency-Key": k},
    )
    assert r.status_code == 200 and r.json()["resolution"] == "store_credit"
    other = await http.post(
        f"/v1/returns/{rid}/choice", json={"resolution": "refund"}, headers={**shop, "Idempotency-Key": k}
    )
    assert other.status_code == 422, other.text
    assert other.json()["detail"] == "invalid request: Idempotency-Key: already used for a different request"
    assert other.json()["errors"] == [
        {"field": "Idempotency-Key", "message": "already used for a different request"}
    ]
    assert (await returns.status(rid)).resolution == "store_credit"


async def test_an_answer_never_stored_is_applied_once_by_the_derived_update_id(
    http: httpx.AsyncClient, keys: dict[str, str], admin: asyncpg.Connection, returns: ReturnsClient
) -> None:
    """The API process died after Temporal applied the action, before it stored the answer: the
    retry sends the same update id, and the server answers the first update's outcome."""
    req = toner()
    rid = req["return_id"]
    shop = auth(keys["webshop"])
    await http.post("/v1/returns", json=req, headers=shop)
    k = key()
    photos = {"line_id": "L1", "photos": ["one.jpg"]}
    first = await http.post(f"/v1/returns/{rid}/photos", json=photos, headers={**shop, "Idempotency-Key": k})
    assert first.status_code == 200 and first.json()["items"][0]["photos_received"] == 1
    await admin.execute("delete from api_idempotency where idempotency_key = $1", k)
    retry = await http.post(f"/v1/returns/{rid}/photos", json=photos, headers={**shop, "Idempotency-Key": k})
    assert retry.status_code == 200
    assert retry.json()["items"][0]["photos_received"] == 1
    assert (await returns.status(rid)).items[0].photos_received == 1


async def test_one_still_in_progress_is_409_and_a_stale_one_is_taken_over(
    http: httpx.AsyncClient, keys: dict[str, str], admin: asyncpg.Connection
) -> None:
    req = toner()
    rid = req["return_id"]
    shop = auth(keys["webshop"])
    await http.post("/v1/returns", json=req, headers=shop)
    k = key()
    body = {"resolution": "refund"}
    # A first attempt still running: claim the key as the route would, with the same request.
    key_id = keys["webshop"].split("_")[1]
    raw = json.dumps(body).encode()
    await admin.execute(
        "insert into api_idempotency (key_id, idempotency_key, fingerprint) values ($1, $2, $3)",
        key_id,
        k,
        fingerprint("POST", f"/v1/returns/{rid}/choice", raw),
    )
    headers = {**shop, "Idempotency-Key": k, "content-type": "application/json"}
    busy = await http.post(f"/v1/returns/{rid}/choice", content=raw, headers=headers)
    assert busy.status_code == 409, busy.text
    assert "still being applied" in busy.json()["detail"]
    await admin.execute(
        "update api_idempotency set created_at = now() - interval '5 minutes' where idempotency_key = $1", k
    )
    taken = await http.post(f"/v1/returns/{rid}/choice", content=raw, headers=headers)
    assert taken.status_code == 200 and taken.json()["resolution"] == "refund"
    stored = await admin.fetchrow(
        "select status_code, completed_at from api_idempotency where idempotency_key = $1", k
    )
    assert stored is not None and stored["status_code"] == 200 and stored["completed_at"] is not None


async def test_invalid_input_is_not_stored_so_the_key_may_be_used_again(
    http: httpx.AsyncClient, keys: dict[str, str], admin: asyncpg.Connection
) -> None:
    req = toner()
    rid = req["return_id"]
    shop = auth(keys["webshop"])
    await http.post("/v1/returns", json=req, headers=shop)
    k = key()
    bad = await http.post(
        f"/v1/returns/{rid}/photos",
        json={"line_id": "L1", "photos": ["  "]},
        headers={**shop, "Idempotency-Key": k},
    )
    assert bad.status_code == 422, bad.text
    assert (
        bad.json()["detail"]
        == "invalid SubmitPhotos: photos: each photo reference must be 1 to 500 characters"
    )
    assert await admin.fetchval("select count(*) from api_idempotency where idempotency_key = $1", k) == 0
    long = await http.post(f"/v1/returns/{rid}/cancel", headers={**shop, "Idempotency-Key": "k" * 201})
    assert long.status_code == 422
    assert long.json()["errors"][0]["field"] == "Idempotency-Key"


async def test_a_stored_answer_is_sealed_under_the_customers_key_and_gone_with_it(
    http: httpx.AsyncClient, keys: dict[str, str], session_pool: asyncpg.Pool
) -> None:
    """A case's answer shows an override's reason (personal data): stored sealed, so erasing the
    customer erases it too; a retry then learns the first answer is gone (410), nothing else."""
    req = shipped_toner()
    customer_id = req["order"]["customer"]["id"] = f"C-{uuid.uuid4().hex[:10]}"
    rid, reason = req["return_id"], f"called {uuid.uuid4().hex}"
    ops, k = auth(keys["ops"]), key()
    assert (await http.post("/v1/returns", json=req, headers=auth(keys["webshop"]))).status_code == 201
    body = {"type": "waive_photos", "reason": reason}
    first = await http.post(f"/v1/returns/{rid}/overrides", json=body, headers={**ops, "Idempotency-Key": k})
    assert first.status_code == 200 and first.json()["overrides"][0]["reason"] == reason
    stored = await session_pool.fetchval("select response from api_idempotency where idempotency_key = $1", k)
    assert set(stored) == {"key", "ct"} and reason not in json.dumps(stored)
    again = await http.post(f"/v1/returns/{rid}/overrides", json=body, headers={**ops, "Idempotency-Key": k})
    assert (again.status_code, again.json()) == (200, first.json())

    await session_pool.execute(
        "insert into erased_customers (customer_id, actor, reason) values ($1, 'ops:test', 'test')",
        customer_id,
    )
    async with session_pool.acquire() as conn:  # the API serves in this process: its cache forgets too
        assert await PersonalData(Keyring.parse(os.environ[MASTER_KEYS_ENV]), session_pool).forget(
            conn, customer_id
        )
    gone = await http.post(f"/v1/returns/{rid}/overrides", json=body, headers={**ops, "Idempotency-Key": k})
    assert gone.status_code == 410 and "erased" in gone.json()["detail"], gone.text
    assert reason not in gone.text
