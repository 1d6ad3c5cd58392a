"""Money, dates and payment methods as a customer reads them, per locale (Babel).

Every date and time is shown in Europe/Amsterdam, the zone the contract counts days in.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
# The message locales and the Babel locale each one formats with (en: European day order).
BABEL_LOCALE = {"nl": "nl_NL", "en": "en_GB"}
_DATE = "EEEE d MMMM y"
_TIME = {"nl": "'om' HH:mm", "en": "'at' HH:mm"}

# Payment methods by the names their brands use; "card" is Stripe's word, "creditcard" Mollie's.
_PAYMENT_METHODS: dict[str, dict[str, str]] = {
    "ideal": {"nl": "iDEAL", "en": "iDEAL"},
    "creditcard": {"nl": "creditcard", "en": "credit card"},
    "card": {"nl": "creditcard", "en": "credit card"},
    "paypal": {"nl": "PayPal", "en": "PayPal"},
    "bancontact": {"nl": "Bancontact", "en": "Bancontact"},
    "klarna": {"nl": "Klarna", "en": "Klarna"},
    "applepay": {"nl": "Apple Pay", "en": "Apple Pay"},
    "apple_pay": {"nl": "Apple Pay", "en": "Apple Pay"},
    "googlepay": {"nl": "Google Pay", "en": "Google Pay"},
    "banktransfer": {"nl": "bankoverschrijving", "en": "bank transfer"},
    "directdebit": {"nl": "SEPA-incasso", "en": "SEPA Direct Debit"},
    "sepa_debit": {"nl": "SEPA-incasso", "en": "SEPA Direct Debit"},
    "sofort": {"nl": "SOFORT", "en": "SOFORT"},
    "giropay": {"nl": "giropay", "en": "giropay"},
}


def babel_locale(locale: str) -> str:
    return BABEL_LOCALE.get(locale, BABEL_LOCALE["nl"])


def money(amount: str | Decimal, locale: str) -> str:
    """ "1149.00" -> "€ 1.149,00" (nl, with a no-break space) or "€1,149.00" (en)."""
    return format_currency(Decimal(amount), "EUR", locale=babel_locale(locale))


def _aware(value: str | datetime) -> datetime:
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    if at.tzinfo is None:
        raise ValueError(f"a time without a zone cannot be shown in Amsterdam: {value!r}")
    return at


def day(value: str | date | datetime, locale: str) -> str:
    """A date ("2028-09-08") or a moment, as its Amsterdam day: "vrijdag 8 september 2028"."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        value = _aware(value).astimezone(AMSTERDAM).date()
    return format_date(value, _DATE, locale=babel_locale(locale))


def moment(value: str | datetime, locale: str) -> str:
    """A moment in Amsterdam: "dinsdag 3 november 2026 om 14:30"."""
    pattern = f"{_DATE} {_TIME.get(locale, _TIME['nl'])}"
    return format_datetime(_aware(value), pattern, tzinfo=AMSTERDAM, locale=babel_locale(locale))


def amsterdam_moment(local: str, locale: str) -> str:
    """A moment already written as Amsterdam wall-clock time ("2026-10-20 09:00")."""
    return moment(datetime.fromisoformat(local).replace(tzinfo=AMSTERDAM), locale)


def payment_method(method: str, locale: str) -> str:
    """ "ideal" -> "iDEAL"; an unknown method as given."""
    names = _PAYMENT_METHODS.get(method.lower())
    return names.get(locale, names["nl"]) if names else method
