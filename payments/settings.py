"""Which provider refunds which payment method, from the environment:

  RETURNS_PAYMENT_PROVIDERS  "ideal=mollie,card=stripe,*=ledger": payment method=adapter, `*` for
                             every other method; default "*=ledger" (the embedded PostgreSQL ledger)
  STRIPE_API_KEY, STRIPE_API_BASE   the stripe adapter's secret key, and another API address
                                    (localstripe in tests)
  MOLLIE_API_KEY, MOLLIE_API_BASE   the same for mollie

A config naming an unknown adapter, or an adapter without its key, raises PaymentConfigError (one
line for the operator) when the worker starts. Keys are never logged nor put in a message."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from payments.ledger import LedgerProvider
from payments.mollie import MollieProvider
from payments.port import PaymentProvider
from payments.stripe_adapter import StripeProvider

ENV = "RETURNS_PAYMENT_PROVIDERS"
DEFAULT = "*=ledger"
ADAPTERS = ("ledger", "stripe", "mollie")
ANY_METHOD = "*"


class PaymentConfigError(Exception):
    """A payment setting that keeps the worker from starting."""


@dataclass(frozen=True)
class PaymentProviders:
    """The adapter for each payment method; `*` for the rest."""

    by_method: Mapping[str, PaymentProvider] = field(default_factory=lambda: {ANY_METHOD: LedgerProvider()})

    def for_method(self, payment_method: str) -> PaymentProvider:
        provider = self.by_method.get(payment_method.lower()) or self.by_method.get(ANY_METHOD)
        if provider is None:
            raise PaymentConfigError(f"{ENV}: no adapter for payment method {payment_method!r} and no '*='")
        return provider

    def named(self, provider: str) -> PaymentProvider | None:
        """The configured adapter of that name (a refund row's `provider`), None when no payment
        method uses it any more."""
        return next((p for p in self.by_method.values() if p.name == provider), None)

    @property
    def outside(self) -> list[str]:
        """The names of the configured adapters that are outside providers (not the ledger)."""
        return sorted({p.name for p in self.by_method.values() if p.name != "ledger"})

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PaymentProviders:
        env = os.environ if env is None else env
        routes = parse_routes(env.get(ENV) or DEFAULT)
        made: dict[str, PaymentProvider] = {}
        for adapter in sorted(set(routes.values())):
            made[adapter] = _make(adapter, env)
        return cls({method: made[adapter] for method, adapter in routes.items()})


def parse_routes(value: str) -> dict[str, str]:
    routes: dict[str, str] = {}
    for part in value.split(","):
        if not part.strip():
            continue
        method, sep, adapter = part.partition("=")
        method, adapter = method.strip().lower(), adapter.strip().lower()
        if not sep or not method or not adapter:
            raise PaymentConfigError(
                f"{ENV}: {part.strip()!r} is not method=adapter (e.g. card=stripe,*=ledger)"
            )
        if adapter not in ADAPTERS:
            raise PaymentConfigError(
                f"{ENV}: unknown adapter {adapter!r} for {method!r}; known: {', '.join(ADAPTERS)}"
            )
        if method in routes:
            raise PaymentConfigError(f"{ENV}: payment method {method!r} named twice")
        routes[method] = adapter
    if not routes:
        raise PaymentConfigError(f"{ENV}: empty; e.g. '{DEFAULT}'")
    return routes


def _make(adapter: str, env: Mapping[str, str]) -> PaymentProvider:
    if adapter == "ledger":
        return LedgerProvider()
    prefix = adapter.upper()
    key = env.get(f"{prefix}_API_KEY") or ""
    if not key.strip():
        raise PaymentConfigError(f"{ENV} uses {adapter}, but {prefix}_API_KEY is not set")
    base = env.get(f"{prefix}_API_BASE") or None
    try:
        if adapter == "stripe":
            return StripeProvider(key.strip(), base)
        return MollieProvider(key.strip(), base)
    except Exception as e:  # the client's own message may quote the key: name the setting only
        raise PaymentConfigError(
            f"{prefix}_API_KEY or {prefix}_API_BASE refused by the {adapter} client ({type(e).__name__})"
        ) from None
