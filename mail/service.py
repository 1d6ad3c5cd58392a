"""Running the mail relay (and, without SMTP_URL, the embedded sink) beside the worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import asyncpg
from temporalio.client import Client

from mail.relay import case_flagger, run_relay
from mail.settings import SMTP_URL_ENV, MailSettings, SmtpUrl
from mail.sink import MAIL_DIR, MailDirHandler, serving

log = logging.getLogger(__name__)
SINK_PORT_ENV = "RETURNS_MAIL_SINK_PORT"
RELAY_ENV = "RETURNS_MAIL"


def relay_enabled(env: Mapping[str, str] = os.environ) -> bool:
    """Whether the worker's process relays the outbox itself (RETURNS_MAIL, default on)."""
    return env.get(RELAY_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def sink_port(env: Mapping[str, str] = os.environ) -> int:
    value = (env.get(SINK_PORT_ENV) or "0").strip()
    try:
        port = int(value)
    except ValueError:
        raise ValueError(f"{SINK_PORT_ENV}: {value!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"{SINK_PORT_ENV}: {port} is not a port number")
    return port


def check_mail_settings(env: Mapping[str, str] = os.environ) -> None:
    """Raises ValueError (SmtpUrlError) naming a mail setting that cannot be used, before start."""
    sink_port(env)
    if env.get(SMTP_URL_ENV):
        SmtpUrl.parse(env[SMTP_URL_ENV])


@contextlib.asynccontextmanager
async def mail_running(
    client: Client, pool: asyncpg.Pool, data_dir: Path, env: Mapping[str, str] = os.environ
) -> AsyncIterator[list[str]]:
    """The relay until the block ends; without SMTP_URL an embedded sink under data_dir/mail
    receives the mail. Yields the lines to print (where mail goes)."""
    notes: list[str] = []
    async with contextlib.AsyncExitStack() as stack:
        default_url = None
        if not env.get(SMTP_URL_ENV):
            directory = data_dir / MAIL_DIR
            directory.mkdir(parents=True, exist_ok=True)
            host, port = await stack.enter_async_context(
                serving(MailDirHandler(directory), "127.0.0.1", sink_port(env))
            )
            default_url = f"smtp://{host}:{port}"
            notes.append(f"Mail sink (SMTP): {default_url}, every mail kept under {directory}")
        settings = MailSettings.from_env(env, default_url=default_url)
        if not relay_enabled(env):
            notes.append(f"Mail relay off ({RELAY_ENV}=0): run python -m mail relay elsewhere")
            yield notes
            return
        notes.append(f"Mail relay: the outbox goes to {settings.smtp.redacted}")
        stop = asyncio.Event()
        task = asyncio.create_task(run_relay(pool, settings, stop, case_flagger(client, pool)))
        try:
            yield notes
        finally:
            stop.set()
            try:
                await asyncio.wait_for(task, timeout=settings.smtp.timeout + 5)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
