"""Record the histories of a release: run every case file (cases/ and the public past cases) on the
time-skipping server with the current workflow code, one history per case, into
tests/histories/<release>/ (emptied first), with a README naming the commit.

    python3 tests/histories/regenerate.py release-3 [CASE.json...]

A release directory stands for the cases open on the servers when that code ran: once committed
it never changes. Record a new one after a change to the workflow's commands (behind
workflow.patched), never to make a failing replay pass.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from replay.histories import record  # noqa: E402
from tests.releases import record_release, run_recorder  # noqa: E402


async def main(argv: list[str]) -> None:
    await record_release(
        argv,
        HERE,
        __doc__,
        record,
        lambda n, commit, release: (
            f"Histories of {n} case files (cases/ and the public past cases kept outside this\n"
            f"repository), recorded with the workflow code of commit {commit} by\n"
            f"`python3 tests/histories/regenerate.py {release}`.\n"
            "They never change: tests/test_replay.py replays them against today's code.\n"
        ),
    )


if __name__ == "__main__":
    run_recorder(main)
