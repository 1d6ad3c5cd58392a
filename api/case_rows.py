"""What a case has in the service's own tables (its messages, its refunds), read for a route: one
answer for a case the read model does not know (404) and for PostgreSQL being away (503)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
from fastapi import Request

from api.problems import Problem
from store import read_model

T = TypeVar("T")


async def rows_of_case(
    request: Request, return_id: str, read: Callable[[asyncpg.Pool, str], Awaitable[list[T]]], what: str
) -> list[T]:
    """`read(pool, return_id)` for a known case; `what` names the store in a 503 ("the outbox")."""
    pool: asyncpg.Pool = request.app.state.pool
    try:
        if await read_model.get_case(pool, return_id) is None:
            raise Problem(404, f"no return case {return_id}")
        return await read(pool, return_id)
    except (OSError, asyncpg.PostgresConnectionError) as e:
        raise Problem(503, f"{what} is unavailable: {type(e).__name__}") from None
