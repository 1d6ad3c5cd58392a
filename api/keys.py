"""API keys per role, stored hashed in PostgreSQL (table api_keys, migration 008).

A key reads `rk_<key_id>_<secret>`: the key_id (12 hex characters) finds the row, the secret is
only ever stored as its sha256 and compared in constant time. Keys are created and revoked by
the CLI (`python -m api keys ...`) as the database owner; the service only reads them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast, get_args

import asyncpg

Role = Literal["webshop", "warehouse", "ops"]
ROLES: tuple[Role, ...] = get_args(Role)
PREFIX = "rk_"
_KEY = re.compile(r"^rk_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")


@dataclass(frozen=True)
class Principal:
    """Who calls: the key's id and role; `actor` names the person behind an ops key (overrides
    record it)."""

    key_id: str
    role: Role
    actor: str | None


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    role: Role
    actor: str | None
    label: str
    created_at: datetime
    revoked_at: datetime | None


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def key_id_of(presented: str) -> str | None:
    """The key_id part of a well-formed key (safe to log), else None."""
    m = _KEY.match(presented)
    return m.group(1) if m else None


class KeyError_(ValueError):
    """A key that cannot be created as asked (one line for the CLI)."""


async def create_key(
    conn: asyncpg.Connection | asyncpg.Pool, role: str, actor: str | None, label: str = ""
) -> tuple[str, str]:
    """A new key: (key_id, the key). The key is shown once; only its hash is stored."""
    if role not in ROLES:
        raise KeyError_(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if role == "ops" and not actor:
        raise KeyError_("an ops key needs --actor (the name overrides record, e.g. ops:anna)")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    await conn.execute(
        "insert into api_keys (key_id, role, actor, label, secret_hash) values ($1, $2, $3, $4, $5)",
        key_id,
        role,
        actor or None,
        label,
        _hash(secret),
    )
    return key_id, f"{PREFIX}{key_id}_{secret}"


async def revoke_key(conn: asyncpg.Connection | asyncpg.Pool, key_id: str) -> bool:
    """Revoke a key; False when no such (unrevoked) key exists."""
    status = await conn.execute(
        "update api_keys set revoked_at = now() where key_id = $1 and revoked_at is null", key_id
    )
    return bool(status != "UPDATE 0")


async def list_keys(conn: asyncpg.Connection | asyncpg.Pool) -> list[KeyInfo]:
    rows = await conn.fetch(
        "select key_id, role, actor, label, created_at, revoked_at from api_keys order by created_at"
    )
    return [
        KeyInfo(
            key_id=r["key_id"],
            role=cast(Role, r["role"]),
            actor=r["actor"],
            label=r["label"],
            created_at=r["created_at"],
            revoked_at=r["revoked_at"],
        )
        for r in rows
    ]


async def authenticate(pool: asyncpg.Pool, presented: str) -> Principal | None:
    """The principal of a valid, unrevoked key; None for anything else."""
    m = _KEY.match(presented)
    if m is None:
        return None
    key_id, secret = m.groups()
    row = await pool.fetchrow(
        "select role, actor, secret_hash from api_keys where key_id = $1 and revoked_at is null", key_id
    )
    if row is None or not hmac.compare_digest(bytes(row["secret_hash"]), _hash(secret)):
        return None
    return Principal(key_id=key_id, role=cast(Role, row["role"]), actor=row["actor"])
