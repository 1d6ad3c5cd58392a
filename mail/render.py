"""A customer message from its data: subject, text and HTML parts (Jinja2), and its attachments.

The data is what domain/messages.py built when the event happened; nothing is looked up here
except the shop's settings. The locale is the data's (`nl` by default). One flag decides the
return label: `data["label"]` makes the PDF, and the text speaks of an attached label only when
the attachment really is in `attachments`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from babel.lists import format_list
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from mail import formatting as fm
from mail.catalogue import LOCALES, sentence
from mail.label import return_label
from mail.shop import ShopSettings

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str
    attachments: tuple[Attachment, ...]


def _environment(html: bool) -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=html,
        undefined=StrictUndefined,  # a name the data lacks is an error, never "" in a mail
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


_TEXT = _environment(html=False)
_HTML = _environment(html=True)


def _translator(locale: str, html: bool) -> Callable[..., str]:
    """t("key", name=value): the catalogue's sentence with the values put in. In HTML the values
    are escaped (Markup.format), the sentence is the catalogue's own text, escaped as text."""

    def t(key: str, **values: Any) -> str:
        pattern = sentence(locale, key)
        if html:
            return Markup(escape(pattern)).format(**values)
        return pattern.format(**values)

    return t


def _link(html: bool) -> Callable[[str], str]:
    def link(url: str) -> str:
        return Markup('<a href="{0}">{0}</a>').format(url) if html else url

    return link


class _Words:
    """The data's values as the customer reads them, in one locale."""

    def __init__(self, data: Mapping[str, Any], locale: str) -> None:
        self.data, self.locale = data, locale

    def t(self, key: str, **values: Any) -> str:
        return sentence(self.locale, key).format(**values)

    def known(self, key: str) -> bool:
        try:
            sentence(self.locale, key)
        except KeyError:
            return False
        return True

    def money(self, amount: str) -> str:
        return fm.money(amount, self.locale)

    def method(self) -> str:
        return fm.payment_method(str(self.data.get("payment_method", "")), self.locale)

    def items(self, items: Sequence[Mapping[str, Any]]) -> str:
        """ "1x Toner 410X en 2x Sokken" """
        return self.names([f"{i['quantity']}x {i['name']}" for i in items])

    def names(self, names: Sequence[str], style: Literal["standard", "or"] = "standard") -> str:
        """ "a, b en c"; style "or": "a, b of c" (a choice)."""
        return format_list(list(names), style=style, locale=fm.babel_locale(self.locale)) if names else ""

    def noun(self) -> str:
        return self.t(f"noun_{self.data.get('kind', 'rejected')}")

    def resolution(self, resolution: str) -> str:
        return self.t(f"resolution_{resolution}", method=self.method())


def _needs(w: _Words, shop: ShopSettings, label_attached: bool) -> dict[str, Any]:
    """The blocks of case_opened and reminder: for each need what, how, and by when."""
    d = w.data
    due = {need: fm.moment(at, w.locale) for need, at in d.get("due", {}).items()}
    photos = None
    if d.get("photos"):
        photos = {
            "rows": [
                {
                    "item": p["name"],
                    "instruction": w.t(f"photo_{p['rule']}")
                    if w.known(f"photo_{p['rule']}")
                    else p["instruction"],
                }
                for p in d["photos"]
            ],
            "link": shop.upload_link(d["return_id"]),
            "due": due.get("photos"),
        }
    choice = None
    if d.get("choose_from"):
        repair = d.get("repair")
        choice = {
            "options": w.names([w.resolution(r) for r in d["choose_from"]], style="or"),
            "due": due.get("choice"),
            "repair": repair["extension_months"] if repair else None,
        }
    parcel = None
    if "parcel" in d.get("needs", ()):
        parcel = {
            "rows": w.items(d.get("parcel_items", ())),
            "label": label_attached,
            "address": list(shop.return_address),
            "due": due.get("parcel"),
        }
    returnless = w.names(d.get("returnless", ()))
    return {"photos": photos, "choice": choice, "parcel": parcel, "returnless": returnless}


