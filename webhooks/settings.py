"""How the relay and the sender run: the retry schedule and the timings (tests use seconds)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

# Standard Webhooks' schedule after the first (immediate) attempt: 5 s, 5 min, 30 min, 2 h, 5 h,
# 10 h, then every 10 h, until GIVE_UP_AFTER from the first attempt.
RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
GIVE_UP_AFTER = timedelta(hours=72)


@dataclass(frozen=True)
class WebhookSettings:
    retry_delays: tuple[timedelta, ...] = RETRY_DELAYS
    give_up_after: timedelta = GIVE_UP_AFTER
    timeout: float = 10.0  # one HTTP attempt, seconds
    # Longer than an attempt: a message whose sender died is sent again once its lease ends.
    lease: timedelta = timedelta(seconds=15)
    concurrency: int = 32  # attempts in flight per process
    poll_interval: float = 0.1  # seconds between reads of new events and due retries
    relay_batch: int = 500  # events per relay transaction
    rotation_grace: timedelta = timedelta(hours=24)

    def delay_after(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failed attempt (1-based); the last delay repeats."""
        return self.retry_delays[min(attempts, len(self.retry_delays)) - 1]

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> WebhookSettings:
        """RETURNS_WEBHOOK_TIMEOUT (seconds per attempt, default 10); the lease is 5 s longer."""
        timeout = float(env.get("RETURNS_WEBHOOK_TIMEOUT") or 10.0)
        return cls(timeout=timeout, lease=timedelta(seconds=timeout + 5))


def enabled_in_process(env: Mapping[str, str] = os.environ) -> bool:
    """Whether the API process runs the relay and sender itself (RETURNS_WEBHOOKS, default on)."""
    return env.get("RETURNS_WEBHOOKS", "1").strip().lower() not in ("0", "false", "no", "off")
