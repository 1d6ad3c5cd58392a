"""The returns worker with one fault built in, for the payment tests only (production code carries
no fault hooks): `python -m tests.payments.worker`, configured like worker.py (TEMPORAL_ADDRESS,
DATABASE_URL, RETURNS_TASK_QUEUE, RETURNS_PAYMENT_PROVIDERS, STRIPE_API_KEY, STRIPE_API_BASE) plus

  PAYMENTS_DIE_AFTER_REFUND  1: this process SIGKILLs itself right after its first provider refund
                             answered, before the refunds ledger is written and before the
                             activity completes: the provider has the refund, nobody here knows
  PAYMENTS_KILL_LOG          file that gets one line per such death
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from activities.effects import EffectActivities
from domain.effects import Refund
from payments.port import PaymentProvider, ProviderRefund
from payments.settings import PaymentProviders
from tests.faults.worker import die
from worker import Settings, build_worker, service


class DiesAfterProviderRefund:
    def __init__(self, inner: PaymentProvider, kill_log: Path | None) -> None:
        self._inner = inner
        self._kill_log = kill_log
        self.name = inner.name

    async def refund(self, r: Refund) -> ProviderRefund:
        made = await self._inner.refund(r)
        die(self._kill_log, f"refund {r.key} at {made.provider} {made.provider_refund_id}")
        return made

    async def refund_status(self, payment_reference: str, provider_refund_id: str) -> str:
        return await self._inner.refund_status(payment_reference, provider_refund_id)


async def main() -> None:
    settings = Settings.from_env()
    kill_log = Path(os.environ["PAYMENTS_KILL_LOG"]) if os.environ.get("PAYMENTS_KILL_LOG") else None
    providers = PaymentProviders.from_env()
    if os.environ.get("PAYMENTS_DIE_AFTER_REFUND") == "1":
        providers = PaymentProviders(
            {method: DiesAfterProviderRefund(p, kill_log) for method, p in providers.by_method.items()}
        )
    async with service(settings) as (client, pool, _):
        effects = EffectActivities(pool, payments=providers)
        async with build_worker(client, pool, settings.policy_file, settings.task_queue, effects=effects):
            print("worker ready", flush=True)
            await asyncio.Event().wait()  # until SIGKILL (the point) or SIGTERM


if __name__ == "__main__":
    from stack.runtime import install_runtime

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_runtime(core_level="ERROR")
    asyncio.run(main())
