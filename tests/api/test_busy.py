"""A case that does not answer in time (a sale day's backlog) is a 503 to retry, never a 500."""

from __future__ import annotations

from typing import cast

import pytest
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError

from api.problems import Problem
from api.returns import _answer
from domain.view import CaseView
from returns_client import ReturnsClient


async def test_an_update_the_client_gave_up_on_is_a_503_with_retry_after() -> None:
    async def never_answered() -> CaseView:
        raise WorkflowUpdateRPCTimeoutOrCancelledError()

    with pytest.raises(Problem) as raised:
        await _answer(cast(ReturnsClient, None), "R-BUSY", never_answered())
    assert raised.value.status == 503
    assert raised.value.headers == {"Retry-After": "5"}
    assert "same Idempotency-Key" in raised.value.detail
