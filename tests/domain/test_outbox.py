"""Issue 12: the messages a batch queues for the outbox, with their `message_sent` in the batch."""

from __future__ import annotations

from domain import commands as cmd
from domain import events as ev
from domain.case import fold
from domain.decider import decide
from domain.effects import CustomerMessage, Refund
from domain.outbox import queued_messages, with_messages_queued
from domain.request import parse_request
from domain.view import case_view
from tests.domain.helpers import T0, item, line, policy, request


def _open() -> list[ev.Event]:
    req = parse_request(request(lines=[line("L1")], items=[item("L1", condition="opened")]))
    return decide(None, cmd.OpenCase(case_id="return-R-1001", request=req, policy=policy()), T0)


def test_the_opening_batch_queues_case_opened_and_records_it_sent_in_the_same_batch() -> None:
    batch = _open()
    events, messages = with_messages_queued(None, batch, T0)
    assert [m.template for m in messages] == ["case_opened"]
    assert events[: len(batch)] == batch
    sent = events[len(batch) :]
    assert sent == [ev.MessageSent(at=T0, key=messages[0].key, template="case_opened")]
    case = fold(events)
    assert case is not None
    # Nothing left for the workflow to carry out, and the contract's list names the message.
    assert queued_messages(case) == ()
    assert not any(isinstance(e, CustomerMessage) for e in case.pending_effects)
    assert list(case_view(case).customer_messages) == ["case_opened"]


def test_a_message_behind_money_waits_for_the_money_then_goes_with_its_done_batch() -> None:
    """A refund case resolved at once: the refund is an activity, the message an outbox row queued
    only with the refund's done event, so the stream reads case_resolved, refund_issued,
    message_sent, as every case file recorded before the outbox."""
    req = parse_request(
        request(lines=[line("L1", category="home")], items=[item("L1", reason="defective", condition="used")])
    )
    batch = decide(None, cmd.OpenCase(case_id="return-R-1001", request=req, policy=policy()), T0)
    events, messages = with_messages_queued(None, batch, T0)
    assert (events, messages) == (list(batch), ())  # the refund is due first
    case = fold(events)
    assert case is not None and case.outcome == "resolved"
    assert [type(e) for e in case.pending_effects] == [Refund, CustomerMessage]

    refund = case.pending_effects[0]
    done = decide(case, cmd.EffectDone(key=refund.key), T0)
    events, messages = with_messages_queued(case, done, T0)
    assert [m.template for m in messages] == ["case_resolved"]
    after = fold(events, case)
    assert after is not None and after.pending_effects == () and queued_messages(after) == ()
    assert [e.type for e in events] == ["refund_issued", "message_sent"]
    assert list(case_view(after).customer_messages) == ["case_resolved"]


def test_a_batch_without_messages_is_returned_unchanged() -> None:
    events, _ = with_messages_queued(None, _open(), T0)
    case = fold(events)
    assert case is not None
    # A retried effect report decides nothing: nothing to queue, nothing added.
    assert with_messages_queued(case, [], T0) == ([], ())
    later = decide(case, cmd.Tick(), T0)
    again, queued = with_messages_queued(case, later, T0)
    assert again == later
    assert queued == ()


def test_queued_messages_keep_their_order_and_keys() -> None:
    batch = _open()
    after = fold(batch)
    assert after is not None
    pending = queued_messages(after)
    _, messages = with_messages_queued(None, batch, T0)
    assert messages == pending
    assert all(m.key.startswith("return-R-1001:") for m in messages)
