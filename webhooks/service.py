"""Running webhooks: the relay loop and the sender loop, side by side until `stop`.

Any number of processes may run this at once: the relay's subscription row lock makes their
relays take turns, and the sender's skip-locked leases keep a message with one sender at a time
and in order per case."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from payload.codec import Keyring
from store.personal_data import PersonalData
from webhooks.relay import relay_once
from webhooks.sender import run_sender
from webhooks.settings import WebhookSettings

log = logging.getLogger(__name__)


async def run_relay(
    pool: asyncpg.Pool, settings: WebhookSettings, stop: asyncio.Event, wake: asyncio.Event | None = None
) -> None:
    """Fan recorded events out into messages; poll every settings.poll_interval when idle."""
    failures = 0
    personal = PersonalData.from_env(pool)  # one key cache for the loop
    while not stop.is_set():
        try:
            read, made = await relay_once(pool, settings.relay_batch, personal)
            failures = 0
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
            failures += 1
            log.warning("webhooks: relay cannot read events (%s); retrying", e)
            read, made = 0, 0
        except Exception:  # never let the relay die quietly inside another process
            failures += 1
            log.exception("webhooks: relay round failed; retrying")
            read, made = 0, 0
        if made and wake is not None:
            wake.set()
        if read < settings.relay_batch:
            delay = settings.poll_interval * (2 ** min(failures, 5))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=min(delay, 5.0))


async def run(pool: asyncpg.Pool, keyring: Keyring, settings: WebhookSettings, stop: asyncio.Event) -> None:
    """The relay and the sender until `stop` is set."""
    wake = asyncio.Event()
    await asyncio.gather(
        run_relay(pool, settings, stop, wake), run_sender(pool, keyring, settings, stop, wake)
    )