def _quote(w: _Words) -> dict[str, Any] | None:
    """The quote with every addition and deduction explained; none for a replacement or a repair,
    which pay nothing."""
    d = w.data
    q, resolution = d.get("quote"), d.get("resolution")
    if q is None or resolution in ("replacement", "repair"):
        return None
    lines = []
    for add in q.get("additions", ()):
        key = f"addition_{add['rule']}"
        known = w.known(key)
        lines.append((key if known else "addition_other", {"amount": w.money(add["amount"])}, add))
    for ded in q.get("deductions", ()):
        key = f"deduction_{ded['rule']}"
        known = w.known(key)
        gift = d.get("line_names", {}).get(ded.get("line_id"), ded.get("line_id"))
        lines.append(
            (key if known else "deduction_other", {"amount": w.money(ded["amount"]), "gift": gift}, ded)
        )
    total, credit = w.money(q["total"]), w.money(d.get("store_credit_amount", q["total"]))
    if resolution == "refund":
        total_line = ("quote_total_refund", {"total": total, "method": w.method()})
    elif resolution == "store_credit":
        total_line = ("quote_total_store_credit", {"credit": credit})
    elif credit == total:
        total_line = ("quote_total_choice", {"total": total})
    else:
        total_line = ("quote_total_choice_bonus", {"total": total, "credit": credit})
    return {
        "gross": w.money(q["gross"]),
        "lines": [
            {"key": key, "args": {**values, "explanation": item.get("explanation", "")}}
            for key, values, item in lines
        ],
        "total": {"key": total_line[0], "args": total_line[1]},
        "credit": credit,
        "total_amount": total,
    }


def _next(w: _Words, quote: dict[str, Any] | None) -> list[tuple[str, dict[str, Any]]]:
    """What happens after the customer has done their part (case_opened)."""
    d = w.data
    steps: list[tuple[str, dict[str, Any]]] = []
    if "parcel" in d.get("needs", ()) and d.get("inspection"):
        steps.append(("next_inspection", {"days": d.get("inspection_days", 5)}))
    resolution = d.get("resolution")
    if resolution == "refund" and quote is not None:
        steps.append(("next_refund", {"total": quote["total_amount"], "method": w.method()}))
    elif resolution == "store_credit" and quote is not None:
        steps.append(("next_store_credit", {"amount": quote["credit"]}))
    elif resolution == "replacement":
        steps.append(("next_replacement", {"items": w.items(d.get("items", ()))}))
    elif resolution == "repair":
        steps.append(("next_repair", {}))
    elif d.get("choose_from"):
        steps.append(("next_choice", {}))
    else:
        steps.append(("next_now", {}))
    return steps


def _withdrawal(w: _Words) -> dict[str, str] | None:
    wd = w.data.get("withdrawal")
    if not wd:
        return None
    return {"received": fm.amsterdam_moment(wd["received_at"], w.locale), "items": w.items(wd["items"])}


def _resolved(w: _Words) -> dict[str, Any]:
    d = w.data
    return {
        "resolution": d["resolution"],
        "amount": w.money(d.get("refund") or d.get("store_credit") or "0"),
        "replaced": w.items(d.get("replaced_items", ())),
        "guarantees": [
            {"item": g["name"], "until": fm.day(g["until"], w.locale)} for g in d.get("guarantee_until", ())
        ],
        "revoked": w.names(d.get("revoked_items", ())),
    }


def _rejected(w: _Words) -> dict[str, Any]:
    d = w.data
    items = []
    for item in d.get("items", ()):
        key = f"rule_{item['rule']}"
        reason = w.t(key) if w.known(key) else w.t("rule_other", rule=item["rule"])
        items.append({"item": item["name"], "reason": reason})
    until = d.get("appeal_until")
    return {"rows": items, "appeal_until": fm.moment(until, w.locale) if until else None}


