"""The one place where each effect type maps to the activity that carries it out, its summary in
the UI and the event that records it done. The decider takes the done event from here, the
workflow the activity and the summary, so neither can know of an effect the other misses.

`route` matches on the Effect union with `assert_never`: an effect type added to domain/effects.py
and not mapped here fails mypy, and at run time raises before any activity runs or any done event
is decided."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import assert_never

from domain import events as ev
from domain.effects import (
    CustomerMessage,
    Effect,
    LicenceRevocation,
    Refund,
    RepairOrder,
    Replacement,
    StoreCredit,
)

# The events that record an effect done; each names the effect's idempotency key.
Done = (
    ev.RefundIssued
    | ev.StoreCreditIssued
    | ev.ReplacementOrdered
    | ev.RepairOrdered
    | ev.LicenceRevoked
    | ev.MessageSent
)


@dataclass(frozen=True)
class EffectRoute:
    # The activity type (a method of activities.effects.EffectActivities) as histories record it:
    # renaming one changes the workflow's commands.
    activity: str
    summary: str  # what the activity does, as ops read it in the UI ("Refund €39.95 to ideal tr_8Hx2")
    done: Callable[[datetime], Done]  # the event recording the effect done, at a moment


def route(effect: Effect) -> EffectRoute:
    match effect:
        case Refund() as refund:
            return EffectRoute(
                "refund",
                f"Refund €{refund.amount} to {refund.payment_method} {refund.payment_reference}",
                lambda at: ev.RefundIssued(at=at, key=refund.key, amount=refund.amount),
            )
        case StoreCredit() as credit:
            return EffectRoute(
                "grant_store_credit",
                f"Store credit €{credit.amount} for {credit.customer_id}",
                lambda at: ev.StoreCreditIssued(at=at, key=credit.key, amount=credit.amount),
            )
        case Replacement() as replacement:
            return EffectRoute(
                "order_replacement",
                f"Replacement order for {', '.join(replacement.line_ids)}",
                lambda at: ev.ReplacementOrdered(at=at, key=replacement.key, line_ids=replacement.line_ids),
            )
        case RepairOrder() as repair:
            return EffectRoute(
                "order_repair",
                f"Repair order for {', '.join(repair.line_ids)}",
                lambda at: ev.RepairOrdered(at=at, key=repair.key, line_ids=repair.line_ids),
            )
        case LicenceRevocation() as revocation:
            return EffectRoute(
                "revoke_licence",
                f"Revoke licence {revocation.sku} ({revocation.line_id})",
                lambda at: ev.LicenceRevoked(at=at, key=revocation.key, line_id=revocation.line_id),
            )
        case CustomerMessage() as message:
            return EffectRoute(
                "send_message",
                f"Message {message.template} to the customer",
                lambda at: ev.MessageSent(at=at, key=message.key, template=message.template),
            )
        case _:
            assert_never(effect)
