"""The portal's routes under /r/<token> (not in the shop API's OpenAPI document). Every action
goes through ReturnsClient, the path the HTTP API takes; pages read the case from PostgreSQL (the
read model and the event store), never from Temporal."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile
from temporalio.service import RPCError

from activities.event_store import fold_stored
from domain.case import ReturnCase
from domain.request import InvalidRequest, parse_request
from mail import formatting as fm
from mail.catalogue import sentence as mail_sentence
from mail.label import return_label
from mail.shop import ShopSettings
from photos.clean import PhotoRejected, clean_photo
from photos.settings import PhotoStoreConfigError
from photos.store import store_photos
from portal import form as pf
from portal.answer import answer
from portal.catalogue import text
from portal.links import LinkClaims, LinkRefused, read_claims
from portal.pages import HEADERS, locale_of, render
from portal.settings import DEFAULT_COLOR, Brand, PortalConfigError, PortalSettings
from portal.withdrawal import in_period, period_ends, returnable_lines, withdrawal_request
from returns_client import CaseNotFound, PayloadKeyError, Refused, ReturnsClient
from store import read_model
from store.event_store import EventStore, StoredEvent

log = logging.getLogger(__name__)
router = APIRouter(prefix="/r", include_in_schema=False)
T = TypeVar("T")
REFUSED_STATUS = {"tampered": 403, "expired": 410, "malformed": 400}
EMAIL_MAX = 254


class _Stop(Exception):
    """A page that ends the request (refused link, unknown case, unavailable)."""

    def __init__(self, response: Response) -> None:
        self.response = response


def unconfigured(locale: str) -> HTMLResponse:
    brand = Brand(name=ShopSettings.from_env().name, logo_url=None, color=DEFAULT_COLOR)
    return render(
        "message.html",
        503,
        locale,
        brand,
        ShopSettings.from_env().email,
        lang_url="?lang=" + ("en" if locale == "nl" else "nl"),
        title="title_unavailable",
        message="unavailable",
    )


def settings(request: Request) -> PortalSettings:
    state = request.app.state
    found: PortalSettings | None = getattr(state, "portal", None)
    if found is None:
        found = PortalSettings.from_env()
        state.portal = found
    return found


class Visit:
    """One request's link, locale and settings."""

    def __init__(self, request: Request, token: str) -> None:
        self.request, self.token = request, token
        try:
            self.settings = settings(request)
        except (PortalConfigError, PhotoStoreConfigError, OSError, ValueError) as e:
            log.error("portal: not configured: %s", e)  # the secret itself is never in it
            raise _Stop(unconfigured(locale_of(request, None))) from None
        self.now = datetime.now(UTC)
        try:
            self.claims: LinkClaims = read_claims(token, self.settings.secret, self.now)
        except LinkRefused as e:
            locale = locale_of(request, None)
            log.info("portal link refused: %s", e.reason)  # never the token
            raise _Stop(
                self.page("refused.html", REFUSED_STATUS[e.reason], locale, reason=e.reason)
            ) from None
        self.locale = locale_of(request, self.claims.locale)

    @property
    def base(self) -> str:
        return f"/r/{self.token}"

    def url(self, path: str = "") -> str:
        return f"{self.base}{path}?lang={self.locale}"

    def page(self, name: str, status: int, locale: str | None = None, **ctx: Any) -> HTMLResponse:
        s = self.settings
        shown = locale or self.locale
        other = "en" if shown == "nl" else "nl"
        path = self.request.url.path if self.request.method == "GET" else self.base
        return render(
            name, status, shown, s.brand, s.shop.email, visit=self, lang_url=f"{path}?lang={other}", **ctx
        )

    def redirect(self, path: str) -> RedirectResponse:
        return RedirectResponse(self.url(path), status_code=303, headers=HEADERS)

    @property
    def returns(self) -> ReturnsClient:
        rc: ReturnsClient = self.request.app.state.returns
        return rc

    @property
    def pool(self) -> asyncpg.Pool:
        pool: asyncpg.Pool = self.request.app.state.pool
        return pool

    def unavailable(self) -> _Stop:
        return _Stop(self.page("message.html", 503, title="title_unavailable", message="unavailable"))

    async def guarded(self, call: Awaitable[T]) -> T:
        try:
            return await call
        except (OSError, asyncpg.PostgresConnectionError, PayloadKeyError, RPCError) as e:
            log.warning("portal: %s", type(e).__name__)
            raise self.unavailable() from None

    async def case(self, return_id: str) -> tuple[ReturnCase, list[StoredEvent]]:
        """The case of this link's order, folded from the event store; 404 for any other."""
        row = await self.guarded(read_model.get_case(self.pool, return_id))
        if row is None or row.order_id != self.claims.order.order_id:
            raise _Stop(self.page("message.html", 404, title="title_not_found", message="not_found"))
        store: EventStore | None = getattr(self.request.app.state, "portal_events", None)
        if store is None:
            store = EventStore(self.pool)
            self.request.app.state.portal_events = store
        events = await self.guarded(store.read_stream(self.returns.case_id(return_id)))
        case = fold_stored(events)
        if case is None:
            raise _Stop(self.page("message.html", 404, title="title_not_found", message="not_found"))
        return case, events


