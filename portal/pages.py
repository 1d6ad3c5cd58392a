"""The portal's HTML: Jinja2 templates (autoescaped), the locale of a request, and `t` for the
catalogue's sentences."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from mail import formatting as fm
from portal.catalogue import text

TEMPLATES = Path(__file__).parent / "templates"
LOCALES = ("nl", "en")

_ENV = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

# The token is in every URL: no Referer may carry it to another host (a shop's logo host).
HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def content_security_policy(nonce: str, logo_url: str | None) -> str:
    """Nothing runs and nothing loads but the page's own style (by its nonce: the brand colour is
    written into it) and images from here or the logo's host; forms post only here; no framing."""
    images = "'self'"
    if logo_url is not None and not logo_url.startswith("/"):
        parts = urlsplit(logo_url)
        images += f" {parts.scheme}://{parts.netloc}"
    return (
        f"default-src 'none'; style-src 'nonce-{nonce}'; img-src {images}; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )


def locale_of(request: Request, token_locale: str | None) -> str:
    """?lang=, else the link's locale, else the browser's Accept-Language, else Dutch."""
    asked = request.query_params.get("lang")
    if asked in LOCALES:
        return asked
    if token_locale in LOCALES:
        return token_locale
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LOCALES:
            return tag
    return "nl"


def render(name: str, status: int, locale: str, brand: Any, shop_email: str, **ctx: Any) -> HTMLResponse:
    def t(key: str, **values: Any) -> str:
        return text(locale, key).format(**values)

    nonce = secrets.token_urlsafe(16)
    html = _ENV.get_template(name).render(
        nonce=nonce,
        locale=locale,
        other=("en" if locale == "nl" else "nl"),
        t=t,
        money=lambda amount: fm.money(amount, locale),
        brand=brand,
        shop_email=shop_email,
        **ctx,
    )
    csp = content_security_policy(nonce, brand.logo_url)
    return HTMLResponse(html, status_code=status, headers={**HEADERS, "Content-Security-Policy": csp})
