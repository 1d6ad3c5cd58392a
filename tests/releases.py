"""Recording a release's fixtures (tests/histories/release-N, tests/event_streams/release-N): the
case files they are recorded from, the folder emptied first, and a README naming the commit."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, NoReturn

from tests.shared import release_case_files

ROOT = Path(__file__).resolve().parents[1]


async def record_release(
    argv: list[str],
    home: Path,
    usage: str | None,
    record: Callable[[list[Path], Path], Awaitable[list[Path]]],
    readme: Callable[[int, str, str], str],
) -> list[Path]:
    """`argv` is `release-N [CASE.json...]`; `readme(files written, commit, release)` its text."""
    if not argv or not argv[0].startswith("release-"):
        raise SystemExit(usage)
    out = home / argv[0]
    cases = release_case_files(argv[1:])
    out.mkdir(exist_ok=True)
    for old in out.glob("*.json"):
        old.unlink()
    written = await record(cases, out)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    (out / "README.md").write_text(readme(len(written), commit, out.name))
    for path in written:
        print(path.relative_to(ROOT))
    return written


def run_recorder(main: Callable[[list[str]], Coroutine[Any, Any, None]]) -> NoReturn:
    """A recorder's command line: the Temporal runtime installed, then os._exit as in simulate.py
    (the SDK's runtime threads can abort the interpreter at exit)."""
    from stack.runtime import install_runtime

    install_runtime()
    asyncio.run(main(sys.argv[1:]))
    sys.stdout.flush()
    os._exit(0)