def _page(handler: Callable[..., Awaitable[Response]]) -> Callable[..., Awaitable[Response]]:
    """Runs a page handler; a _Stop answers its page."""

    @functools.wraps(handler)
    async def run(*args: Any, **kwargs: Any) -> Response:
        try:
            return await handler(*args, **kwargs)
        except _Stop as stop:
            return stop.response

    return run


async def _form(request: Request) -> tuple[dict[str, str], dict[str, list[UploadFile]]]:
    data = await request.form(max_files=500, max_fields=5000)
    fields: dict[str, str] = {}
    files: dict[str, list[UploadFile]] = {}
    for name, value in data.multi_items():
        if isinstance(value, UploadFile):
            if value.filename:  # an empty file input sends a part without a name
                files.setdefault(name, []).append(value)
        else:
            fields.setdefault(name, value)
    return fields, files


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB"


async def _cleaned(
    visit: Visit, field: str, uploads: list[UploadFile], errors: pf.Errors
) -> list[tuple[bytes, str]]:
    """Each upload checked and stripped; an error on `field` for the first bad one."""
    if len(uploads) > pf.MAX_PHOTOS:
        errors.add(field, "error_photo_too_many")
        return []
    limit = visit.settings.max_photo_bytes
    cleaned = []
    for upload in uploads:
        data = await upload.read(limit + 1)
        try:
            cleaned.append(
                await asyncio.to_thread(clean_photo, data, upload.content_type or "", limit, field)
            )
        except PhotoRejected as e:
            key = "error_photo_too_large" if e.reason.startswith("too_large") else f"error_photo_{e.reason}"
            errors.add(field, key, max=_mb(limit))
            return []
    return cleaned


# --- the entry page and the start form --------------------------------------------------------
def _start_page(
    visit: Visit, status: int, values: dict[str, str], errors: pf.Errors, cases: list[read_model.CaseRow]
) -> HTMLResponse:
    order = visit.claims.order
    return visit.page(
        "start.html",
        status,
        order=order,
        delivered=fm.day(order.delivered_at, visit.locale),
        method=fm.payment_method(order.payment.method, visit.locale),
        values=values,
        errors=errors.fields,
        return_id=values.get("return_id") or pf.new_return_id(order.order_id),
        reasons=pf.REASONS,
        conditions=pf.CONDITIONS,
        resolutions=pf.RESOLUTIONS,
        max_photo=_mb(visit.settings.max_photo_bytes),
        cases=[(c.return_id, mail_status(visit.locale, c.status)) for c in cases],
        withdrawal_open=in_period(order, visit.settings.policy, visit.now) and bool(returnable_lines(order)),
        fname=pf.fname,
    )


def mail_status(locale: str, status: str) -> str:
    return text(locale, f"status_{status}")


async def _order_cases(visit: Visit) -> list[read_model.CaseRow]:
    return await visit.guarded(
        read_model.find_cases(visit.pool, order_id=visit.claims.order.order_id, limit=50)
    )


@router.get("/{token}", response_class=HTMLResponse)
@_page
async def entry(request: Request, token: str) -> Response:
    visit = Visit(request, token)
    return _start_page(visit, 200, {}, pf.Errors(), await _order_cases(visit))


