"""`Idempotency-Key` on a request: a retry answers the first answer and applies once.

The first answer is stored in PostgreSQL (api_idempotency) per API key and idempotency key, with
a fingerprint of the request (method, path, body). A repeat with the same fingerprint gets the
stored answer; the same key for another request is a 422; one still being applied is a 409.
The update id sent to Temporal is derived from (key id, idempotency key), so even a request
whose API process died half-way, retried here or taken over when stale, is applied once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import asyncpg
from fastapi import Request
from fastapi.responses import JSONResponse

from api.keys import Principal
from api.problems import MEDIA_TYPE, Problem, invalid
from store.personal_data import PersonalData, is_sealed

HEADER = "Idempotency-Key"
MAX_LENGTH = 200
# A first request that has not finished after this long died with its process: take it over.
STALE_AFTER = timedelta(minutes=1)

# The call of a route: given the update id to use, the status and JSON body it answers.
Call = Callable[[str | None], Awaitable[tuple[int, Any]]]


def update_id(key_id: str, idempotency_key: str) -> str:
    digest = hashlib.sha256(f"{key_id}\0{idempotency_key}".encode()).hexdigest()[:32]
    return f"http-{key_id}-{digest}"


def fingerprint(method: str, path: str, body: bytes) -> str:
    h = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def _check(key: str) -> None:
    """The route's header declaration checks it first (the same rule, in the document)."""
    if not key or len(key) > MAX_LENGTH or not all("!" <= c <= "~" for c in key):
        raise invalid(f"invalid request: {HEADER}: must be 1 to {MAX_LENGTH} visible ASCII characters")


def _answer(status: int, body: Any) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE if status >= 400 else None)


async def run(request: Request, principal: Principal, key: str | None, call: Call) -> JSONResponse:
    """Answer `call` once per (API key, idempotency key); without a key, just call it."""
    if key is None:
        return _answer(*await call(None))
    _check(key)
    pool: asyncpg.Pool = request.app.state.pool
    print_ = fingerprint(request.method, request.url.path, await request.body())
    claimed = await pool.fetchval(
        "insert into api_idempotency (key_id, idempotency_key, fingerprint) values ($1, $2, $3)"
        " on conflict do nothing returning true",
        principal.key_id,
        key,
        print_,
    )
    if not claimed:
        row = await pool.fetchrow(
            "select fingerprint, status_code, response, completed_at, now() - created_at as age"
            " from api_idempotency where key_id = $1 and idempotency_key = $2",
            principal.key_id,
            key,
        )
        if row is None:  # released by a failed first attempt just now: try once more
            return await run(request, principal, key, call)
        if row["fingerprint"] != print_:
            raise invalid(f"invalid request: {HEADER}: already used for a different request")
        if row["completed_at"] is not None:
            return _answer(row["status_code"], await _opened(request, principal, key, row["response"]))
        if row["age"] < STALE_AFTER:
            raise Problem(409, f"a request with this {HEADER} is still being applied; retry later")
        # Taken over: the same update id, so the server still applies it once.
        took = await pool.execute(
            "update api_idempotency set created_at = now() where key_id = $1 and idempotency_key = $2"
            " and completed_at is null and now() - created_at >= $3",
            principal.key_id,
            key,
            STALE_AFTER,
        )
        if took == "UPDATE 0":
            raise Problem(409, f"a request with this {HEADER} is still being applied; retry later")
    try:
        status, body = await call(update_id(principal.key_id, key))
    except Problem as p:
        if p.status in (409, 404):  # an answer about the case: the first answer stands
            await _complete(pool, principal, key, p.status, p.body(request.url.path))
        else:  # invalid input or a server problem: nothing applied, the key may be used again
            await _release(pool, principal, key)
        raise
    except BaseException:
        await _release(pool, principal, key)
        raise
    await _complete(pool, principal, key, status, await _sealed(request, principal, key, status, body))
    return _answer(status, body)


# A case's answer (its view) may hold personal data (an override's reason): it is stored sealed
# under the case's customer's key (store/personal_data.py), so erasing them erases it too.
def _personal(request: Request) -> PersonalData | None:
    state = request.app.state
    if not hasattr(state, "personal_data"):
        state.personal_data = PersonalData.from_env(state.pool)
    personal: PersonalData | None = state.personal_data
    return personal


def _aad(principal: Principal, key: str) -> str:
    return f"idempotency:{principal.key_id}:{key}"


async def _sealed(request: Request, principal: Principal, key: str, status: int, body: Any) -> Any:
    personal = _personal(request)
    if personal is None or status >= 400 or not isinstance(body, dict) or "return_id" not in body:
        return body
    pool: asyncpg.Pool = request.app.state.pool
    owner = await pool.fetchval(
        "select customer_id from return_cases where return_id = $1", body["return_id"]
    )
    if owner is None:
        return body
    return await personal.seal(owner, body, aad=_aad(principal, key))


async def _opened(request: Request, principal: Principal, key: str, stored: Any) -> Any:
    if not is_sealed(stored):
        return stored
    personal = _personal(request)
    if personal is None:
        raise Problem(503, "the stored answer is sealed; the API needs the master keys (RETURNS_MASTER_KEYS)")
    body = await personal.open(stored, aad=_aad(principal, key))
    if body is None:
        raise Problem(410, f"the first answer to this {HEADER} held personal data that has been erased")
    return body


async def _complete(pool: asyncpg.Pool, principal: Principal, key: str, status: int, body: Any) -> None:
    await pool.execute(
        "update api_idempotency set status_code = $3, response = $4, completed_at = now()"
        " where key_id = $1 and idempotency_key = $2",
        principal.key_id,
        key,
        status,
        body,
    )


async def _release(pool: asyncpg.Pool, principal: Principal, key: str) -> None:
    await pool.execute(
        "delete from api_idempotency where key_id = $1 and idempotency_key = $2 and completed_at is null",
        principal.key_id,
        key,
    )


__all__ = ["HEADER", "fingerprint", "run", "update_id"]