def context(
    template: str, data: Mapping[str, Any], shop: ShopSettings, label_attached: bool
) -> dict[str, Any]:
    """Everything the templates show, formatted for the data's locale (plain strings: each part
    escapes them as it needs)."""
    locale = _locale(data)
    w = _Words(data, locale)
    name = str(data.get("customer_name") or "").strip()
    quote = _quote(w) if template == "case_opened" else None
    ctx: dict[str, Any] = {
        "template": template,
        "locale": locale,
        "shop": shop,
        "return_id": data["return_id"],
        "order_id": data.get("order_id", ""),
        "kind": data.get("kind", "rejected"),
        "name": name,
        "noun": w.noun(),
        "method": w.method(),
        "withdrawal": _withdrawal(w),
        "quote": quote,
        "next": _next(w, quote) if template == "case_opened" else [],
        "label_attached": label_attached,
        **_needs(w, shop, label_attached),
    }
    if template == "case_opened":
        repair = data.get("repair")
        ctx["repair_months"] = repair["extension_months"] if repair else None
    if template == "case_resolved":
        ctx["resolved"] = _resolved(w)
    if template in ("case_rejected", "inspection_failed"):
        ctx["rejected"] = _rejected(w)
    if template == "case_expired":
        ctx["need"] = w.t(f"need_{data['need']}")
    if template == "inspection_failed":
        ctx["note"] = str(data.get("note") or "")
    return ctx


def _tidy(text: str) -> str:
    """No trailing spaces, at most one empty line in a row, one newline at the end."""
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def label_wanted(data: Mapping[str, Any]) -> bool:
    """The one flag: the label PDF is attached, and the text speaks of it, exactly when set."""
    return bool(data.get("label"))


def _attachments(data: Mapping[str, Any], shop: ShopSettings, locale: str) -> tuple[Attachment, ...]:
    if not label_wanted(data):
        return ()
    pdf = return_label(str(data["return_id"]), str(data.get("customer_name") or ""), None, shop, locale)
    name = sentence(locale, "label_filename").format(return_id=data["return_id"])
    return (Attachment(filename=name, content_type="application/pdf", content=pdf),)


def _locale(data: Mapping[str, Any]) -> str:
    return str(data.get("locale")) if data.get("locale") in LOCALES else "nl"


def _text(template: str, ctx: dict[str, Any], locale: str) -> str:
    return _tidy(
        _TEXT.get_template(f"{template}.txt").render(
            ctx, t=_translator(locale, html=False), link=_link(html=False)
        )
    )


def _context(template: str, data: dict[str, Any], shop: ShopSettings, label_attached: bool) -> dict[str, Any]:
    ctx = context(template, data, shop, label_attached)
    ctx["subject"] = sentence(_locale(data), f"subject_{template}").format(
        noun=ctx["noun"], return_id=ctx["return_id"]
    )
    return ctx


def render_message(template: str, data: dict[str, Any], shop: ShopSettings) -> RenderedMessage:
    """The message `template` (a contract message name) for its data, in the data's locale."""
    locale = _locale(data)
    attachments = _attachments(data, shop, locale)
    ctx = _context(template, data, shop, label_attached=bool(attachments))
    html = _HTML.get_template(f"{template}.html").render(
        ctx, t=_translator(locale, html=True), link=_link(html=True)
    )
    return RenderedMessage(
        subject=ctx["subject"], text=_text(template, ctx, locale), html=html, attachments=attachments
    )


def render_text(template: str, data: dict[str, Any], shop: ShopSettings) -> str:
    """render_message(...).text without drawing the label: what a store of the text needs. The
    label flag decides the label sentence here as it decides the attachment there."""
    return _text(template, _context(template, data, shop, label_attached=label_wanted(data)), _locale(data))
