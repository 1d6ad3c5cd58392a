"""Customer messages as facts of the batch that calls for them (issue 12): a message is not an
effect the workflow carries out in an activity of its own, but a row of the transactional outbox
written by the same append as the events, with its `message_sent` (handed to the outbox) in the
same batch. The relay delivers it afterwards, never holding the case up."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import takewhile

from domain import events as ev
from domain.case import ReturnCase, fold
from domain.effect_registry import route
from domain.effects import CustomerMessage


def queued_messages(case: ReturnCase | None) -> tuple[CustomerMessage, ...]:
    """The customer messages at the head of a case's pending effects: those due now. A message
    behind another effect (case_resolved behind its refund) waits for that effect's done batch,
    so the stream records the effects in the order they were called for, as before the outbox."""
    if case is None:
        return ()
    due = takewhile(lambda e: isinstance(e, CustomerMessage), case.pending_effects)
    return tuple(e for e in due if isinstance(e, CustomerMessage))


def with_messages_queued(
    case: ReturnCase | None, batch: Sequence[ev.Event], now: datetime
) -> tuple[list[ev.Event], tuple[CustomerMessage, ...]]:
    """The batch with the done events (`message_sent` at `now`) of the messages it leaves at the
    head of the pending effects, and those messages: the outbox rows that commit with it. A batch
    that leaves no message due is returned as it is, with no messages."""
    if not batch:
        return list(batch), ()
    after = fold(batch, case)
    messages = queued_messages(after)
    done: list[ev.Event] = [route(m).done(now) for m in messages]
    return [*batch, *done], messages
