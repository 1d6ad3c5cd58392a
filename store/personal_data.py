"""Crypto-shredding: personal data sealed under a per-customer data key, so erasing a customer
is deleting one small key row (see docs/customer-data.md and 010_personal_data.sql).

Each customer generation has a data key (DEK, 32 random bytes), stored only wrapped (AES-GCM)
under a master key (KEK). Master keys come from RETURNS_MASTER_KEYS, ``kekid:base64key,...``
(the RETURNS_CODEC_KEYS convention and parser): the first wraps, every one unwraps; the embedded
stack makes ``$RETURNS_DATA_DIR/master-keys`` once (``ensure_master_key_file``). Rotation:
put the new master key first, run ``rewrap`` (``python -m api personal-data rewrap``), then
drop the old one: the DEKs are rewrapped, the data is never re-encrypted.

A sealed value is ``{"key": key_id, "ct": base64(nonce || AES-GCM(dek, json, aad))}``; the
associated data binds it to its key and to its place (an event id, an outbox key), so a sealed
value cannot be moved to another event or relabelled to another key. Opening one whose key was
deleted (the customer was erased) gives None; a stored event then reads its erased placeholders
(domain/personal.py).

Unwrapped DEKs are cached for ``ttl`` seconds (60 by default), at most ``CACHED_KEYS`` of them:
a process that cached a key before an erasure can still open that customer's data until the
cache entry expires.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import asyncpg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic_core import from_json

from domain.personal import put_personal, take_personal
from payload.codec import CodecError, Keyring, data_dir, ensure_keyring_file

MASTER_KEYS_ENV = "RETURNS_MASTER_KEYS"
MASTER_KEY_FILE = "master-keys"  # in the data dir
SEALED = "sealed"  # the envelope's field in a stored event's data
_NONCE = 12
_DEK_BYTES = 32

JSON: TypeAlias = Any  # a JSON value: dict, list, str, int, float, bool or None
Db: TypeAlias = asyncpg.Pool | asyncpg.Connection


class PersonalDataError(Exception):
    """Master keys that cannot be read, a data key they cannot unwrap, or a sealed value that
    does not authenticate (tampered with, or moved to another place)."""


# --- master keys ---


def master_key_file(directory: Path | None = None) -> Path:
    return (directory or data_dir()) / MASTER_KEY_FILE


def master_keyring(directory: Path | None = None) -> Keyring:
    """RETURNS_MASTER_KEYS, else the data dir's master-keys file, else no keys."""
    try:
        text = os.environ.get(MASTER_KEYS_ENV, "").strip()
        if text:
            return Keyring.parse(text, source=MASTER_KEYS_ENV)
        path = master_key_file(directory)
        if path.is_file():
            return Keyring.parse(path.read_text(), source=str(path))
    except CodecError as e:
        raise PersonalDataError(str(e)) from None
    return Keyring()


def ensure_master_key_file(directory: Path) -> Path:
    """The embedded stack's master key: made once per data dir, readable by its owner only."""
    return ensure_keyring_file(master_key_file(directory))


def is_sealed(value: object) -> bool:
    return isinstance(value, dict) and set(value) == {"key", "ct"}


@dataclass(frozen=True)
class _Cached:
    key_id: str
    # The data key's cipher, made once per cache entry (a new AESGCM sets up its key on first
    # use: most of opening a small sealed value); it lives as long as the entry, no longer.
    dek: AESGCM | None  # None: the key is gone (erased)
    until: float


# Data keys a cipher keeps, the oldest cached dropped first: an AESGCM holds about 2.4 KB, and a
# long-running worker meets ever more customers. A rebuild's batch of events fits.
CACHED_KEYS = 8192


# --- the cipher ---


