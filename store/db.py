"""Connection setup shared by every asyncpg pool in the project."""

from __future__ import annotations

import contextlib
import json
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from pydantic_core import from_json


async def init_connection(conn: asyncpg.Connection) -> None:
    # jsonb in and out as Python objects, so callers never hand-serialise. pydantic-core's parser
    # gives what json.loads gives in about half the time (a rebuild decodes every stored event).
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=from_json, schema="pg_catalog")


async def create_pool(dsn: str, **kw: Any) -> asyncpg.Pool:
    return cast(asyncpg.Pool, await asyncpg.create_pool(dsn, init=init_connection, **kw))


# The login the embedded stack and the tests use for the restricted role of migration 004.
APP_ROLE = "returns_app"
APP_LOGIN = "returns_worker"


def dsn_as(dsn: str, user: str) -> str:
    """The same database as another user (no password: for local socket/trust setups)."""
    parts = urlsplit(dsn)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}@{host}"))


async def ensure_app_login(conn: asyncpg.Connection, user: str = APP_LOGIN) -> None:
    """A passwordless login in the service's role, for a local database only (the embedded
    stack and tests); a deployment makes its own with a password."""
    exists = await conn.fetchval("select true from pg_roles where rolname = $1", user)
    if not exists:
        with contextlib.suppress(asyncpg.DuplicateObjectError):  # made concurrently elsewhere
            await conn.execute(f'create role "{user}" login in role {APP_ROLE}')
