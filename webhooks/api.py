"""The routes of /v1/webhooks: endpoints (register, list, change, delete, rotate the secret,
redeliver) and the delivery log. Webshop and ops keys may call all of them: the shop manages its
endpoints, ops look at disabled ones and enable them again. Errors are problems (api.problems)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, StrictBool, field_validator

from api import problems
from api.auth import Principal, require
from api.problems import Problem, invalid
from payload.codec import CodecError, Keyring
from webhooks.deliveries import MAX_LIMIT, DeliveryPage, list_deliveries
from webhooks.endpoints import (
    Endpoint,
    create_endpoint,
    delete_endpoint,
    get_endpoint,
    list_endpoints,
    parse_position,
    redeliver,
    rotate_secret,
    update_endpoint,
)
from webhooks.events import EVENT_TYPES, EventType, WebhookPayload
from webhooks.service import run
from webhooks.settings import WebhookSettings
from webhooks.signing import NoSealingKey

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
ALLOWED = require("webshop", "ops")
_AUTH = (401, 403)

EndpointId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Text = Annotated[str, Field(max_length=500, pattern=r"^[^\x00]*$")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EndpointIn(_Body):
    url: HttpUrl = Field(description="where events are POSTed (http or https)")
    event_types: list[EventType] = Field(
        default=[], max_length=len(EVENT_TYPES), description="only these types; empty: every type"
    )
    description: Text = ""

    @field_validator("url")
    @classmethod
    def _no_nul(cls, url: HttpUrl) -> HttpUrl:
        if len(str(url)) > 2000 or "\x00" in str(url):
            raise ValueError("must be a URL of at most 2000 characters")
        return url


class EndpointPatch(_Body):
    event_types: list[EventType] | None = Field(default=None, max_length=len(EVENT_TYPES))
    enabled: StrictBool | None = None
    description: Text | None = None


class EndpointCreated(Endpoint):
    secret: str = Field(description="the signing secret (whsec_...): shown once, keep it")


class RotateIn(_Body):
    grace_seconds: int = Field(
        default=86_400, ge=0, le=7 * 86_400, description="how long the secrets signing now keep signing"
    )


class SecretRotated(BaseModel):
    secret: str = Field(description="the new signing secret: shown once")
    previous_valid_until: datetime


class RedeliverIn(_Body):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: str = Field(
        alias="from",
        pattern=r"^[0-9]{1,20}:[0-9]{1,20}$",
        description='a position as the delivery log shows it, "<transaction>:<position>"',
    )


class Requeued(BaseModel):
    requeued: int


class EndpointList(BaseModel):
    items: list[Endpoint]


def _pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.pool
    return pool


def _keyring(request: Request) -> Keyring:
    keyring: Keyring = getattr(request.app.state, "keyring", Keyring(()))
    return keyring


@contextlib.asynccontextmanager
async def _conn(request: Request) -> AsyncIterator[asyncpg.Connection]:
    try:
        async with _pool(request).acquire() as conn:
            yield conn
    except (OSError, asyncpg.PostgresConnectionError) as e:
        raise Problem(503, f"the database is unavailable: {type(e).__name__}") from None
    except (NoSealingKey, CodecError) as e:
        raise Problem(503, f"webhook secrets cannot be sealed or read: {e}") from None


def _unknown(endpoint_id: str) -> Problem:
    return Problem(404, f"no webhook endpoint {endpoint_id}")


@router.post(
    "/endpoints",
    name="webhooks_create_endpoint",
    status_code=201,
    summary="Register an endpoint; the answer shows its signing secret once",
    response_model=EndpointCreated,
    responses=problems.responses(*_AUTH, 413, 422, 503),
)
async def create(
    request: Request, body: EndpointIn, principal: Annotated[Principal, Depends(ALLOWED)]
) -> EndpointCreated:
    async with _conn(request) as conn:
        endpoint, secret = await create_endpoint(
            conn, _keyring(request), str(body.url), body.event_types, body.description
        )
    return EndpointCreated(**endpoint.model_dump(), secret=secret)


@router.get(
    "/endpoints",
    name="webhooks_list_endpoints",
    summary="Every endpoint, with whether it is enabled and why not",
    response_model=EndpointList,
    responses=problems.responses(*_AUTH, 422, 503),
)
async def list_all(request: Request, principal: Annotated[Principal, Depends(ALLOWED)]) -> EndpointList:
    async with _conn(request) as conn:
        return EndpointList(items=await list_endpoints(conn))


@router.get(
    "/endpoints/{endpoint_id}",
    name="webhooks_get_endpoint",
    summary="One endpoint",
    response_model=Endpoint,
    responses=problems.responses(*_AUTH, 404, 422, 503),
)
async def get_one(
    request: Request, endpoint_id: EndpointId, principal: Annotated[Principal, Depends(ALLOWED)]
) -> Endpoint:
    async with _conn(request) as conn:
        endpoint = await get_endpoint(conn, endpoint_id)
    if endpoint is None:
        raise _unknown(endpoint_id)
    return endpoint


@router.patch(
    "/endpoints/{endpoint_id}",
    name="webhooks_change_endpoint",
    summary="Change the types or description; disable, or enable again (resumes delivery)",
    response_model=Endpoint,
    responses=problems.responses(*_AUTH, 404, 413, 422, 503),
)
async def patch(
    request: Request,
    endpoint_id: EndpointId,
    body: EndpointPatch,
    principal: Annotated[Principal, Depends(ALLOWED)],
) -> Endpoint:
    reason = f"disabled by {principal.actor or principal.role} ({principal.key_id})"
    async with _conn(request) as conn:
        endpoint = await update_endpoint(
            conn,
            endpoint_id,
            event_types=body.event_types,
            description=body.description,
            enabled=body.enabled,
            reason=reason,
        )
    if endpoint is None:
        raise _unknown(endpoint_id)
    return endpoint


@router.delete(
    "/endpoints/{endpoint_id}",
    name="webhooks_delete_endpoint",
    status_code=204,
    summary="Delete an endpoint with its messages and delivery log",
    responses=problems.responses(*_AUTH, 404, 422, 503),
)
async def delete(
    request: Request, endpoint_id: EndpointId, principal: Annotated[Principal, Depends(ALLOWED)]
) -> Response:
    async with _conn(request) as conn:
        if not await delete_endpoint(conn, endpoint_id):
            raise _unknown(endpoint_id)
    return Response(status_code=204)


@router.post(
    "/endpoints/{endpoint_id}/rotate-secret",
    name="webhooks_rotate_secret",
    summary="A new signing secret; the current ones keep signing for a grace period (default 24 h)",
    response_model=SecretRotated,
    responses=problems.responses(*_AUTH, 404, 413, 422, 503),
)
async def rotate(
    request: Request,
    endpoint_id: EndpointId,
    principal: Annotated[Principal, Depends(ALLOWED)],
    body: RotateIn | None = None,
) -> SecretRotated:
    grace = timedelta(seconds=(body or RotateIn()).grace_seconds)
    async with _conn(request) as conn:
        rotated = await rotate_secret(conn, _keyring(request), endpoint_id, grace)
    if rotated is None:
        raise _unknown(endpoint_id)
    return SecretRotated(secret=rotated[0], previous_valid_until=rotated[1])


@router.post(
    "/endpoints/{endpoint_id}/redeliver",
    name="webhooks_redeliver",
    summary="Send this endpoint's messages again from a position of the delivery log on",
    response_model=Requeued,
    responses=problems.responses(*_AUTH, 404, 413, 422, 503),
)
async def redeliver_from(
    request: Request,
    endpoint_id: EndpointId,
    body: RedeliverIn,
    principal: Annotated[Principal, Depends(ALLOWED)],
) -> Requeued:
    try:
        start = parse_position(body.from_)
    except ValueError as e:
        raise invalid(f"invalid request: from: {e}") from None
    async with _conn(request) as conn:
        n = await redeliver(conn, endpoint_id, start)
    if n is None:
        raise _unknown(endpoint_id)
    return Requeued(requeued=n)


@router.get(
    "/deliveries",
    name="webhooks_deliveries",
    summary="The delivery log: every attempt, newest first, with cursor paging",
    response_model=DeliveryPage,
    responses=problems.responses(*_AUTH, 422, 503),
)
async def deliveries(
    request: Request,
    principal: Annotated[Principal, Depends(ALLOWED)],
    endpoint_id: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")] = None,
    return_id: Annotated[str | None, Query(max_length=100, pattern=r"^[^\x00]*$")] = None,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> DeliveryPage:
    async with _conn(request) as conn:
        try:
            return await list_deliveries(
                conn, endpoint_id=endpoint_id, return_id=return_id, cursor=cursor, limit=limit
            )
        except ValueError as e:
            raise invalid(f"invalid request: cursor: {e}") from None


def document_payloads(app: FastAPI) -> None:
    """The webhook events in the OpenAPI document (3.1 `webhooks`): one entry per type, its body
    the WebhookPayload model."""
    for event_type in EVENT_TYPES:

        async def describe(body: WebhookPayload) -> None:  # never served: documentation only
            return None

        app.webhooks.post(
            event_type,
            name=f"webhook_{event_type.replace('.', '_')}",
            summary=f"{event_type}: POSTed to your endpoint, signed (Standard Webhooks)",
            status_code=204,
        )(describe)


async def background(app: FastAPI, settings: WebhookSettings | None = None) -> None:
    """The relay and sender beside the app (api.app's background tasks): until cancelled, then
    attempts under way get their timeout to finish."""
    settings = settings or WebhookSettings.from_env()
    stop = asyncio.Event()
    task = asyncio.create_task(run(app.state.pool, app.state.keyring, settings, stop))
    try:
        await asyncio.shield(task)
    finally:
        stop.set()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(task, settings.timeout + 5)
