"""The cost of sealing personal data on append (issue 16): a micro-run on an embedded PostgreSQL.

    .venv/bin/python -m bench.sealing [--cases 400] [--concurrency 8] [--rounds 3]

Each case is the 8-event stream of tests/event_streams' case 030 (case_assessed, message_sent,
photos_submitted, ...), appended one event per call as the workflow does, under a customer of
its own (the worst case: every case_assessed makes a data key), with `concurrency` writers.
Modes: `clear` (no master keys), `sealed` (a new customer per case), `sealed_same_customer`
(one customer: the key comes from the cache). Prints the median events/s of each mode and the
cost per case against `clear`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg

from payload.codec import Keyring
from stack.embedded import start_postgres
from store.db import create_pool
from store.event_store import EventStore, NewEvent
from store.migrate import create_database
from store.personal_data import PersonalData

ROOT = Path(__file__).resolve().parents[1]
CASE = ROOT / "tests" / "event_streams" / "release-4" / "030_mixed_printer_toner_headset.json"


def _events(customer_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = json.loads(CASE.read_text())["events"]
    out = []
    for e in events:
        data = json.loads(json.dumps(e["data"]))
        if data["type"] == "case_assessed":
            data["request"]["order"]["customer"]["id"] = customer_id
        out.append(data)
    return out


async def _run(pool: asyncpg.Pool, store: EventStore, cases: int, concurrency: int, mode: str) -> float:
    same = f"C-bench-{uuid.uuid4().hex[:6]}"

    async def writer(w: int) -> None:
        for _ in range(w, cases, concurrency):
            stream = f"return-bench-{uuid.uuid4().hex}"
            customer = same if mode == "sealed_same_customer" else f"C-{uuid.uuid4().hex[:10]}"
            for version, data in enumerate(_events(customer)):
                # The owner as activities/event_store.py names it (from the case's summary).
                event = NewEvent(uuid.uuid4(), data["type"], data)
                await store.append(stream, version, [event], owner=customer)

    started = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(concurrency)))
    return cases * len(_events("x")) / (time.perf_counter() - started)


async def main(cases: int, concurrency: int, rounds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-sealing-") as tmp:
        pg = start_postgres(Path(tmp) / "pg", ephemeral=True)
        try:
            dsn = await create_database(pg.dsn, f"sealing_{uuid.uuid4().hex[:6]}")
            pool = await create_pool(dsn, min_size=concurrency, max_size=concurrency)
            keyring = Keyring.parse(Keyring.generate("bench"))
            try:
                clear = EventStore(pool)
                clear.personal = None  # no master keys
                sealed = EventStore(pool, PersonalData(keyring, pool))
                runs: dict[str, list[float]] = {}
                for _ in range(rounds):
                    for mode, store in (
                        ("clear", clear),
                        ("sealed", sealed),
                        ("sealed_same_customer", sealed),
                    ):
                        runs.setdefault(mode, []).append(await _run(pool, store, cases, concurrency, mode))
                return {mode: statistics.median(v) for mode, v in runs.items()}
            finally:
                await pool.close()
        finally:
            pg.stop()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    medians = asyncio.run(main(args.cases, args.concurrency, args.rounds))
    per_event = 8
    for mode, rate in medians.items():
        extra = (per_event / rate - per_event / medians["clear"]) * 1000
        print(f"{mode:<22} {rate:8.0f} events/s   {extra:+6.2f} ms of append time per case vs clear")


if __name__ == "__main__":
    cli()
