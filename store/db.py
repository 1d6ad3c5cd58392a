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


async def keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset of a released connection: nothing beyond what asyncpg always does before
    it (a transaction left open rolled back, listener callbacks dropped).

    asyncpg's default reset sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL;` on every release: a second round trip and a second transaction for every
    `pool.fetchval(...)`, so a one-statement append cost two commits' worth of work
    (pg_stat_database: 1.86 transactions per append). The service leaves no session state on a
    pooled connection: no session SET (only SET LOCAL), advisory locks only transaction-scoped,
    cursors only inside transactions (closed at their end), and its one LISTEN (mail/relay.py)
    is removed (UNLISTEN) before its connection goes back. Code that does leave session state
    must use a connection of its own (asyncpg.connect), not the pool."""


async def create_pool(dsn: str, **kw: Any) -> asyncpg.Pool:
    kw.setdefault("reset", keep_session)
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
