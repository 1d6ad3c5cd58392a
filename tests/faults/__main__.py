"""`python -m tests.faults [--full]`: the fault runs with their figures (the quick one is what
CI runs through pytest; --full is the long one whose figures go into docs/reliability.md)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from tests.faults.harness import Stack, stack
from tests.faults.scenarios import (
    FULL,
    QUICK,
    Report,
    Sizes,
    crashes,
    postgres_outages,
    races,
    temporal_restarts,
    two_updates_in_one_task,
)


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--full", action="store_true", help="the long run: more cases, more kills")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("-v", action="store_true", help="log the steps of each run")
    parser.add_argument("--only", nargs="*", help="run only these (crashes, postgres_outages, ...)")
    args = parser.parse_args(argv)
    size = FULL if args.full else QUICK
    runs: dict[str, Callable[[Stack, Sizes, int], Coroutine[Any, Any, Report]]] = {
        "crashes": crashes,
        "postgres_outages": postgres_outages,
        "temporal_restarts": temporal_restarts,
        "races": races,
        "two_updates_in_one_task": two_updates_in_one_task,
    }
    began = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="faults-"))
    print(f"logs of the servers and the worker under {tmp} (removed when every run passes)", file=sys.stderr)
    async with stack(tmp) as s:
        for name, scenario in runs.items():
            if not args.only or name in args.only:
                figures = await scenario(s, size, args.seed)
                print(json.dumps({"run": name, **figures.as_dict()}), flush=True)
    shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps({"run": "all", "full": args.full, "seconds": round(time.monotonic() - began, 1)}))
    return 0


if __name__ == "__main__":
    from stack.runtime import install_runtime

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    if "-v" in sys.argv:
        logging.getLogger("tests.faults").setLevel(logging.INFO)
    logging.getLogger("asyncpg.pool").setLevel(logging.ERROR)  # reconnects after a crash: the point
    install_runtime()
    code = asyncio.run(main(sys.argv[1:]))
    sys.stdout.flush()
    os._exit(code)
