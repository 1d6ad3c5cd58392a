"""Skipping time on the shared time-skipping test server.

The `env` fixture is one server per test process, so a test's `env.sleep(days=8)` also fires the
timers of every case earlier tests left open (reminders, expiries: appends, activities). On a
loaded machine that one call can outlast the client's 30 s RPC deadline and fail ("Timeout
expired", or "h2 protocol error" when the connection is reset meanwhile) although the server
goes on skipping. So time is skipped in steps, and a step whose call failed is waited for on the
server's clock instead of being asked for again, which would skip too far."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

STEP = timedelta(days=1)


async def skip_time(env: WorkflowEnvironment, duration: timedelta, *, step: timedelta = STEP) -> None:
    """Advance the test server's clock by `duration`, at most `step` per call."""
    target = await env.get_current_time() + duration
    while (now := await env.get_current_time()) < target:
        step_end = min(now + step, target)
        try:
            await env.sleep(step_end - now)
        except RPCError:
            await _clock_reaches(env, step_end)


async def _clock_reaches(env: WorkflowEnvironment, at: datetime, deadline_s: float = 180) -> None:
    end = time.monotonic() + deadline_s
    while await env.get_current_time() < at:
        if time.monotonic() > end:
            raise AssertionError(f"the test server's clock did not reach {at} in {deadline_s} s")
        await asyncio.sleep(0.5)
