"""Sale day: `bench/run.py --sale-day [--returns 5000] [--minutes 10] [--workers 2]`.

`returns` cases submitted through the HTTP API with a webshop key at a steady arrival rate over
`minutes`, in a mix of shapes whose follow-up actions arrive later, also over HTTP: photos of a
toner (warranty, returnless), parcels (a warehouse key), choices, withdrawals with delivery costs
back, and cancellations. The service runs as a user runs it: `workers` worker.py processes (each
relaying the mail outbox over SMTP, as worker.py does) and one API process (`python -m api serve`,
which also delivers webhooks), on the embedded Temporal dev server and PostgreSQL. The mail goes
to the embedded SMTP sink (mail/sink.py) served here, webhooks to a real receiver that verifies
every signature (tests/webhooks/receiver.py).

No case waits for a timer: each one ends by its actions (follow-ups come within minutes, the
deadlines are days). After the last submit the run waits until every case is at its expected
status, every mail has arrived and every webhook too, then reports:

- submit p50/p99/max (HTTP, as the webshop sees it, queueing in its connection pool included);
- nothing lost: each case's status against its shape's; per case the refunds, store credits and
  outbox messages (by template) against the shape's (the ledgers are keyed by the effect's
  idempotency key, so a second attempt cannot add a row: a count above expected is a second
  effect under another key); every webhook of every case's events received (by event id; the
  duplicates counted by webhook-id); every sent mail in the sink once (by Message-ID);
- peak memory of each worker process (VmHWM; and the largest VmRSS sampled each second);
- webhook lag and e-mail lag (p50/p99, from the event's recorded_at, the outbox row's created_at,
  to receipt).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
from aiosmtpd.smtp import SMTP, Envelope, Session

from bench.processes import cpu_by_part, memory_mb, service_env, services
from bench.scale_out import Keys, make_keys, pct
from mail.sink import MailDirHandler
from mail.sink import serving as smtp_serving
from payload.codec import Keyring
from store.db import create_pool
from store.event_store import EventStore
from webhooks.endpoints import create_endpoint
from webhooks.events import Recorded, payloads

if TYPE_CHECKING:
    from bench.run import Stack
    from tests.webhooks.receiver import Receiver

RESULTS = Path(__file__).resolve().parent / "results"
RETRIES = 6  # a webshop's client: 2, 4, 8, 16, 30, 30 s apart
IN_FLIGHT = 200  # HTTP calls in flight at once (the client's connections)


# --- the shapes of the day -----------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    """A follow-up action: `after` seconds (of a 10-minute day; scaled with the day's length)
    after the previous step, by `role`, POST /v1/returns/{id}/`action` with `body`."""

    after: tuple[float, float]
    role: str
    action: str
    body: dict[str, Any]


@dataclass(frozen=True)
class Shape:
    name: str
    share: float
    line: str  # toner or shoes
    reason: str
    preferred: str | None
    delivery_price: str | None
    submitted: str  # the status the submit answers
    steps: tuple[Step, ...]
    status: str  # where the case ends
    refunds: int
    store_credits: int
    messages: tuple[str, ...]  # outbox templates, sorted


PHOTOS = Step((20, 90), "webshop", "photos", {"line_id": "L1", "photos": ["toner-error.jpg"]})
PARCEL = Step((60, 180), "warehouse", "parcel", {})
SHAPES = (
    # A toner that does not work: warranty, returnless under the threshold, the photo is the evidence.
    Shape("toner_photos", 0.25, "toner", "defective", "refund", None, "awaiting_photos", (PHOTOS,),
          "resolved", 1, 0, ("case_opened", "case_resolved")),
    # Shoes that do not fit: a return with a label, refunded when the parcel arrives.
    Shape("parcel", 0.30, "shoes", "does_not_fit", "refund", None, "awaiting_parcel", (PARCEL,),
          "resolved", 1, 0, ("case_opened", "case_resolved")),
    # No preferred resolution: the customer chooses store credit, then sends the parcel.
    Shape("choice_store_credit", 0.15, "shoes", "does_not_fit", None, None, "awaiting_choice",
          (Step((15, 60), "webshop", "choice", {"resolution": "store_credit"}), PARCEL),
          "resolved", 0, 1, ("case_opened", "case_resolved")),
    # A withdrawal (no reason) with the delivery costs paid back (contract 7.2, 7.3).
    Shape("withdrawal", 0.15, "shoes", "withdrawal", "refund", "4.95", "awaiting_parcel", (PARCEL,),
          "resolved", 1, 0, ("case_opened", "case_resolved")),
    # Cancelled by the customer before sending anything (no message for a cancellation: contract 3).
    Shape("cancelled", 0.15, "shoes", "does_not_fit", "refund", None, "awaiting_parcel",
          (Step((10, 60), "webshop", "cancel", {}),), "cancelled", 0, 0, ("case_opened",)),
)  # fmt: skip


def shape_of(i: int) -> Shape:
    """The i-th return's shape: the shares spread evenly over the day (every 20 returns hold the mix)."""
    slot = (i * 7) % 20 / 20  # 7 is prime to 20: the shapes interleave
    acc = 0.0
    for s in SHAPES:
        acc += s.share
        if slot < acc - 1e-9:
            return s
    return SHAPES[-1]


def request_of(return_id: str, shape: Shape) -> dict[str, Any]:
    from bench.run import request

    body = request(return_id, "photos" if shape.line == "toner" else "parcel")
    body["items"][0]["reason"] = shape.reason
    body["preferred_resolution"] = shape.preferred
    if shape.delivery_price is not None:
        body["order"]["delivery_price"] = shape.delivery_price
    return body


# --- the receivers -----------------------------------------------------------------------------
class CountingSink(MailDirHandler):
    """The embedded sink (every mail kept as .eml) that also notes each mail's Message-ID,
    case and time of receipt."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.received: list[tuple[str, str, float]] = []  # (Message-ID, return id, time.time())

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        at = time.time()
        content = envelope.original_content or envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode()
        answer = await super().handle_DATA(server, session, envelope)
        headers = BytesHeaderParser().parsebytes(raw)
        self.received.append(
            (str(headers.get("Message-ID") or ""), str(headers.get("X-Return-Id") or ""), at)
        )
        return answer


# --- the day -------------------------------------------------------------------------------------
@dataclass
class Day:
    tag: str
    scale: float  # follow-up delays x this (1.0 for a 10-minute day)
    submit_ms: list[float] = field(default_factory=list)
    action_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    submitted_at: dict[str, float] = field(default_factory=dict)
    shapes: dict[str, Shape] = field(default_factory=dict)  # by return id
    last_submit: float = 0.0
    submits_answered_existing: int = 0
    retries: list[str] = field(default_factory=list)  # why each retry was made


async def drive(http: httpx.AsyncClient, url: str, keys: Keys, day: Day, n: int, seconds: float) -> None:
    """n returns at a steady rate over `seconds` (the i-th at i x seconds/n), each with its
    follow-ups; returns when every case has had its last action."""
    rng = random.Random(15)  # the same day every run
    start = time.monotonic()
    # As many calls in flight as the client has connections: httpcore's pool scans its queue of
    # waiting requests on every change, so 5,000 queued calls made this client the bound (a
    # 5,000-return run: the benchmark process at full CPU in _assign_requests_to_connections).
    # A call's time still starts before it waits for a slot.
    slots = asyncio.Semaphore(IN_FLIGHT)

    async def post(path: str, role: str, body: dict[str, Any], into: list[float]) -> httpx.Response | None:
        """POST as a webshop's client does: with an Idempotency-Key, retried with the same key on
        a transport error, a 5xx or a 409 'still being applied' (the API applies it once). The
        time recorded is the whole call, retries included."""
        headers = {**keys.headers(role), "Idempotency-Key": str(uuid.uuid4())}
        t0 = time.perf_counter()
        for attempt in range(RETRIES + 1):
            if attempt:
                await asyncio.sleep(min(2.0**attempt, 30.0))
            try:
                async with slots:
                    r = await http.post(f"{url}{path}", json=body, headers=headers)
            except httpx.HTTPError as e:
                why = type(e).__name__
            else:
                if r.status_code < 500 and not (r.status_code == 409 and "still being applied" in r.text):
                    into.append((time.perf_counter() - t0) * 1000)
                    return r
                why = f"{r.status_code} {r.text[:120]}"
            day.retries.append(f"{path.rsplit('/', 1)[-1]}: {why}")
        day.errors.append(f"{path}: {why} (after {RETRIES} retries)")
        return None

    async def case(i: int, delays: list[float]) -> None:
        shape = shape_of(i)
        return_id = f"S-{day.tag}-{i}"
        day.shapes[return_id] = shape
        await asyncio.sleep(max(0.0, start + i * seconds / n - time.monotonic()))
        day.submitted_at[return_id] = time.time()
        r = await post("/v1/returns", "webshop", request_of(return_id, shape), day.submit_ms)
        day.last_submit = time.monotonic()
        if r is None:
            return
        if r.status_code == 200:
            day.submits_answered_existing += 1  # the API's retry found the case its first attempt started
        if r.status_code not in (200, 201) or r.json().get("status") != shape.submitted:
            day.errors.append(f"{return_id} submit: {r.status_code} {r.text[:200]}")
            return
        for step, delay in zip(shape.steps, delays, strict=True):
            await asyncio.sleep(delay)
            r = await post(f"/v1/returns/{return_id}/{step.action}", step.role, step.body, day.action_ms)
            if r is not None and r.status_code != 200:
                day.errors.append(f"{return_id} {step.action}: {r.status_code} {r.text[:200]}")
                return

    plans = [[rng.uniform(*s.after) * day.scale for s in shape_of(i).steps] for i in range(n)]
    await asyncio.gather(*(case(i, plans[i]) for i in range(n)))


async def wait_until(what: str, check: Callable[[], Awaitable[int]], timeout: float) -> float:
    """Polls `check` (how many are still missing) until 0; returns the seconds it took."""
    t0 = time.monotonic()
    missing = await check()
    while missing:
        if time.monotonic() - t0 > timeout:
            print(f"# sale day: {what}: {missing} still missing after {timeout:.0f} s", flush=True)
            break
        await asyncio.sleep(0.5)
        missing = await check()
    return time.monotonic() - t0


async def expected_webhooks(pool: asyncpg.Pool, stream_ids: Sequence[str]) -> set[str]:
    """The event ids every case's stream gives a webhook for (webhooks.events.payloads)."""
    store = EventStore(pool)
    gate = asyncio.Semaphore(8)
    want: set[str] = set()

    async def one(stream_id: str) -> None:
        async with gate:
            stream = await store.read_stream(stream_id)
        recorded = [Recorded(str(e.event_id), e.stream_version, e.recorded_at, e.data) for e in stream]
        want.update(r.event_id for r, _ in payloads(recorded, {r.event_id for r in recorded}))

    await asyncio.gather(*(one(s) for s in stream_ids))
    return want


async def check_effects(pool: asyncpg.Pool, day: Day) -> dict[str, Any]:
    """Per case: status, refunds, store credits and messages against its shape's."""
    ids = list(day.shapes)
    async with pool.acquire() as conn:
        statuses = dict(
            await conn.fetch("select return_id, status from return_cases where return_id = any($1)", ids)
        )
        refunds = Counter(
            r["return_id"]
            for r in await conn.fetch("select return_id from refunds where return_id = any($1)", ids)
        )
        credits = Counter(
            r["return_id"]
            for r in await conn.fetch("select return_id from store_credits where return_id = any($1)", ids)
        )
        messages: dict[str, list[str]] = {}
        for r in await conn.fetch("select return_id, template from outbox where return_id = any($1)", ids):
            messages.setdefault(r["return_id"], []).append(r["template"])
    wrong_status, wrong_effects = [], []
    for rid, shape in day.shapes.items():
        if statuses.get(rid) != shape.status:
            wrong_status.append(f"{rid} ({shape.name}): {statuses.get(rid)} != {shape.status}")
        got = (refunds[rid], credits[rid], tuple(sorted(messages.get(rid, []))))
        want = (shape.refunds, shape.store_credits, shape.messages)
        if got != want:
            wrong_effects.append(f"{rid} ({shape.name}): refunds/credits/messages {got} != {want}")
    return {
        "cases": len(ids),
        "status_as_expected": len(ids) - len(wrong_status),
        "status_wrong": wrong_status[:10],
        "status_wrong_count": len(wrong_status),
        "refunds": sum(refunds.values()),
        "refunds_expected": sum(s.refunds for s in day.shapes.values()),
        "store_credits": sum(credits.values()),
        "store_credits_expected": sum(s.store_credits for s in day.shapes.values()),
        "messages": sum(len(m) for m in messages.values()),
        "messages_expected": sum(len(s.messages) for s in day.shapes.values()),
        "effects_wrong": wrong_effects[:10],
        "effects_wrong_count": len(wrong_effects),
    }


async def sale_day(stack: Stack, returns: int, minutes: float, workers: int = 2) -> dict[str, Any]:
    from tests.webhooks.receiver import Receiver

    seconds = minutes * 60
    day = Day(uuid.uuid4().hex[:6], scale=minutes / 10)
    keys = await make_keys(stack.dsn)
    pool = await create_pool(stack.dsn, min_size=2, max_size=10)
    receiver: Receiver = await Receiver([]).start()
    sink = CountingSink(stack.tmp / "sale-day-mail")
    peak_rss: dict[int, float] = {}
    try:
        async with pool.acquire() as conn:
            _, secret = await create_endpoint(conn, Keyring.from_env(), receiver.url)
        receiver.secrets.append(secret)
        async with smtp_serving(sink) as (host, port):
            queue = f"sale-{day.tag}"
            env = service_env(stack.address, stack.dsn, queue, stack.tmp / "sale-day")
            with services(
                env,
                stack.tmp / "sale-day" / "logs",
                workers,
                worker_env={"SMTP_URL": f"smtp://{host}:{port}"},
            ) as procs:
                limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
                sampling = True

                async def sample() -> None:
                    while sampling:
                        for p in procs.workers:
                            peak_rss[p.pid] = max(peak_rss.get(p.pid, 0.0), memory_mb(p.pid)["rss"])
                        await asyncio.sleep(1)

                sampler = asyncio.create_task(sample())
                cpu0 = cpu_by_part(stack, procs)
                t0 = time.monotonic()
                async with httpx.AsyncClient(timeout=300, limits=limits) as http:
                    await drive(http, procs.api_url, keys, day, returns, seconds)
                actions_done = time.monotonic() - t0
                drain = max(300.0, seconds)

                async def cases_missing() -> int:
                    async with pool.acquire() as conn:
                        done = await conn.fetchval(
                            "select count(*) from return_cases where return_id = any($1::text[])"
                            " and status in ('resolved', 'cancelled')",
                            list(day.shapes),
                        )
                    return len(day.shapes) - int(done)

                t_cases = await wait_until("cases", cases_missing, drain)

                async def mails_missing() -> int:
                    async with pool.acquire() as conn:
                        rows = await conn.fetch(
                            "select smtp_message_id, state from outbox where return_id = any($1::text[])",
                            list(day.shapes),
                        )
                    got = {m for m, _, _ in sink.received}
                    return sum(1 for r in rows if r["state"] != "sent" or r["smtp_message_id"] not in got)

                t_mail = await wait_until("mails", mails_missing, drain)
                stream_ids = [f"return-{rid}" for rid in day.shapes]
                want_hooks = await expected_webhooks(pool, stream_ids)

                async def hooks_missing() -> int:
                    return len(want_hooks - {r.payload["data"]["event_id"] for r in receiver.received})

                t_hooks = await wait_until("webhooks", hooks_missing, drain)
                all_done = time.monotonic() - t0
                cpu1 = cpu_by_part(stack, procs)
                sampling = False
                await sampler
                memory = [
                    memory_mb(p.pid) | {"rss_peak_sampled": peak_rss.get(p.pid, 0.0)} for p in procs.workers
                ]
                api_memory = memory_mb(procs.api.pid) if procs.api else {}
                procs.check_alive()
                # Failed workflow tasks and errors the processes logged; kept past the stack.
                log_errors = {
                    log.name: sum(
                        1 for line in log.read_text(errors="replace").splitlines() if " ERROR " in line
                    )
                    for log in procs.logs
                }
                kept = Path(tempfile.gettempdir()) / f"sale-day-logs-{day.tag}"
                shutil.copytree(stack.tmp / "sale-day" / "logs", kept)
        effects = await check_effects(pool, day)
        async with pool.acquire() as conn:
            outbox = await conn.fetch(
                "select smtp_message_id, created_at, state from outbox where return_id = any($1::text[])",
                list(day.shapes),
            )
    finally:
        await receiver.stop()
        await pool.close()

    # Mail: each outbox row's Message-ID in the sink once; lag from the row's creation.
    by_id = Counter(m for m, _, _ in sink.received)
    first_at: dict[str, float] = {}
    for m, _, at in sink.received:
        first_at.setdefault(m, at)
    sent_ids = {r["smtp_message_id"] for r in outbox if r["smtp_message_id"]}
    mail_lag = [
        (first_at[r["smtp_message_id"]] - r["created_at"].timestamp()) * 1000
        for r in outbox
        if r["smtp_message_id"] in first_at
    ]
    # Webhooks: every expected event's webhook once; lag from the event's recorded_at.
    hook_ids = {r.payload["data"]["event_id"] for r in receiver.received}
    hook_lag = [
        (r.at - datetime.fromisoformat(r.payload["timestamp"]).timestamp()) * 1000
        for r in receiver.first_receipts()
        if r.payload["data"]["event_id"] in want_hooks
    ]
    used = {k: round(cpu1[k] - cpu0[k], 1) for k in cpu1}
    report: dict[str, Any] = {
        "returns": returns,
        "minutes": minutes,
        "workers": workers,
        "shapes": dict(Counter(s.name for s in day.shapes.values())),
        "arrival_per_s": round(returns / seconds, 2),
        "submit_ms": _summary(day.submit_ms),
        "action_ms": _summary(day.action_ms),
        "http_errors": len(day.errors),
        "submits_answered_200": day.submits_answered_existing,
        "http_retries": len(day.retries),
        "http_retry_reasons": dict(
            Counter(r.split(" ", 2)[0] + " " + r.split(" ", 2)[1] for r in day.retries)
        ),
        "http_error_samples": day.errors[:10],
        "log_errors": log_errors,
        "logs": str(kept),
        "seconds": {
            "actions_done": round(actions_done, 1),
            "cases_done_after_actions": round(t_cases, 1),
            "mail_done_after": round(t_mail, 1),
            "webhooks_done_after": round(t_hooks, 1),
            "all_done": round(all_done, 1),
        },
        "cases": effects,
        "mail": {
            "outbox_rows": len(outbox),
            "outbox_not_sent": sum(1 for r in outbox if r["state"] != "sent"),
            "received": len(sink.received),
            "missing": len(sent_ids - set(by_id)) + sum(1 for r in outbox if not r["smtp_message_id"]),
            "duplicates": sum(n - 1 for n in by_id.values()),
            "lag_p50_ms": round(pct(mail_lag, 0.5), 1),
            "lag_p99_ms": round(pct(mail_lag, 0.99), 1),
            "lag_max_ms": round(max(mail_lag, default=0.0), 1),
        },
        "webhooks": {
            "expected": len(want_hooks),
            "received": len(receiver.received),
            "missing": len(want_hooks - hook_ids),
            "duplicates": receiver.duplicates(),
            "rejected": receiver.rejected,
            "lag_p50_ms": round(pct(hook_lag, 0.5), 1),
            "lag_p99_ms": round(pct(hook_lag, 0.99), 1),
            "lag_max_ms": round(max(hook_lag, default=0.0), 1),
        },
        "worker_memory_mb": {
            "peak_hwm": round(max((m["hwm"] for m in memory), default=0.0), 1),
            "peak_rss_sampled": round(max((m["rss_peak_sampled"] for m in memory), default=0.0), 1),
            "per_worker": [{k: round(v, 1) for k, v in m.items()} for m in memory],
        },
        "api_memory_mb": {k: round(v, 1) for k, v in api_memory.items()},
        "cpu_s": used,
        "cpu_ms_per_case": {k: round(v * 1000 / returns, 1) for k, v in used.items()},
    }
    report["nothing_lost"] = (
        not day.errors
        and effects["status_wrong_count"] == 0
        and effects["effects_wrong_count"] == 0
        and report["mail"]["missing"] == 0
        and report["mail"]["duplicates"] == 0
        and report["mail"]["outbox_not_sent"] == 0
        and report["webhooks"]["missing"] == 0
        and report["webhooks"]["duplicates"] == 0
        and report["webhooks"]["rejected"] == 0
    )
    return report


def _summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "count": len(values),
        "p50": round(pct(values, 0.5), 1),
        "p99": round(pct(values, 0.99), 1),
        "max": round(max(values, default=0.0), 1),
    }


