"""The signed link a shop puts in its order e-mails: `/r/<token>`.

token = base64url(JSON {"order": <the contract's order object>, "exp": <unix seconds>,
"locale"?: "nl"|"en"}) + "." + base64url(HMAC-SHA256(secret, that first part)), both without
padding. Anyone holding the secret (the shop's backend, in any language: docs/portal.md) makes
one; the portal accepts it until `exp`, for exactly that order.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import ValidationError

from domain.request import Order, ReturnRequest

Reason = Literal["tampered", "expired", "malformed"]


class LinkRefused(Exception):
    def __init__(self, reason: Reason) -> None:
        super().__init__(f"link refused: {reason}")
        self.reason: Reason = reason


@dataclass(frozen=True)
class LinkClaims:
    order: Order
    order_json: dict[str, Any]  # as signed: what the portal submits in a request
    exp: int
    locale: str | None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text or any(
        c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" for c in text
    ):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key(secret: bytes | str) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def _signature(secret: bytes | str, body: str) -> str:
    return _b64(hmac.new(_key(secret), body.encode("ascii"), hashlib.sha256).digest())


def checked_order(order: Any) -> Order:
    """The contract's order model, and what a request adds about an order (each line_id once, a
    gift_for naming another line): checked as a request for its first line would be."""
    if not isinstance(order, dict) or not isinstance(order.get("lines"), list) or not order["lines"]:
        raise ValueError("order: not an order object")
    first = order["lines"][0]
    line_id = first.get("line_id") if isinstance(first, dict) else None
    probe = {
        "return_id": "LINK",
        "order": order,
        "items": [{"line_id": line_id, "quantity": 1, "reason": "changed_mind", "condition": "unopened"}],
    }
    return ReturnRequest.model_validate(probe).order


def make_link(
    order: dict[str, Any],
    secret: bytes | str,
    ttl: timedelta,
    base_url: str,
    *,
    locale: str | None = None,
    now: datetime | None = None,
) -> str:
    """The customer's URL: `<base_url>/r/<token>`, valid for `ttl`. The order must be valid."""
    try:
        checked_order(order)
    except (ValidationError, ValueError) as e:
        raise ValueError(f"not a valid order: {e}") from None
    issued = now if now is not None else datetime.now().astimezone()
    claims: dict[str, Any] = {"order": order, "exp": int((issued + ttl).timestamp())}
    if locale is not None:
        claims["locale"] = locale
    return f"{base_url.rstrip('/')}/r/{make_token(claims, secret)}"


def make_token(claims: dict[str, Any], secret: bytes | str) -> str:
    body = _b64(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    return f"{body}.{_signature(secret, body)}"


def read_claims(token: str, secret: bytes | str, now: datetime) -> LinkClaims:
    """The link's order, expiry and locale; LinkRefused: "malformed" (not a token, or signed but
    no valid order), "tampered" (the signature does not match: changed, or another secret),
    "expired" (past exp)."""
    parts = token.split(".")
    if len(parts) != 2 or len(token) > 200_000:
        raise LinkRefused("malformed")
    body, signature = parts
    try:
        given = _unb64(signature)
        _unb64(body)
    except (ValueError, binascii.Error):
        raise LinkRefused("malformed") from None
    expected = _unb64(_signature(secret, body))
    if not hmac.compare_digest(given, expected):
        raise LinkRefused("tampered")
    try:
        claims = json.loads(_unb64(body).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise LinkRefused("malformed") from None
    if not isinstance(claims, dict):
        raise LinkRefused("malformed")
    exp, locale = claims.get("exp"), claims.get("locale")
    if not isinstance(exp, int) or isinstance(exp, bool) or locale not in (None, "nl", "en"):
        raise LinkRefused("malformed")
    if now.timestamp() >= exp:
        raise LinkRefused("expired")
    try:
        order = checked_order(claims.get("order"))
    except (ValidationError, ValueError):
        raise LinkRefused("malformed") from None
    return LinkClaims(order=order, order_json=claims["order"], exp=exp, locale=locale)


def read_link(token: str, secret: bytes | str, now: datetime) -> Order:
    """The order of a valid link; LinkRefused("tampered" | "expired" | "malformed") otherwise."""
    return read_claims(token, secret, now).order
