"""The FastAPI application: `create_app(...)` wires the routers, the problem handlers, the body
limit and the lifespan (PostgreSQL pool, Temporal client, background tasks).

Other capabilities plug in here: add their router to ROUTERS (or pass `routers=`), and a task
that lives as long as the app to `background` (a factory called with the app once the pool and
client are ready; cancelled at shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi

from api import problems
from api.limits import DEFAULT_MAX_BODY, MaxBodySize
from api.returns import router as returns_router
from customers.api import router as customers_router
from domain.request import ReturnRequest
from mail.api import router as messages_router
from ops.api import router as ops_router
from payload.codec import Keyring
from payments.api import router as payments_router
from photos.api import router as photos_router
from portal.routes import router as portal_router
from returns_client import ReturnsClient
from store_credit.api import router as store_credit_router
from webhooks import api as webhooks_api
from webhooks.settings import enabled_in_process

log = logging.getLogger(__name__)

TITLE = "Returns service API"
VERSION = "1.0.0"

# A coroutine factory run beside the app while it lives (e.g. an outbox relay).
Background = Callable[[FastAPI], Awaitable[None]]

# The routers every app serves; a capability adds its own here.
ROUTERS: list[APIRouter] = [
    returns_router,
    webhooks_api.router,
    customers_router,
    store_credit_router,
    payments_router,
    messages_router,
    photos_router,
    portal_router,  # the customer pages under /r/<token>: not in the OpenAPI document
    ops_router,
]


@dataclass
class Deps:
    """What the routes use, on `app.state`: the pool (the service's restricted role), the client
    (connected with the payload data converter) and the payload keyring."""

    pool: asyncpg.Pool
    returns: ReturnsClient
    keyring: Keyring = field(default_factory=lambda: Keyring(()))


# Builds the deps at startup and closes what it opened at shutdown.
DepsFactory = Callable[[], contextlib.AbstractAsyncContextManager[Deps]]


def served_background() -> list[Background]:
    """The tasks a served app runs (worker.py, `python -m api serve`): the webhook relay and
    sender, unless RETURNS_WEBHOOKS=0 (then `python -m api webhooks run` runs them elsewhere).
    Tests pass their own."""
    return [webhooks_api.background] if enabled_in_process() else []


def max_body_from_env() -> int:
    value = os.environ.get("RETURNS_API_MAX_BODY")
    return int(value) if value else DEFAULT_MAX_BODY


def portal_max_body_from_env() -> int:
    """The portal's forms carry photos: up to RETURNS_PORTAL_MAX_BODY bytes (default 64 MiB)."""
    value = os.environ.get("RETURNS_PORTAL_MAX_BODY")
    return int(value) if value else 64 * 1024 * 1024


def create_app(
    deps: Deps | DepsFactory | None = None,
    *,
    routers: Sequence[APIRouter] | None = None,
    background: Sequence[Background] = (),
    max_body: int | None = None,
) -> FastAPI:
    """The app. `deps`: ready deps (tests), a factory opening them in the lifespan (serve,
    worker.py), or None for an app that only serves its OpenAPI document."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            if deps is not None:
                d = deps if isinstance(deps, Deps) else await stack.enter_async_context(deps())
                app.state.pool = d.pool
                app.state.returns = d.returns
                app.state.keyring = d.keyring
            tasks = [asyncio.create_task(factory(app)) for factory in (*background, *app.state.background)]
            try:
                yield
            finally:
                for t in tasks:
                    t.cancel()
                for t in tasks:
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await t

    app = FastAPI(
        title=TITLE,
        version=VERSION,
        description="Return cases for webshops (docs/contract.md). Errors are RFC 9457 problem+json.",
        lifespan=lifespan,
        # operationId = the route's name (submit, status, photos, ... list): stable and readable.
        generate_unique_id_function=lambda route: route.name,
    )
    app.state.background = []  # more factories may be appended before the app starts
    webhooks_api.document_payloads(app)
    problems.install(app)
    for r in routers if routers is not None else ROUTERS:
        app.include_router(r)
    app.add_middleware(
        MaxBodySize,
        limit=max_body if max_body is not None else max_body_from_env(),
        by_prefix={"/r/": portal_max_body_from_env()},
    )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
                webhooks=app.webhooks.routes,
            )
            problems.add_schema(doc)
            # POST /v1/returns reads its body itself (the CLI's validation, the CLI's texts).
            problems.add_schema(doc, ReturnRequest, "ReturnRequest")
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
