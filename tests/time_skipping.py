"""Skipping time on the shared time-skipping test server.

The `env` fixture is one server per test process, so a test's skip of days also fires the timers
of every case earlier tests left open (reminders, expiries: workflow tasks, appends). On a loaded
machine that one call can outlast `env.sleep`'s RPC deadline (30 s: "Timeout expired", or "h2
protocol error" when the connection is reset meanwhile), and the server stops skipping with the
call. So the call gets a deadline of minutes, and a call that failed all the same is asked again
for what is left to the same instant, read off the server's clock, so it never skips too far."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest
from temporalio.api.testservice.v1 import SleepRequest
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from returns_client import ReturnsClient
from stack.embedded import time_skipping_server
from tests.conftest import worker_on

DEADLINE = timedelta(minutes=4)
ATTEMPTS = 3


async def skip_time(env: WorkflowEnvironment, duration: timedelta) -> None:
    """Advance the test server's clock by `duration` (env.sleep, with a deadline that holds)."""
    target = await env.get_current_time() + duration
    for attempt in range(1, ATTEMPTS + 1):
        left = target - await env.get_current_time()
        if left <= timedelta(0):
            return
        req = SleepRequest()
        req.duration.FromTimedelta(left)
        try:
            await env.client.test_service.unlock_time_skipping_with_sleep(req, timeout=DEADLINE)
            return
        except RPCError:
            if attempt == ATTEMPTS:
                raise


# A workflow task no worker polls stops the test server's clock: a case another module left open
# on the queue of a worker that has stopped would hold every later skip of the process's shared
# server. A module that skips days imports these two (they override `env` and `returns`) and
# runs on a server of its own.
@pytest.fixture(scope="module", name="env")
async def own_env() -> AsyncIterator[WorkflowEnvironment]:
    async with time_skipping_server() as e:
        yield e


@pytest.fixture(scope="module", name="returns")
async def own_returns(env: WorkflowEnvironment, session_pool: asyncpg.Pool) -> AsyncIterator[ReturnsClient]:
    async with worker_on(env, session_pool) as client:
        yield client
