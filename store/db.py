"""Connection setup shared by every asyncpg pool in the project."""

from __future__ import annotations

import json
from typing import Any, cast

import asyncpg
from pydantic_core import from_json


async def init_connection(conn: asyncpg.Connection) -> None:
    # jsonb in and out as Python objects, so callers never hand-serialise. pydantic-core's parser
    # gives what json.loads gives in about half the time (a rebuild decodes every stored event).
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=from_json, schema="pg_catalog")


async def create_pool(dsn: str, **kw: Any) -> asyncpg.Pool:
    return cast(asyncpg.Pool, await asyncpg.create_pool(dsn, init=init_connection, **kw))
