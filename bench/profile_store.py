"""Profiles of the store's hot paths, without Temporal: what bench/run.py's append and projection
figures are made of.

    python bench/profile_store.py [--appends N] [--events N] [--top N] [--sort cumulative|tottime]
                                  [--customer-per-case]

Starts an embedded PostgreSQL in a temporary folder, with master keys (personal data sealed as in
production), then
- appends: EventStore.append, one event per call, 8 writers (as bench_appends), timed, then
  again under cProfile, with the statements PostgreSQL ran per append (pg_stat_statements is not
  needed: pg_stat_database's xact_commit and tup_* counters);
- projection: whole cases of tests/event_streams/<latest release> cloned into `events` events,
  then store.read_model.rebuild timed, then again under cProfile. The clones keep their
  template's customer (about 50 customers in all) unless --customer-per-case gives each case a
  customer of its own, as in production: one data key per case to fetch.
Prints rates and the top of each profile.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from activities.event_store import row_of_stream  # noqa: E402
from payload.codec import Keyring  # noqa: E402
from stack.embedded import start_postgres  # noqa: E402
from store.db import create_pool  # noqa: E402
from store.event_store import EventStore, NewEvent  # noqa: E402
from store.migrate import create_database  # noqa: E402
from store.personal_data import MASTER_KEYS_ENV  # noqa: E402
from store.read_model import rebuild  # noqa: E402

STREAMS = ROOT / "tests" / "event_streams"

Template = list[tuple[str, str]]


def templates(customer_per_case: bool = False) -> list[Template]:
    """Every stream of the latest recorded release, as (type, data JSON with {RID}, and with
    {CID} for its customer's id when each case is to have a customer of its own)."""
    release = sorted(p for p in STREAMS.glob("release-*") if p.is_dir())[-1]
    out: list[Template] = []
    for f in sorted(release.glob("*.json")):
        rec = json.loads(f.read_text())
        rid, cid = rec["row"]["return_id"], json.dumps(rec["row"]["customer_id"])
        out.append([])
        for e in rec["events"]:
            text = json.dumps(e["data"]).replace(rid, "{RID}")
            out[-1].append((e["type"], text.replace(cid, '"{CID}"') if customer_per_case else text))
    return out


def profiled(label: str, top: int, sort: str) -> Callable[[Awaitable[Any]], Awaitable[Any]]:
    async def run(part: Awaitable[Any]) -> Any:
        prof = cProfile.Profile()
        prof.enable()
        try:
            return await part
        finally:
            prof.disable()
            out = io.StringIO()
            stats = pstats.Stats(prof, stream=out).sort_stats(sort)
            stats.print_stats(top)
            if os.environ.get("PROFILE_CALLERS"):
                stats.print_callers(os.environ["PROFILE_CALLERS"])
            print(f"--- profile: {label} ---")
            print(out.getvalue())

    return run


async def pg_counters(store: EventStore) -> dict[str, int]:
    row = await store.pool.fetchrow(
        "select xact_commit, tup_inserted, tup_updated, tup_fetched, tup_returned"
        " from pg_stat_database where datname = current_database()"
    )
    return dict(row)


async def appends(store: EventStore, n: int, concurrency: int = 8) -> float:
    tag = uuid.uuid4().hex[:6]

    async def writer(w: int, count: int) -> None:
        for i in range(count):
            event = NewEvent(event_id=uuid.uuid4(), type="E", data={"i": i})
            await store.append(f"{tag}-{w}-{i // 50}", i % 50, [event])

    per = n // concurrency
    t0 = time.perf_counter()
    await asyncio.gather(*(writer(w, per) for w in range(concurrency)))
    return per * concurrency / (time.perf_counter() - t0)


async def load_cases(store: EventStore, tpls: list[Template], events: int) -> int:
    per_case = sum(len(t) for t in tpls) / len(tpls)
    queue = list(range(int(events / per_case) + 1))

    async def writer() -> int:
        written = 0
        while queue:
            i = queue.pop()
            rid = f"P-{i}"
            tpl = tpls[i % len(tpls)]
            cid = f"C-{rid}"  # where the template has "{CID}" (--customer-per-case)
            batch = [
                NewEvent(
                    event_id=uuid.uuid4(),
                    type=t,
                    data=json.loads(d.replace("{RID}", rid).replace("{CID}", cid)),
                )
                for t, d in tpl
            ]
            await store.append(f"return-{rid}", 0, batch)
            written += len(batch)
        return written

    return sum(await asyncio.gather(*(writer() for _ in range(8))))


async def main_async(args: argparse.Namespace) -> None:
    os.environ.setdefault(MASTER_KEYS_ENV, Keyring.generate("profile-master"))
    with tempfile.TemporaryDirectory(prefix="returns-profile-") as tmp:
        pg = start_postgres(Path(tmp) / "pg", ephemeral=True)
        try:
            dsn = await create_database(pg.dsn, f"profile_{uuid.uuid4().hex[:6]}")
            pool = await create_pool(dsn, min_size=8, max_size=8)
            store = EventStore(pool)
            try:
                if args.appends:
                    await appends(store, 200)  # warm: connections, prepared statements
                    sys.path.insert(0, str(ROOT / "bench"))
                    import baseline  # bench/baseline.py, as bench/run.py loads it

                    for _ in range(args.rounds):  # taking turns with the raw commits
                        raw = await baseline.postgres_baseline(dsn, n=args.appends, concurrency=8)
                        rate = await appends(store, args.appends)
                        print(
                            f"appends {rate:.0f}/s, raw commits {raw['concurrent_commits_per_s']:.0f}/s:"
                            f" ratio {rate / raw['concurrent_commits_per_s']:.2f}"
                        )
                    before = await pg_counters(store)
                    rate = await appends(store, args.appends)
                    after = await pg_counters(store)
                    per = {k: round((after[k] - before[k]) / args.appends, 2) for k in after}
                    print(f"appends: {rate:.0f} events/s (one event per call, 8 writers); per append: {per}")
                    rate = await profiled("appends", args.top, args.sort)(appends(store, args.appends))
                    print(f"appends under cProfile: {rate:.0f} events/s")
                if args.events:
                    written = await load_cases(store, templates(args.customer_per_case), args.events)
                    t0, c0 = time.perf_counter(), time.process_time()
                    rows = await rebuild(pool, row_of_stream)
                    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                    print(
                        f"projection: {written / wall:.0f} events/s ({written} events, {rows} rows),"
                        f" {written / cpu:.0f} per Python CPU second"
                    )
                    await profiled("projection", args.top, args.sort)(rebuild(pool, row_of_stream))
            finally:
                await pool.close()
        finally:
            pg.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--events", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=3, help="appends and raw commits, in turns")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--customer-per-case", action="store_true", help="a customer (data key) per case")
    parser.add_argument("--sort", default="tottime", choices=["tottime", "cumulative"])
    asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