class PersonalData:
    """Seals and opens personal data under per-customer data keys kept in `data_keys`."""

    def __init__(
        self,
        keyring: Keyring,
        pool: Db,
        *,
        ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not keyring:
            raise PersonalDataError(f"no master key: set {MASTER_KEYS_ENV} (kekid:base64key,...)")
        self._keyring = keyring
        self._pool = pool
        self._ttl = ttl
        self._clock = clock
        self._by_key: dict[str, _Cached] = {}
        _LIVE.add(self)

    @classmethod
    def from_env(cls, pool: Db, directory: Path | None = None) -> PersonalData | None:
        """With the process's master keys (master_keyring()), or None when there are none."""
        keyring = master_keyring(directory)
        return cls(keyring, pool) if keyring else None

    # -- generic values (outbox rows, webhook payloads, idempotency answers) --

    async def seal(self, owner: str, value: JSON, *, aad: str = "") -> dict[str, str]:
        """`value` sealed under the current data key of customer `owner` (made on first use).
        `aad` names the value's place; open it with the same."""
        key_id, dek = await self._current_key(owner)
        return _encrypt(key_id, dek, value, aad)

    async def open(self, sealed: Mapping[str, Any], *, aad: str = "") -> JSON | None:
        """The sealed value, or None when its key is erased."""
        if not is_sealed(sealed):
            raise PersonalDataError("not a sealed value")
        dek = await self._dek(str(sealed["key"]))
        if dek is None:
            return None
        return _decrypt(str(sealed["key"]), dek, str(sealed["ct"]), aad)

    async def load_keys(self, key_ids: Iterable[str]) -> None:
        """The data keys of many sealed values, those not cached asked of the database in one
        round trip and cached as opening one would (a key not found as erased): a rebuild opens
        the events of thousands of customers, and a round trip per customer was half its time."""
        now = self._clock()
        wanted = [k for k in dict.fromkeys(key_ids) if (c := self._by_key.get(k)) is None or c.until <= now]
        if not wanted:
            return
        rows = await self._pool.fetch(
            "select key_id, wrapped, kek_id from data_keys where key_id = any($1::text[])", wanted
        )
        found = {r["key_id"]: r for r in rows}
        for key_id in wanted:
            r = found.get(key_id)
            dek = None if r is None else AESGCM(self._unwrap(key_id, r["kek_id"], r["wrapped"]))
            self._cache(key_id, dek, now + self._ttl)

    async def load_event_keys(self, data: Iterable[Mapping[str, Any]]) -> None:
        """load_keys for the sealed envelopes of stored events' data."""
        await self.load_keys(str(d[SEALED]["key"]) for d in data if is_sealed(d.get(SEALED)))

    # -- stored events --

    async def seal_event(
        self, owner: str, data: Mapping[str, Any], *, event_id: uuid.UUID | str | None = None
    ) -> dict[str, Any]:
        """An event's data to store: its personal fields at their erased values, the real ones
        in the "sealed" envelope under `owner`'s key. Data without personal fields is returned
        as it is (a copy)."""
        clear, taken = take_personal(data)
        if not taken:
            return clear
        key_id, dek = await self._current_key(owner)
        return {**clear, SEALED: _encrypt(key_id, dek, taken, _event_aad(event_id))}

    async def unseal_event(
        self, data: Mapping[str, Any], *, event_id: uuid.UUID | str | None = None
    ) -> dict[str, Any]:
        """A stored event's data as its readers fold it: the personal fields put back, or, with
        the key erased, left at their erased values; the envelope is dropped either way. Data
        that was never sealed is returned as it is."""
        sealed = data.get(SEALED)
        if sealed is None:
            return dict(data)
        values = await self.open(sealed, aad=_event_aad(event_id))
        if values is None:
            return {k: v for k, v in data.items() if k != SEALED}
        if not isinstance(values, dict):
            raise PersonalDataError("a sealed event envelope holds no field values")
        opened = put_personal(data, values)  # a copy: the envelope goes from it, not from `data`
        del opened[SEALED]
        return opened

    # -- keys: erasure and rotation --

    async def keys_of(self, conn: Db, customer_id: str) -> list[str]:
        """The key ids the customer has now (every generation still held), oldest first."""
        rows = await conn.fetch(
            "select key_id from data_keys where customer_id = $1 order by generation", customer_id
        )
        return [r["key_id"] for r in rows]

    async def forget(self, conn: Db, customer_id: str) -> int:
        """Delete the customer's data keys made before their erasure's tombstone (erased_customers,
        required first): everything sealed under them reads as erased from then on, in every
        cipher of this process at once, in other processes once their cache entry expires (within
        `ttl`; none of them seals with a condemned key meanwhile: the key to seal with is always
        asked of the database). A key made after the tombstone (the customer came back during
        the erasure) stays. The last generation deleted is noted in the tombstone, so a
        returning customer never gets an erased key's id again. Returns the keys deleted; 0 on a
        repeat. Physically removing the deleted rows is vacuum_keys()."""
        rows = await conn.fetch(
            f"""
            with gone as (
                delete from data_keys d where d.customer_id = $1 and {_CONDEMNED}
                returning key_id, generation
            ),
            noted as (
                update erased_customers
                set key_generations = greatest(key_generations, (select max(generation) from gone))
                where customer_id = $1 and exists (select from gone)
            )
            select key_id from gone
            """,
            customer_id,
        )
        if not rows and await conn.fetchval(
            "select exists (select from data_keys where customer_id = $1)"
            " and not exists (select from erased_customers where customer_id = $1)",
            customer_id,
        ):
            raise PersonalDataError(
                f"{customer_id}: no erasure recorded (erased_customers); keys are deleted only by erasure"
            )
        for cipher in list(_LIVE):  # every cipher of this process forgets at once
            for r in rows:
                cipher._by_key.pop(r["key_id"], None)
        return len(rows)

    async def rewrap(self, conn: Db | None = None) -> int:
        """Rewrap every data key not under the first master key with it; returns how many. After
        it, master keys other than the first can be dropped (and should be destroyed: old WAL
        and backups still hold the deleted keys wrapped under them)."""
        db = conn or self._pool
        new_kek_id, new_kek = self._keyring.keys[0]
        rows = await db.fetch("select key_id, wrapped, kek_id from data_keys where kek_id <> $1", new_kek_id)
        done = 0
        for r in rows:
            dek = self._unwrap(r["key_id"], r["kek_id"], r["wrapped"])
            moved = await db.execute(
                "update data_keys set wrapped = $3, kek_id = $4 where key_id = $1 and kek_id = $2",
                r["key_id"],
                r["kek_id"],
                _wrap(new_kek, r["key_id"], dek),
                new_kek_id,
            )
            done += moved == "UPDATE 1"
        return done

    # -- internals --

    async def _current_key(self, owner: str) -> tuple[str, AESGCM]:
        """The key to seal with now: asked of the database every time (one round trip), never
        from a cache, since an erasure in another process may have condemned the cached one."""
        now = self._clock()
        # One round trip for a known customer, two for a new one (plus one on a lost race).
        row = await self._pool.fetchrow(_CURRENT_OR_NEXT, owner)
        if row["key_id"] is None:
            kek_id, kek = self._keyring.keys[0]
            dek = secrets.token_bytes(_DEK_BYTES)
            key_id = f"{owner}/{row['next']}"
            made = await self._pool.fetchrow(
                "insert into data_keys (key_id, customer_id, generation, wrapped, kek_id)"
                " values ($1, $2, $3, $4, $5) on conflict do nothing returning key_id, wrapped, kek_id",
                key_id,
                owner,
                row["next"],
                _wrap(kek, key_id, dek),
                kek_id,
            )
            row = made or await self._pool.fetchrow(_CURRENT_OR_NEXT, owner)  # a racing writer's
            if row is None or row["key_id"] is None:
                raise PersonalDataError(f"{owner}: data key {key_id} vanished as it was made")
        cached = self._by_key.get(row["key_id"])
        if cached is not None and cached.dek is not None and cached.until > now:
            return row["key_id"], cached.dek
        cipher = AESGCM(self._unwrap(row["key_id"], row["kek_id"], row["wrapped"]))
        self._cache(row["key_id"], cipher, now + self._ttl)
        return row["key_id"], cipher

    async def _dek(self, key_id: str) -> AESGCM | None:
        now = self._clock()
        cached = self._by_key.get(key_id)
        if cached is not None and cached.until > now:
            return cached.dek
        row = await self._pool.fetchrow("select wrapped, kek_id from data_keys where key_id = $1", key_id)
        dek = None if row is None else AESGCM(self._unwrap(key_id, row["kek_id"], row["wrapped"]))
        self._cache(key_id, dek, now + self._ttl)
        return dek

    def _cache(self, key_id: str, dek: AESGCM | None, until: float) -> None:
        self._by_key.pop(key_id, None)  # to the end: the oldest cached goes first
        self._by_key[key_id] = _Cached(key_id, dek, until)
        while len(self._by_key) > CACHED_KEYS:
            del self._by_key[next(iter(self._by_key))]

    def _unwrap(self, key_id: str, kek_id: str, wrapped: bytes) -> bytes:
        kek = dict(self._keyring.keys).get(kek_id)
        if kek is None:
            held = ", ".join(self._keyring.key_ids)
            raise PersonalDataError(
                f"data key {key_id} is wrapped under {kek_id!r}; {MASTER_KEYS_ENV} holds: {held}"
            )
        try:
            return AESGCM(kek).decrypt(wrapped[:_NONCE], wrapped[_NONCE:], key_id.encode())
        except InvalidTag:
            raise PersonalDataError(f"data key {key_id} does not authenticate under {kek_id!r}") from None


_LIVE: weakref.WeakSet[PersonalData] = weakref.WeakSet()

# The customer's current key, and the generation a new one would get. A key made before the
# customer's latest erasure (its tombstone) is condemned: never sealed with again, and deleted by
# forget(); a customer who comes back meanwhile gets the next generation, which survives it.
_CONDEMNED = (
    "exists (select from erased_customers e where e.customer_id = $1 and d.created_at <= e.erased_at)"
)

_CURRENT_OR_NEXT = f"""
select k.key_id, k.wrapped, k.kek_id,
       1 + greatest(
           coalesce((select max(generation) from data_keys where customer_id = $1), 0),
           coalesce((select key_generations from erased_customers where customer_id = $1), 0)
       ) as next
from (select) as one
left join lateral (
    select key_id, wrapped, kek_id from data_keys d
    where d.customer_id = $1 and not {_CONDEMNED}
    order by generation desc limit 1
) as k on true
"""


def _event_aad(event_id: uuid.UUID | str | None) -> str:
    return f"event:{event_id}" if event_id is not None else "event"


def _wrap(kek: bytes, key_id: str, dek: bytes) -> bytes:
    nonce = secrets.token_bytes(_NONCE)
    return nonce + AESGCM(kek).encrypt(nonce, dek, key_id.encode())


def _aad(key_id: str, aad: str) -> bytes:
    return f"{key_id}\x00{aad}".encode()


def _encrypt(key_id: str, dek: AESGCM, value: JSON, aad: str) -> dict[str, str]:
    nonce = secrets.token_bytes(_NONCE)
    plain = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()
    ct = dek.encrypt(nonce, plain, _aad(key_id, aad))
    return {"key": key_id, "ct": base64.b64encode(nonce + ct).decode()}


def _decrypt(key_id: str, dek: AESGCM, ct_b64: str, aad: str) -> JSON:
    try:
        raw = base64.b64decode(ct_b64, validate=True)
        plain = dek.decrypt(raw[:_NONCE], raw[_NONCE:], _aad(key_id, aad))
    except (binascii.Error, InvalidTag):
        raise PersonalDataError(f"a value sealed under {key_id} does not authenticate here") from None
    return from_json(plain)  # as json.loads, in a third of the time (bytes: no encoding sniffing)


async def vacuum_keys(pool: asyncpg.Pool) -> None:
    """Rewrite data_keys so the rows forget() deleted leave the table's files (a plain VACUUM may
    leave their bytes in free space; see gdpr findings). Cheap: the table is small. Runs outside a
    transaction; the service role holds MAINTAIN on data_keys for it. Old WAL and backups keep
    the wrapped keys until the master key that wrapped them is rotated away and destroyed."""
    async with pool.acquire() as conn:
        await conn.execute("vacuum full data_keys")
