"""The ops overview over HTTP: `GET /ops`, a server-rendered page (no JavaScript) behind an ops
key, with its sign-in form, and its JSON twin `GET /v1/ops/overview` for dashboards.

The page takes a bearer header or the session cookie its sign-in form sets (ops/session.py);
links go to each case's page in the Temporal Web UI at RETURNS_TEMPORAL_UI_URL (worker.py sets it
to its dev server's UI) in TEMPORAL_NAMESPACE."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api import problems
from api.auth import Principal, require
from ops.charts import PALETTE, Chart, Series, stacked_bars
from ops.overview import Overview, overview
from ops.session import COOKIE, Refusal, Sessions, principal_of, sign_in

UI_ENV = "RETURNS_TEMPORAL_UI_URL"
PAGE = "/ops"

router = APIRouter()
_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
}


def _sessions(request: Request) -> Sessions:
    sessions: Sessions | None = getattr(request.app.state, "ops_sessions", None)
    if sessions is None:
        sessions = request.app.state.ops_sessions = Sessions()
    return sessions


async def _figures(request: Request) -> Overview:
    return await overview(
        request.app.state.pool,
        temporal_ui=os.environ.get(UI_ENV) or None,
        namespace=os.environ.get("TEMPORAL_NAMESPACE", "default"),
    )


def _page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(_templates.get_template(name).render(**context), status_code=status, headers=_HEADERS)


def _sign_in_page(refusal: Refusal | None) -> HTMLResponse:
    return _page(
        "sign_in.html", refusal.status if refusal else 200, error=refusal.detail if refusal else None
    )


def _bearer(request: Request) -> str | None:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" and credentials.strip() else None


def charts(o: Overview) -> list[Chart]:
    days = [d.day for d in o.days]
    kinds = sorted({k for d in o.days for k in (*d.opened, *d.resolved)} | set(o.by_kind))
    colour = {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(kinds)}

    def by_kind(which: str) -> list[Series]:
        return [Series(k, [getattr(d, which).get(k, 0) for d in o.days], colour[k]) for k in kinds]

    return [
        stacked_bars("opened", "Cases opened per day, by kind", days, by_kind("opened")),
        stacked_bars("resolved", "Cases resolved per day, by kind", days, by_kind("resolved")),
        stacked_bars(
            "payouts",
            "Refund and store credit per day",
            days,
            [
                Series("refund", [d.refunded for d in o.days], PALETTE[0]),
                Series("store credit", [d.store_credit for d in o.days], PALETTE[1]),
            ],
            unit="€",
        ),
    ]


@router.get(PAGE, include_in_schema=False)
async def ops_page(request: Request) -> HTMLResponse:
    who = await principal_of(
        request.app.state.pool,
        _sessions(request),
        bearer=_bearer(request),
        cookie=request.cookies.get(COOKIE),
    )
    if isinstance(who, Refusal):
        page = _sign_in_page(who)
        if request.cookies.get(COOKIE):
            page.delete_cookie(COOKIE, path=PAGE)
        return page
    o = await _figures(request)
    return _page("overview.html", o=o, charts=charts(o), actor=who.actor, ui=os.environ.get(UI_ENV))


@router.post(f"{PAGE}/sign-in", include_in_schema=False)
async def ops_sign_in(request: Request) -> Response:
    """The sign-in form: a pasted ops key becomes a session cookie (HttpOnly, SameSite=Strict,
    Secure over https) naming the key's id; the page then answers without a header."""
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    key = (form.get("key") or [""])[0]
    if not key.strip():
        return _sign_in_page(Refusal(401, "paste an ops API key (rk_...)"))
    who = await sign_in(request.app.state.pool, key)
    if isinstance(who, Refusal):
        return _sign_in_page(who)
    response = RedirectResponse(PAGE, status_code=303, headers={"Cache-Control": "no-store"})
    sessions = _sessions(request)
    response.set_cookie(
        COOKIE,
        sessions.issue(who.key_id),
        max_age=sessions.max_age,
        path=PAGE,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post(f"{PAGE}/sign-out", include_in_schema=False)
async def ops_sign_out() -> Response:
    response = RedirectResponse(PAGE, status_code=303)
    response.delete_cookie(COOKIE, path=PAGE)
    return response


@router.get(
    "/v1/ops/overview",
    tags=["ops"],
    name="ops_overview",
    summary="The ops overview",
    response_model=Overview,
    responses=problems.responses(401, 403, 422),
)
async def ops_overview(
    request: Request, principal: Annotated[Principal, Depends(require("ops"))]
) -> Overview:
    """The ops overview's figures (the page GET /ops shows them): counts by status and kind, the
    NeedsAttention queue oldest first with each case's Temporal Web UI link, median days to
    resolution, messages per case, the share of cases asked for photos, refund against store
    credit, and per day of the last 30 days (UTC) the cases opened and resolved by kind and the
    amounts paid out."""
    return await _figures(request)
