"""The routes of /v1/returns: the contract's request and actions over HTTP."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/returns", tags=["returns"])
