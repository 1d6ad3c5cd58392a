"""Who may call what: `Depends(require("webshop", "ops"))` on a route answers the caller's
Principal, or a 401 (missing, unknown or revoked key) / 403 (a role not allowed) problem.

The presented key is never logged, not even on failure: at most its key_id part.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.keys import Principal, Role, authenticate, key_id_of
from api.problems import Problem

__all__ = ["Principal", "Role", "bearer", "require"]

log = logging.getLogger(__name__)

# Declares the bearer scheme in OpenAPI; auto_error off so a missing key is our 401 problem.
bearer = HTTPBearer(auto_error=False, scheme_name="apiKey", description="Authorization: Bearer rk_...")

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def _unauthorized(detail: str) -> Problem:
    return Problem(401, detail, headers=_CHALLENGE)


def require(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A FastAPI dependency admitting keys of these roles."""
    allowed = frozenset(roles)

    async def dependency(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> Principal:
        if credentials is None:
            raise _unauthorized("missing API key: send Authorization: Bearer <key>")
        presented = credentials.credentials
        principal = await authenticate(request.app.state.pool, presented)
        if principal is None:
            log.info("API key refused (key_id %s)", key_id_of(presented) or "malformed")
            raise _unauthorized("invalid or revoked API key")
        if principal.role not in allowed:
            raise Problem(
                403,
                f"a {principal.role} key may not call this; allowed: {', '.join(sorted(allowed))}",
                role=principal.role,
            )
        return principal

    return dependency
