"""Regenerate the committed histories: run every case file (../shared/cases and cases/) on the
time-skipping server with the current workflow code and write one history per case here.

    python3 tests/histories/regenerate.py [CASE.json...]

Regenerate only to add paths, never to make a failing replay pass: these histories stand for the
cases that are open on the servers while the workflow code changes.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from replay import record  # noqa: E402
from tests.test_cli import OWN_CASES, SHARED_CASES  # noqa: E402


async def main(argv: list[str]) -> None:
    cases = [Path(a) for a in argv] or SHARED_CASES + OWN_CASES
    for old in HERE.glob("*.json"):
        old.unlink()
    for path in await record(cases, HERE):
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    from stack.runtime import install_runtime

    install_runtime()
    asyncio.run(main(sys.argv[1:]))
    sys.stdout.flush()
    os._exit(0)  # as in simulate.py: the SDK's runtime threads can abort the interpreter at exit
