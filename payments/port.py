"""The port to a payment provider: refund one effect, exactly once per effect key.

An adapter answers the provider's refund (`ProviderRefund`), raises `PaymentRefused` when the
provider answers that this refund cannot be made (more than was paid, an unknown payment), and
lets everything else (network errors, timeouts, 5xx) propagate: those are retried."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from domain.effects import Refund


@dataclass(frozen=True)
class ProviderRefund:
    """The provider's record of a refund: its name in our config, its refund id, its status."""

    provider: str
    provider_refund_id: str | None
    status: str


class PaymentRefused(Exception):
    """The provider refused the refund; retrying the same request cannot help. The message is the
    provider's own, for ops."""

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.message = message


class PaymentProvider(Protocol):
    name: str

    async def refund(self, r: Refund) -> ProviderRefund:
        """Refund `r.amount` of the payment `r.payment_reference`, once per `r.key`: a second call
        with the same key answers the first call's refund."""
        ...


def cents(r: Refund) -> int:
    """The amount in minor units (euro cents): exact, from the Decimal."""
    return int((r.amount * 100).to_integral_exact())
