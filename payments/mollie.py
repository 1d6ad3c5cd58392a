"""Mollie: refunds a `tr_...` payment (POST /v2/payments/{id}/refunds) with the effect key as
`Idempotency-Key` and {return_id, effect_key} as metadata; before creating, lists the payment's
refunds and answers the one with this key, so an answer lost to a crash never refunds twice.
`refund_status` reads one refund (GET /v2/payments/{id}/refunds/{refund id}) for the follower.

The `mollie-api-python` client is synchronous (requests): each call runs in a thread. Tested against
the request and response bodies of Mollie's documentation (tests/payments/test_mollie.py), not
against a live Mollie account."""

from __future__ import annotations

import asyncio
from typing import Any

from mollie.api.client import Client
from mollie.api.error import BadRequestError, NotFoundError, UnprocessableEntityError
from mollie.api.objects import payment as _payment
from mollie.api.resources.refunds import PaymentRefunds

from domain.effects import Refund
from payments.port import PaymentRefused, ProviderRefund

# A refund can never succeed as asked (unknown payment, more than is refundable, a bad field).
_Payment: Any = _payment.Payment  # untyped in the package
REFUSALS = (BadRequestError, NotFoundError, UnprocessableEntityError)


class MollieProvider:
    name = "mollie"

    def __init__(self, api_key: str, api_base: str | None = None, timeout: float = 20) -> None:
        self._client = Client(api_endpoint=api_base or "", timeout=(5, int(timeout)), retry=0)
        self._client.set_api_key(api_key)

    async def refund(self, r: Refund) -> ProviderRefund:
        if not r.payment_reference.startswith("tr_"):
            raise PaymentRefused(
                self.name, f"payment reference {r.payment_reference!r} is not a Mollie payment (tr_)"
            )
        return await asyncio.to_thread(self._refund, r)

    async def refund_status(self, payment_reference: str, provider_refund_id: str) -> str:
        return await asyncio.to_thread(self._refund_status, payment_reference, provider_refund_id)

    def _refund_status(self, payment_reference: str, provider_refund_id: str) -> str:
        return str(self._refunds(payment_reference).get(provider_refund_id)["status"])

    def _refunds(self, payment_id: str) -> PaymentRefunds:
        return PaymentRefunds(self._client, _Payment({"resource": "payment", "id": payment_id}, self._client))

    def _refund(self, r: Refund) -> ProviderRefund:
        refunds = self._refunds(r.payment_reference)
        try:
            found = self._find(refunds, r.key)
            if found is None:
                data = {
                    "amount": {"currency": "EUR", "value": f"{r.amount:.2f}"},
                    "description": f"Return {r.return_id}",
                    "metadata": {"return_id": r.return_id, "effect_key": r.key},
                }
                found = refunds.create(data, idempotency_key=r.key)
        except REFUSALS as e:
            raise PaymentRefused(self.name, str(e)) from None
        return ProviderRefund(
            provider=self.name, provider_refund_id=str(found["id"]), status=str(found["status"])
        )

    @staticmethod
    def _find(refunds: PaymentRefunds, key: str) -> Any:
        page: Any = refunds.list(limit=250)
        while page is not None:
            for refund in page:
                metadata = refund.get("metadata") or {}
                if isinstance(metadata, dict) and metadata.get("effect_key") == key:
                    return refund
            page = page.get_next() if page.has_next() else None
        return None
