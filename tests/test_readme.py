"""The README's walk-through, run as written against the service as a user runs it: every command
in its order must be allowed and answer the status its comment names."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from tests.conftest import run_script

ROOT = Path(__file__).resolve().parents[1]
STEP = re.compile(r"^\.venv/bin/python (starter\.py .+?)\s+# -> (\w+)")


def walk_through() -> list[tuple[list[str], str]]:
    """(starter.py arguments, expected status) of each line of the walk-through block."""
    text = (ROOT / "README.md").read_text()
    block = text.split("## How a webshop drives a case", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    steps = []
    for line in block.strip().splitlines():
        match = STEP.match(line)
        assert match, f"walk-through line without '# -> status': {line}"
        steps.append((shlex.split(match.group(1)), match.group(2)))
    return steps


def test_the_walk_through_names_a_status_for_every_command() -> None:
    steps = walk_through()
    assert len(steps) >= 8
    used = {args[1] for args, _ in steps}
    every = {"submit", "status", "photos", "choose", "parcel", "inspect", "repaired", "cancel", "override"}
    assert every <= used


async def test_readme_walk_through_runs_in_order_as_written(service: str) -> None:
    for args, status in walk_through():
        done = await run_script(service, *args)
        assert done.returncode == 0, f"{shlex.join(args)}: {done.stderr}"
        assert json.loads(done.stdout)["status"] == status, shlex.join(args)
