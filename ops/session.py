"""Who may see the ops overview: an `ops` API key, as a bearer header (scripts, dashboards) or as
a browser's session cookie, since a browser cannot send a header from a link.

The sign-in form takes the key once; the cookie then holds a signed session naming only the
key's id and an expiry (never the key). Every request checks that id against api_keys again, so a
revoked key (or one no longer of role ops) is refused at once. The signing secret is
RETURNS_OPS_SESSION_SECRET (set it when several API processes serve one site), else one random
per process (a restart signs everyone out)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
import time
from dataclasses import dataclass
from typing import Literal, cast

import asyncpg

from api.keys import Principal, Role, authenticate, key_id_of

log = logging.getLogger(__name__)

COOKIE = "returns_ops_session"
SECRET_ENV = "RETURNS_OPS_SESSION_SECRET"
MAX_AGE = 12 * 3600


@dataclass(frozen=True)
class Refusal:
    """Why not: 401 (no key, unknown, revoked or expired) or 403 (a key of another role)."""

    status: Literal[401, 403]
    detail: str


class Sessions:
    """Signs and checks session cookies with one secret."""

    def __init__(self, secret: bytes | None = None, max_age: int = MAX_AGE) -> None:
        env = os.environ.get(SECRET_ENV)
        self._secret = secret or (env.encode() if env else secrets.token_bytes(32))
        self.max_age = max_age

    def _sign(self, payload: str) -> str:
        mac = hmac.new(self._secret, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def issue(self, key_id: str, now: float | None = None) -> str:
        payload = f"{key_id}.{int((now or time.time()) + self.max_age)}"
        return f"{payload}.{self._sign(payload)}"

    def key_id(self, cookie: str, now: float | None = None) -> str | None:
        """The key id a cookie names, if it is ours and not expired."""
        key_id, _, rest = cookie.partition(".")
        expires, _, sig = rest.partition(".")
        if not (key_id and expires.isdigit() and sig):
            return None
        if not hmac.compare_digest(sig, self._sign(f"{key_id}.{expires}")):
            return None
        return key_id if int(expires) > (now or time.time()) else None


async def key_principal(pool: asyncpg.Pool, key_id: str) -> Principal | None:
    """The principal of an unrevoked key, by id alone (the session already proved the secret)."""
    row = await pool.fetchrow(
        "select role, actor from api_keys where key_id = $1 and revoked_at is null", key_id
    )
    return None if row is None else Principal(key_id=key_id, role=cast(Role, row["role"]), actor=row["actor"])


def _of_role(principal: Principal | None) -> Principal | Refusal:
    if principal is None:
        return Refusal(401, "invalid or revoked API key")
    if principal.role != "ops":
        return Refusal(403, f"a {principal.role} key may not open the ops overview; an ops key may")
    return principal


async def sign_in(pool: asyncpg.Pool, presented: str) -> Principal | Refusal:
    """The principal of a pasted key; the key itself is never logged, at most its id."""
    principal = await authenticate(pool, presented.strip())
    if principal is None:
        log.info("ops sign-in refused (key_id %s)", key_id_of(presented.strip()) or "malformed")
    return _of_role(principal)


async def principal_of(
    pool: asyncpg.Pool, sessions: Sessions, *, bearer: str | None, cookie: str | None
) -> Principal | Refusal:
    """The caller: a bearer key first, else the session cookie, else 401."""
    if bearer is not None:
        return await sign_in(pool, bearer)
    if cookie:
        key_id = sessions.key_id(cookie)
        if key_id is None:
            return Refusal(401, "your session has expired: sign in again")
        return _of_role(await key_principal(pool, key_id))
    return Refusal(401, "sign in with an ops API key")
