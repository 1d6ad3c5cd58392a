"""Signing secrets: made (`whsec_...`, Standard Webhooks), sealed at rest under the payload keys,
and used to sign a message's headers (webhook-id, webhook-timestamp, webhook-signature)."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

from standardwebhooks import Webhook
from temporalio.api.common.v1 import Payload

from payload.codec import ENCODING, KEY_ID, KEYS_ENV, Keyring

PREFIX = "whsec_"
_ENCODING = b"webhook/secret"


class NoSealingKey(Exception):
    """No payload key to encrypt a signing secret with: it would be stored in the clear."""

    def __init__(self) -> None:
        super().__init__(
            f"webhook secrets are stored encrypted under the payload keys, and none is set ({KEYS_ENV})"
        )


def new_secret() -> str:
    """24 random bytes, base64, with the Standard Webhooks prefix."""
    return PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def seal(keyring: Keyring, secret: str) -> tuple[bytes, str]:
    """(ciphertext, key id): AES-GCM under the keyring's first key (payload/codec.py)."""
    if not keyring:
        raise NoSealingKey
    sealed = keyring.encrypt(Payload(metadata={"encoding": _ENCODING}, data=secret.encode()))
    assert sealed.metadata["encoding"] == ENCODING
    return sealed.SerializeToString(), sealed.metadata[KEY_ID].decode()


def unseal(keyring: Keyring, sealed: bytes) -> str:
    """The secret; CodecError when the keyring lacks its key."""
    return keyring.decrypt(Payload.FromString(sealed)).data.decode()


def sign(msg_id: str, body: str, secrets_: Sequence[str], at: datetime | None = None) -> dict[str, str]:
    """The Standard Webhooks headers; during a rotation one signature per secret, space-separated
    (a receiver accepts any signature it can verify)."""
    at = at or datetime.now(UTC)
    signatures = " ".join(Webhook(s).sign(msg_id, at, body) for s in secrets_)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
    }
