"""The embedded default: no outside provider. The refund is the row the effect activity writes in
the `refunds` ledger (store.ledgers.record_refund), as before providers existed. Its refunds are
final at once."""

from __future__ import annotations

from domain.effects import Refund
from payments.port import ProviderRefund


class LedgerProvider:
    name = "ledger"

    async def refund(self, r: Refund) -> ProviderRefund:
        return ProviderRefund(provider=self.name, provider_refund_id=None, status="succeeded")

    async def refund_status(self, payment_reference: str, provider_refund_id: str) -> str:
        return "succeeded"