def table(r: dict[str, Any]) -> str:
    s, a, c, m, w = r["submit_ms"], r["action_ms"], r["cases"], r["mail"], r["webhooks"]
    mem, cpu = r["worker_memory_mb"], r["cpu_ms_per_case"]
    day = f"{r['returns']} returns over {r['minutes']} min ({r['arrival_per_s']}/s), {r['workers']} workers"
    rows = [
        ("sale day", day, ""),
        (
            "submit ms p50 / p99 / max (HTTP)",
            f"{s['p50']} / {s['p99']} / {s['max']}",
            f"{s['count']} submits",
        ),
        (
            "action ms p50 / p99 / max (HTTP)",
            f"{a['p50']} / {a['p99']} / {a['max']}",
            f"{a['count']} actions",
        ),
        (
            "HTTP errors / retries",
            f"{r['http_errors']} / {r['http_retries']}",
            f"{r['submits_answered_200']} new cases answered 200",
        ),
        (
            "cases at expected status",
            f"{c['status_as_expected']} / {c['cases']}",
            ", ".join(f"{k} {v}" for k, v in r["shapes"].items()),
        ),
        (
            "refunds / store credits / messages",
            f"{c['refunds']} / {c['store_credits']} / {c['messages']}",
            f"expected {c['refunds_expected']} / {c['store_credits_expected']} / {c['messages_expected']}",
        ),
        ("cases with effects not as expected", c["effects_wrong_count"], ""),
        (
            "mails received / missing / duplicates",
            f"{m['received']} / {m['missing']} / {m['duplicates']}",
            f"{m['outbox_rows']} outbox rows",
        ),
        (
            "webhooks received / missing / duplicates",
            f"{w['received']} / {w['missing']} / {w['duplicates']}",
            f"{w['expected']} expected",
        ),
        ("e-mail lag ms p50 / p99 / max", f"{m['lag_p50_ms']} / {m['lag_p99_ms']} / {m['lag_max_ms']}", ""),
        ("webhook lag ms p50 / p99 / max", f"{w['lag_p50_ms']} / {w['lag_p99_ms']} / {w['lag_max_ms']}", ""),
        (
            "worker memory MB: peak VmHWM / sampled VmRSS",
            f"{mem['peak_hwm']} / {mem['peak_rss_sampled']}",
            f"API process {r['api_memory_mb'].get('hwm', '')}",
        ),
        (
            "CPU ms/case workers/api/temporal/postgres/bench",
            "/".join(str(cpu[k]) for k in ("workers", "api", "temporal", "postgres", "bench")),
            "",
        ),
        (
            "seconds: actions done / all done",
            f"{r['seconds']['actions_done']} / {r['seconds']['all_done']}",
            "",
        ),
        ("nothing lost", r["nothing_lost"], ""),
    ]
    width = [max(len(str(row[i])) for row in rows) for i in range(3)]
    return "\n".join("  ".join(str(v).ljust(width[i]) for i, v in enumerate(row)).rstrip() for row in rows)


async def main(
    returns: int = 5000, minutes: float = 10.0, workers: int = 2, *, write: bool = True
) -> dict[str, Any]:
    """A fresh embedded stack, the day on it; prints the table, writes JSON + table when `write`."""
    import platform
    import socket

    from bench.run import embedded_stack, service_keys

    service_keys()
    load_before = os.getloadavg()
    async with embedded_stack() as stack:
        report = await sale_day(stack, returns, minutes, workers)
    report["machine"] = {
        "host": socket.gethostname(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }
    report["date"] = datetime.now(UTC).isoformat(timespec="seconds")
    text = table(report)
    print(text, flush=True)
    if write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        stem = f"{report['date'][:16].replace(':', '')}_{report['machine']['host']}_sale-day"
        (RESULTS / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
        (RESULTS / f"{stem}.txt").write_text(text + "\n")
    return report
