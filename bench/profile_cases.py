"""What a full case costs, part by part: the history events of each shape and the worker's profile.

    python bench/profile_cases.py [--cases N] [--concurrency N] [--top N] [--no-profile]

Starts the embedded stack as bench/run.py does (payloads encrypted, personal data sealed), a
service worker in this process, runs `cases` full cases of bench/run.py's two shapes (photos,
parcel) and prints: the event types of one history of each shape, with counts; CPU ms per case of
this process, the Temporal server and PostgreSQL; and the top of a cProfile of this process
(worker and client) over the cases.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import cProfile
import io
import os
import pstats
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import run as bench  # noqa: E402  bench/run.py
from temporalio.api.enums.v1 import EventType  # noqa: E402

from payload.codec import KEYS_ENV, Keyring  # noqa: E402
from policies import DEFAULT_POLICY_FILE  # noqa: E402
from returns_client import ReturnsClient  # noqa: E402
from store.db import create_pool  # noqa: E402
from store.personal_data import MASTER_KEYS_ENV  # noqa: E402
from worker import build_worker  # noqa: E402


async def history_counts(returns: ReturnsClient, return_id: str) -> dict[str, int]:
    history = await returns.client.get_workflow_handle(returns.case_id(return_id)).fetch_history()
    counts = collections.Counter(
        EventType.Name(e.event_type).removeprefix("EVENT_TYPE_").lower() for e in history.events
    )
    return {"(all)": sum(counts.values()), **dict(sorted(counts.items()))}


async def main_async(args: argparse.Namespace) -> None:
    os.environ.setdefault(KEYS_ENV, Keyring.generate("profile"))
    os.environ.setdefault(MASTER_KEYS_ENV, Keyring.generate("profile-master"))
    async with bench.embedded_stack() as stack:
        pool = await create_pool(stack.dsn, min_size=2, max_size=10)
        queue = f"svc-{uuid.uuid4()}"
        returns = ReturnsClient(stack.client, queue)
        try:
            async with build_worker(stack.client, pool, DEFAULT_POLICY_FILE, queue):
                warm = await bench.run_cases(returns, 4, 4)
                for rid in warm.return_ids[:2]:  # one of each shape
                    print(f"history of {rid}: {await history_counts(returns, rid)}")
                prof = cProfile.Profile()
                cpu: dict[str, float] = {}
                t0 = time.perf_counter()
                with bench.cpu_per(stack, cpu, args.cases):
                    if args.profile:
                        prof.enable()
                    await bench.run_cases(returns, args.cases, args.concurrency)
                    prof.disable()
                rate = args.cases / (time.perf_counter() - t0)
                print(f"{args.cases} cases at {args.concurrency}: {rate:.2f} cases/s, per case {cpu}")
                if args.profile:
                    out = io.StringIO()
                    pstats.Stats(prof, stream=out).sort_stats(args.sort).print_stats(args.top)
                    print(out.getvalue())
        finally:
            await pool.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--sort", default="tottime", choices=["tottime", "cumulative"])
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    args = parser.parse_args(argv)
    from stack.runtime import install_runtime

    sys.dont_write_bytecode = False  # byte code kept, as bench/run.py does (a deployment has it)
    sys.pycache_prefix = str(bench.PYCACHE)
    install_runtime()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