@router.post("/{token}/returns", response_class=HTMLResponse)
@_page
async def start(request: Request, token: str) -> Response:
    """Validate everything first (fields, photos, the request itself); only then store the
    photos and submit: bad input starts nothing and stores nothing."""
    visit = Visit(request, token)
    fields, files = await _form(request)
    order = visit.claims.order
    errors = pf.Errors()
    return_id = fields.get("return_id", "")
    if not pf.valid_return_id(order.order_id, return_id):
        fields["return_id"] = ""
        errors.add("lines", "error_request", detail="return_id")
    lines = pf.read_lines(order, fields, errors)
    resolution = fields.get("resolution", "")
    if resolution not in pf.RESOLUTIONS:
        errors.add("resolution", "error_resolution")
    cleaned: dict[str, list[tuple[bytes, str]]] = {}
    for x in lines:
        name = pf.fname(x.index, "photos")
        cleaned[x.line_id] = await _cleaned(visit, name, files.get(name, []), errors)
    if not errors:
        placeholders = {line_id: [f"photo:{n}" for n in range(len(c))] for line_id, c in cleaned.items()}
        try:
            parse_request(
                pf.start_request(
                    visit.claims.order_json, return_id, lines, placeholders, resolution, visit.locale
                )
            )
        except InvalidRequest as e:
            errors.add("lines", "error_request", detail=str(e))
    if errors:
        return _start_page(visit, 422, fields, errors, await _order_cases(visit))
    refs: dict[str, list[str]] = {}
    for line_id, photos in cleaned.items():
        stored = await visit.guarded(store_photos(visit.settings.photos, return_id, line_id, photos))
        refs[line_id] = [p.ref for p in stored]
    body = pf.start_request(visit.claims.order_json, return_id, lines, refs, resolution, visit.locale)
    try:
        await visit.guarded(visit.returns.submit(body))
    except InvalidRequest as e:  # the client's own checks (a delivery in the future)
        errors.add("lines", "error_request", detail=str(e))
        return _start_page(visit, 422, fields, errors, await _order_cases(visit))
    return visit.redirect(f"/returns/{return_id}")


# --- the case: first answer, follow-up, status ---------------------------------------------------
async def _case_page(visit: Visit, return_id: str, status: int = 200, **extra: Any) -> HTMLResponse:
    case, events = await visit.case(return_id)
    shown = answer(case, events, visit.locale, visit.settings.shop)
    return visit.page("case.html", status, a=shown, errors=extra.pop("errors", {}), **extra)


@router.get("/{token}/returns/{return_id}", response_class=HTMLResponse)
@_page
async def case_page(request: Request, token: str, return_id: str) -> Response:
    return await _case_page(Visit(request, token), return_id)


async def _act(visit: Visit, return_id: str, call: Awaitable[Any], field: str) -> Response:
    try:
        await visit.guarded(call)
    except Refused as e:
        errors = pf.Errors()
        errors.add(field, "error_refused", detail=str(e))
        return await _case_page(visit, return_id, 409, errors=errors.fields)
    except CaseNotFound:
        return visit.page("message.html", 404, title="title_not_found", message="not_found")
    return visit.redirect(f"/returns/{return_id}")


@router.post("/{token}/returns/{return_id}/photos", response_class=HTMLResponse)
@_page
async def photos(request: Request, token: str, return_id: str) -> Response:
    visit = Visit(request, token)
    case, _ = await visit.case(return_id)
    fields, files = await _form(request)
    line_id = fields.get("line_id", "")
    errors = pf.Errors()
    item = case.item(line_id)
    field = f"photos-{line_id}"
    if item is None:
        return await _case_page(visit, return_id, 422, errors={"photos": ("error_photo_none", {})})
    uploads = files.get("photos", [])
    if not uploads:
        errors.add(field, "error_photo_none")
    cleaned = await _cleaned(visit, field, uploads, errors) if uploads else []
    if errors:
        return await _case_page(visit, return_id, 422, errors=errors.fields)
    stored = await visit.guarded(store_photos(visit.settings.photos, return_id, line_id, cleaned))
    refs = [p.ref for p in stored]
    return await _act(visit, return_id, visit.returns.submit_photos(return_id, line_id, refs), field)


@router.post("/{token}/returns/{return_id}/choice", response_class=HTMLResponse)
@_page
async def choice(request: Request, token: str, return_id: str) -> Response:
    visit = Visit(request, token)
    await visit.case(return_id)
    fields, _ = await _form(request)
    resolution = fields.get("resolution", "")
    if resolution not in ("refund", "store_credit", "replacement", "repair"):
        return await _case_page(visit, return_id, 422, errors={"choice": ("error_resolution", {})})
    return await _act(visit, return_id, visit.returns.choose_resolution(return_id, resolution), "choice")


@router.get("/{token}/returns/{return_id}/cancel", response_class=HTMLResponse)
@_page
async def cancel_confirm(request: Request, token: str, return_id: str) -> Response:
    visit = Visit(request, token)
    await visit.case(return_id)
    return visit.page("cancel.html", 200, return_id=return_id)


@router.post("/{token}/returns/{return_id}/cancel", response_class=HTMLResponse)
@_page
async def cancel(request: Request, token: str, return_id: str) -> Response:
    visit = Visit(request, token)
    await visit.case(return_id)
    return await _act(visit, return_id, visit.returns.cancel(return_id), "cancel")


