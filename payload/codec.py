"""Encryption of Temporal payloads (AES-256-GCM), so customer names, e-mail addresses and notes
never reach the Temporal server's database or its UI in the clear.

Keys come from RETURNS_CODEC_KEYS, ``keyid:base64key,...`` (32-byte keys): the first encrypts,
every one decrypts, so a key is rotated by putting a new one in front and dropping the old one
once no open case needs it. The key id travels in the payload's metadata. Without the variable,
the key file in the data dir (written by the embedded stack, see ``ensure_key_file``) is used.
Payloads that are not encrypted are passed through on decode: histories written before the
codec, and test histories recorded without keys, still replay.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
KEYS_ENV = "RETURNS_CODEC_KEYS"
PLAINTEXT_ENV = "RETURNS_ALLOW_PLAINTEXT_PAYLOADS"
KEY_FILE = "codec-keys"  # in the data dir
_NONCE = 12
_KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")


class CodecError(Exception):
    """Keys that cannot be read, or a payload they cannot decrypt."""


@dataclass(frozen=True)
class Keyring:
    """Key id -> 32-byte key, in order: the first one encrypts."""

    keys: tuple[tuple[str, bytes], ...] = ()

    @classmethod
    def parse(cls, text: str, source: str = KEYS_ENV) -> Keyring:
        keys: list[tuple[str, bytes]] = []
        for n, entry in enumerate(e.strip() for e in text.split(",")):
            if not entry:
                continue
            key_id, sep, b64 = entry.partition(":")
            if not sep or not _KEY_ID_PATTERN.fullmatch(key_id):
                raise CodecError(f"{source}: entry {n + 1} is not keyid:base64key (id: letters, digits, ._-)")
            try:
                key = base64.b64decode(b64, validate=True)
            except binascii.Error:
                raise CodecError(f"{source}: key {key_id!r} is not valid base64") from None
            if len(key) != 32:
                raise CodecError(f"{source}: key {key_id!r} must be 32 bytes, got {len(key)}")
            if any(key_id == k for k, _ in keys):
                raise CodecError(f"{source}: key id {key_id!r} appears twice")
            keys.append((key_id, key))
        return cls(tuple(keys))

    @classmethod
    def from_env(cls, data_dir: Path | None = None) -> Keyring:
        """RETURNS_CODEC_KEYS, else the data dir's key file, else no keys."""
        text = os.environ.get(KEYS_ENV, "").strip()
        if text:
            return cls.parse(text)
        path = key_file(data_dir)
        if path.is_file():
            return cls.parse(path.read_text(), source=str(path))
        return cls()

    @staticmethod
    def generate(key_id: str) -> str:
        """A new key entry, ``keyid:base64key``."""
        return f"{key_id}:{base64.b64encode(secrets.token_bytes(32)).decode()}"

    def __bool__(self) -> bool:
        return bool(self.keys)

    @property
    def key_ids(self) -> list[str]:
        return [k for k, _ in self.keys]

    def encrypt(self, payload: Payload) -> Payload:
        if not self.keys:
            return payload
        key_id, key = self.keys[0]
        nonce = secrets.token_bytes(_NONCE)
        # The key id is authenticated too: a payload cannot be relabelled to another key.
        sealed = _aead(key).encrypt(nonce, payload.SerializeToString(), key_id.encode())
        return Payload(metadata={"encoding": ENCODING, KEY_ID: key_id.encode()}, data=nonce + sealed)

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # written without the codec
        key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        key = dict(self.keys).get(key_id)
        if key is None:
            held = ", ".join(self.key_ids) or "none"
            raise CodecError(f"payload encrypted with key {key_id!r}; {KEYS_ENV} holds: {held}")
        try:
            plain = _aead(key).decrypt(payload.data[:_NONCE], payload.data[_NONCE:], key_id.encode())
        except InvalidTag:
            raise CodecError(f"payload under key {key_id!r} does not authenticate") from None
        return Payload.FromString(plain)


@functools.lru_cache(maxsize=16)  # the process's few codec keys
def _aead(key: bytes) -> AESGCM:
    """The cipher of a codec key, made once: a new AESGCM sets up its key on first use, which
    cost about four times the encryption of a payload (every payload of every task is encrypted
    or decrypted here). Not for personal data's per-customer keys, which must not outlive
    their erasure in memory (store/personal_data.py)."""
    return AESGCM(key)


class EncryptionCodec(PayloadCodec):
    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.keyring.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.keyring.decrypt(p) for p in payloads]


def data_dir() -> Path:
    """RETURNS_DATA_DIR, else .data in the working directory: the checkout's root for the README's
    commands, and wherever an installed service is started from."""
    return Path(os.environ.get("RETURNS_DATA_DIR", ".data")).absolute()


def key_file(directory: Path | None = None) -> Path:
    return (directory or data_dir()) / KEY_FILE


def ensure_key_file(directory: Path) -> Path:
    """The embedded stack's key: made once per data dir, so a newcomer's local cases are
    encrypted too and starter.py in the same checkout finds it."""
    return ensure_keyring_file(key_file(directory))


def ensure_keyring_file(path: Path) -> Path:
    """A file holding one new key (`Keyring.generate`), made once, readable by its owner only."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process of this stack made it just now
            return path
        with os.fdopen(fd, "w") as f:
            f.write(Keyring.generate(f"local-{secrets.token_hex(4)}") + "\n")
    return path


def plaintext_allowed() -> bool:
    return os.environ.get(PLAINTEXT_ENV, "").strip().lower() in ("1", "true", "yes")
