"""The mail relay: drains the outbox over SMTP, at least once, never holding a case up.

Each round leases due messages (store.outbox.lease: `for update skip locked` in one short
transaction, a case's messages in their order), sends each with no transaction held, and records
the outcome under its lease:

- accepted (2xx): sent, with the Message-ID it carried;
- refused for now (4xx), or no answer (refused connection, timeout, a dropped line): retried
  after MailSettings.delay_after(attempts), forever: SMTP calls a 4xx temporary;
- refused for good (5xx): failed, with the server's reply, and the case is told
  (`flag_case`: a `message_failed` fact, so ops see it on the case).

A relay that dies after the server accepted a mail but before it recorded that leaves the lease
to expire; the mail is sent again with the same Message-ID (made from the message key), so the
receiver can tell it is the same message. The relay wakes on the outbox's NOTIFY (the append's
commit) and polls as a fallback. Run it inside worker.py or on its own (`python -m mail relay`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

import aiosmtplib
import asyncpg
from temporalio.client import Client

from domain import commands as cmd
from mail.render import render_message
from mail.settings import MailSettings
from returns_client.errors import CaseNotFound, Refused
from returns_client.late import tell_case
from store.outbox import NOTIFY_CHANNEL, Leased, SealedWithoutKeys, lease, mark_failed, mark_sent, retry_later
from store.personal_data import PersonalData
from webhooks.sender import wait_for_work

log = logging.getLogger(__name__)

# Told when a message failed for good: (return_id, key, template, the server's reply).
FlagCase = Callable[[str, str, str, str], Awaitable[None]]

_NOT_ATEXT = re.compile(r"[^A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]+")


def message_id(key: str, domain: str) -> str:
    """`<key@domain>` with the key's characters outside an RFC 5322 dot-atom made dots: the same
    message key always gives the same Message-ID (a resend after a crash can be recognised)."""
    local = re.sub(r"\.{2,}", ".", _NOT_ATEXT.sub(".", key)).strip(".") or "message"
    return f"<{local}@{domain}>"


def compose(m: Leased, settings: MailSettings) -> EmailMessage:
    """The mail of an outbox message, rendered from its stored data now (mail/render.py: text and
    HTML in the customer's language, the label PDF where a parcel is needed). The headers that let
    a receiver recognise a resend (Message-ID) and ops find a case's mail come from the key."""
    shop = settings.shop
    rendered = render_message(m.message.template, m.message.data, shop)
    msg = EmailMessage()
    msg["From"] = formataddr((shop.name, shop.email))
    msg["Reply-To"] = shop.email
    msg["To"] = m.message.email
    msg["Subject"] = rendered.subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = message_id(m.key, settings.message_id_domain)
    msg["X-Return-Id"] = m.message.return_id
    msg["X-Returns-Template"] = m.message.template
    msg.set_content(rendered.text)
    msg.add_alternative(rendered.html, subtype="html")
    for a in rendered.attachments:
        maintype, _, subtype = a.content_type.partition("/")
        msg.add_attachment(a.content, maintype=maintype, subtype=subtype, filename=a.filename)
    return msg


_ADDRESS = re.compile(r"<?[^\s<>@]+@[^\s<>@]+>?")


def without_addresses(reply: str) -> str:
    """A server's reply as it is stored and shown to ops: a reply often quotes the recipient's
    address, which is personal data (kept sealed in the outbox), so every address is cut out."""
    return _ADDRESS.sub("<address>", reply)


class Permanent(Exception):
    """The server refused the message for good (5xx)."""


async def send(msg: EmailMessage, settings: MailSettings) -> None:
    """One SMTP attempt. Raises Permanent on a 5xx answer; any other failure is temporary."""
    smtp = settings.smtp
    try:
        await aiosmtplib.send(
            msg,
            hostname=smtp.host,
            port=smtp.port,
            username=smtp.username,
            password=smtp.password,
            use_tls=smtp.implicit_tls,
            start_tls=smtp.starttls,
            tls_context=smtp.tls_context(),
            timeout=smtp.timeout,
        )
    except aiosmtplib.SMTPRecipientsRefused as e:
        codes = [r.code for r in e.recipients]
        reply = "; ".join(f"{r.code} {r.message}" for r in e.recipients)
        if codes and all(code >= 500 for code in codes):
            raise Permanent(reply) from None
        raise
    except aiosmtplib.SMTPAuthenticationError:
        raise  # the login of SMTP_URL is wrong: a setting to fix, not this message's fault
    except aiosmtplib.SMTPResponseException as e:
        if e.code >= 500 and not isinstance(e, aiosmtplib.SMTPServerDisconnected):
            raise Permanent(f"{e.code} {e.message}") from None
        raise


async def deliver(
    pool: asyncpg.Pool, settings: MailSettings, m: Leased, flag_case: FlagCase | None = None
) -> str:
    """Send one leased message and record the outcome; returns its state afterwards."""
    msg = compose(m, settings)
    try:
        await send(msg, settings)
    except Permanent as e:
        reply = without_addresses(str(e))
        # The case first: if telling it fails, nothing is recorded, the lease runs out and the
        # next attempt (refused again) tells it again; the fact is applied once.
        if flag_case is not None:
            await flag_case(m.message.return_id, m.key, m.message.template, reply)
        if await mark_failed(pool, m, reply):
            log.warning("mail: %s (%s) refused for good: %s", m.key, m.message.template, reply)
        return "failed"
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as e:
        error = without_addresses(f"{type(e).__name__}: {e}")
        delay = settings.delay_after(m.attempt)
        await retry_later(pool, m, error, delay)
        log.info("mail: %s not sent (%s); retrying in %s", m.key, error, delay)
        return "queued"
    await mark_sent(pool, m, str(msg["Message-ID"]))
    return "sent"


async def relay_once(
    pool: asyncpg.Pool,
    settings: MailSettings,
    personal: PersonalData | None,
    flag_case: FlagCase | None = None,
) -> int:
    """Lease what is due and deliver it; returns how many were leased."""
    leased = await lease(pool, settings.concurrency, settings.lease, personal)
    # Concurrently across cases; a case has at most one message leased (lease keeps the order).
    await asyncio.gather(*(_deliver_logged(pool, settings, m, flag_case) for m in leased))
    return len(leased)


async def _deliver_logged(
    pool: asyncpg.Pool, settings: MailSettings, m: Leased, flag_case: FlagCase | None
) -> None:
    try:
        await deliver(pool, settings, m, flag_case)
    except Exception:  # the outcome was not recorded: the lease expires and it is sent again
        log.exception("mail: delivery of %s not recorded", m.key)


async def run_relay(
    pool: asyncpg.Pool,
    settings: MailSettings,
    stop: asyncio.Event,
    flag_case: FlagCase | None = None,
    personal: PersonalData | None = None,
) -> None:
    """Deliver until `stop`. Wakes on the outbox's NOTIFY, else every settings.poll_interval."""
    personal = personal if personal is not None else PersonalData.from_env(pool)
    log.info("mail: relaying the outbox to %s", settings.smtp.redacted)
    wake = asyncio.Event()
    failures = 0
    async with _listening(pool, wake):
        while not stop.is_set():
            leased = 0
            try:
                leased = await relay_once(pool, settings, personal, flag_case)
                failures = 0
            except SealedWithoutKeys as e:
                failures += 1
                log.error("%s; messages wait", e)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
                failures += 1
                log.warning("mail: relay cannot read the outbox (%s); retrying", e)
            except Exception:  # never let the relay die quietly inside another process
                failures += 1
                log.exception("mail: relay round failed; retrying")
            if leased:
                continue
            await wait_for_work(stop, wake, set(), min(settings.poll_interval * 2 ** min(failures, 5), 30.0))


@contextlib.asynccontextmanager
async def _listening(pool: asyncpg.Pool, wake: asyncio.Event) -> AsyncIterator[None]:
    """LISTEN on the outbox's channel on a connection of its own, while the relay runs; without
    one (the database away at start) the relay polls."""

    def woken(*_: object) -> None:
        wake.set()

    conn: asyncpg.Connection | None = None
    try:
        conn = await pool.acquire()
        await conn.add_listener(NOTIFY_CHANNEL, woken)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
        log.warning("mail: cannot LISTEN (%s); polling only", e)
    try:
        yield
    finally:
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.remove_listener(NOTIFY_CHANNEL, woken)
            with contextlib.suppress(Exception):
                await pool.release(conn)


def case_flagger(client: Client, pool: asyncpg.Pool) -> FlagCase:
    """Tells a case that one of its messages failed for good (a `message_failed` fact, whether its
    workflow still runs or has completed). A case that refuses the fact or no longer exists is
    logged; any other failure propagates (the delivery is then tried again)."""

    async def flag(return_id: str, key: str, template: str, reply: str) -> None:
        fact = cmd.MessageFailed(key=key, template=template, reason=reply[:2000])
        try:
            await tell_case(client, pool, return_id, fact)
        except (Refused, CaseNotFound) as e:
            log.warning("mail: case %s not flagged for %s: %s", return_id, key, e)

    return flag