@router.get("/{token}/returns/{return_id}/label.pdf")
@_page
async def label(request: Request, token: str, return_id: str) -> Response:
    visit = Visit(request, token)
    case, _ = await visit.case(return_id)
    if "parcel" not in case.needs:
        return visit.page("message.html", 404, title="title_not_found", message="not_found")
    pdf = await asyncio.to_thread(
        return_label, return_id, case.request.order.customer.name, None, visit.settings.shop, visit.locale
    )
    name = mail_sentence(visit.locale, "label_filename").format(return_id=return_id)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={**HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- the withdrawal function (contract 7.2) ---------------------------------------------------
def _withdrawal_page(
    visit: Visit, name: str, status: int, values: dict[str, str], errors: pf.Errors
) -> HTMLResponse:
    order = visit.claims.order
    return visit.page(
        name,
        status,
        order=order,
        until=fm.day(period_ends(order, visit.settings.policy), visit.locale),
        open=in_period(order, visit.settings.policy, visit.now),
        lines=returnable_lines(order),
        values=values,
        errors=errors.fields,
        return_id=values.get("return_id") or pf.new_return_id(order.order_id),
    )


def _identified(visit: Visit, fields: dict[str, str], errors: pf.Errors) -> tuple[str, str]:
    name = fields.get("name", "").strip()
    email = fields.get("email", "").strip()
    if not name or len(name) > 500 or "\x00" in name:
        errors.add("name", "error_name")
    if (
        not (3 <= len(email) <= EMAIL_MAX)
        or email.count("@") != 1
        or any(c.isspace() for c in email)
        or email.startswith("@")
        or email.endswith("@")
    ):
        errors.add("email", "error_email")
    return name, email


async def earlier_withdrawal(visit: Visit) -> str | None:
    """The order's withdrawal case when it has one (not cancelled): withdrawn once is enough."""
    for row in await _order_cases(visit):
        if row.status == "cancelled":
            continue
        case, _ = await visit.case(row.return_id)
        if all(item.reason == "withdrawal" for item in case.request.items):
            return row.return_id
    return None


@router.get("/{token}/withdrawal", response_class=HTMLResponse)
@_page
async def withdrawal_identify(request: Request, token: str) -> Response:
    visit = Visit(request, token)
    earlier = await earlier_withdrawal(visit)
    if earlier is not None:
        return visit.redirect(f"/returns/{earlier}")
    customer = visit.claims.order.customer
    values = {"name": customer.name, "email": customer.email}
    return _withdrawal_page(visit, "withdrawal.html", 200, values, pf.Errors())


@router.post("/{token}/withdrawal", response_class=HTMLResponse)
@_page
async def withdrawal_review(request: Request, token: str) -> Response:
    """Step 1 sent: the identification checked, then step 2 (confirm)."""
    visit = Visit(request, token)
    fields, _ = await _form(request)
    errors = pf.Errors()
    _identified(visit, fields, errors)
    if errors:
        return _withdrawal_page(visit, "withdrawal.html", 422, fields, errors)
    return _withdrawal_page(visit, "withdrawal_confirm.html", 200, fields, errors)


@router.post("/{token}/withdrawal/confirm", response_class=HTMLResponse)
@_page
async def withdrawal_confirm(request: Request, token: str) -> Response:
    visit = Visit(request, token)
    fields, _ = await _form(request)
    order = visit.claims.order
    errors = pf.Errors()
    name, email = _identified(visit, fields, errors)
    return_id = fields.get("return_id", "")
    if not pf.valid_return_id(order.order_id, return_id):
        errors.add("name", "error_request", detail="return_id")
    if errors:
        return _withdrawal_page(visit, "withdrawal.html", 422, fields, errors)
    if not in_period(order, visit.settings.policy, visit.now) or not returnable_lines(order):
        return _withdrawal_page(visit, "withdrawal.html", 409, fields, errors)
    earlier = await earlier_withdrawal(visit)
    if earlier is not None:  # another tab withdrew already: show that one
        return visit.redirect(f"/returns/{earlier}")
    body = withdrawal_request(visit.claims.order_json, order, return_id, name, email, visit.locale)
    try:
        await visit.guarded(visit.returns.submit(body))
    except InvalidRequest as e:
        errors.add("name", "error_request", detail=str(e))
        return _withdrawal_page(visit, "withdrawal.html", 422, fields, errors)
    return visit.redirect(f"/returns/{return_id}")
