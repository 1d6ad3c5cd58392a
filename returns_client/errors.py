"""What the client raises. Each carries one line fit for a log or a CLI's stderr."""

from __future__ import annotations

from domain.request import InvalidRequest


class Refused(Exception):
    """An action not allowed in the case's current state; nothing changed."""


class CaseNotFound(Exception):
    """No case with this return_id."""


class PayloadKeyError(Exception):
    """The case's payloads cannot be read: RETURNS_CODEC_KEYS (or the embedded stack's key file)
    is missing, or holds no key the worker encrypted with. A setting to fix, not an input."""


__all__ = ["CaseNotFound", "InvalidRequest", "PayloadKeyError", "Refused"]
