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
            return _answer(row["status_code"], row["response"])
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
    await _complete(pool, principal, key, status, body)
    return _answer(status, body)


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
