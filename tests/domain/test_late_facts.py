"""Late facts (domain.commands.LateFact): accepted on a closed case, each recorded once; a
replacement order id only on a case resolved with replacement, never a second different one."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from domain import commands as cmd
from domain.case import ReturnCase
from domain.decider import Refused, decide
from domain.details import attention_reasons, case_details
from domain.summary import summarize
from domain.view import case_view
from tests.domain.helpers import Driver, item, line, request


def resolved(preferred: str) -> Driver:
    """A returnless warranty without photo rules, resolved at intake with `preferred`."""
    d = Driver(
        request(
            lines=[line("L1", unit_price="30.00")],
            items=[item("L1", reason="defective", condition="used")],
            preferred=preferred,
        )
    )
    assert d.status == "resolved" and d.case is not None and d.case.closed
    return d


def case_of(d: Driver) -> ReturnCase:
    assert d.case is not None
    return d.case


FAILED = cmd.MessageFailed(key="return-test:1:message:case_opened", template="case_opened", reason="550 no")


def test_replacement_order_id_on_a_closed_replacement_case() -> None:
    d = resolved("replacement")
    events = d.apply(cmd.ConfirmReplacementOrder(order_id="SHOP-9001"))
    assert [e.type for e in events] == ["replacement_order_confirmed"]
    view = case_view(case_of(d))
    assert view.replacement_order_id == "SHOP-9001" and view.status == "resolved"
    assert "SHOP-9001" in case_details(case_of(d))


def test_the_same_order_id_again_changes_nothing_and_another_is_refused() -> None:
    d = resolved("replacement")
    d.apply(cmd.ConfirmReplacementOrder(order_id="SHOP-9001"))
    assert d.apply(cmd.ConfirmReplacementOrder(order_id="SHOP-9001")) == []
    before = d.case
    with pytest.raises(Refused, match="already confirmed as SHOP-9001"):
        d.apply(cmd.ConfirmReplacementOrder(order_id="SHOP-9002"))
    assert d.case == before and case_view(case_of(d)).replacement_order_id == "SHOP-9001"


@pytest.mark.parametrize("preferred", ["refund", "store_credit"])
def test_replacement_order_id_refused_unless_resolved_with_replacement(preferred: str) -> None:
    d = resolved(preferred)
    with pytest.raises(
        Refused, match=r"replacement_order refused for R-1001 \(status resolved\): .*replacement"
    ):
        decide(d.case, cmd.ConfirmReplacementOrder(order_id="SHOP-1"), d.now)


def test_replacement_order_id_refused_on_an_open_case() -> None:
    d = Driver(request(preferred=None))  # the example: awaiting photos and a choice
    assert d.case is not None and not d.case.closed
    with pytest.raises(Refused, match="not resolved with a replacement"):
        decide(d.case, cmd.ConfirmReplacementOrder(order_id="SHOP-1"), d.now)


def test_message_failed_on_a_closed_case_flags_it_for_ops_once() -> None:
    d = resolved("refund")
    assert case_view(case_of(d)).failed_messages == []
    assert not summarize(case_of(d)).needs_attention
    assert [e.type for e in d.apply(FAILED)] == ["message_failed"]
    assert d.apply(FAILED) == []  # a relay repeating itself
    case = d.case
    assert case is not None
    [failed] = case_view(case).failed_messages
    assert (failed.template, failed.reason) == ("case_opened", "550 no")
    assert attention_reasons(case) == ["message failed: case_opened: 550 no"]
    assert summarize(case).needs_attention and summarize(case).status == "resolved"
    assert "case_opened FAILED" in case_details(case)


def test_message_failed_on_an_open_case_leaves_its_needs() -> None:
    d = Driver(request(preferred=None))
    pending = case_view(case_of(d)).pending
    d.apply(FAILED)
    assert case_view(case_of(d)).pending == pending


def test_late_facts_name_the_field_they_lack() -> None:
    with pytest.raises(ValidationError, match="order_id"):
        cmd.ConfirmReplacementOrder(order_id="   ")
    with pytest.raises(ValidationError, match="order_id"):
        cmd.ConfirmReplacementOrder(order_id="")
    with pytest.raises(ValidationError, match="key"):
        cmd.MessageFailed(key="", template="case_opened", reason="x")
