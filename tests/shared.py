"""../shared beside the repository: the public past cases (and the bench baseline). A clone from a
code host has none of it, so a test that uses it runs that part as a test of its own, skipped with
this reason when it is absent: it never runs fewer cases without a word."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The repository's parent, or one further up for a git worktree (as bench/run.py looks for it).
SHARED = next((p / "shared" for p in ROOT.parents if (p / "shared" / "cases").is_dir()), None)
SHARED_CASES = sorted(SHARED.glob("cases/*.json")) if SHARED else []
OWN_CASES = sorted((ROOT / "cases").glob("*.json"))
SHARED_ABSENT = "../shared/cases absent: public past cases not run"


def case_files(which: str) -> list[Path]:
    """The case files of one source, "own" (cases/) or "shared" (../shared/cases); skips the test
    with its reason when there are none."""
    if which == "own":
        assert OWN_CASES, "no case files in cases/"
        return OWN_CASES
    if not SHARED_CASES:
        pytest.skip(SHARED_ABSENT)
    return SHARED_CASES


def release_case_files(named: list[str]) -> list[Path]:
    """The case files a release is recorded from: those named, else every public and own one. A
    release recorded without the public cases would cover less and say nothing of it."""
    if named:
        return [Path(a) for a in named]
    if not SHARED_CASES:
        raise SystemExit(f"{SHARED_ABSENT}: name the case files to record, or run beside ../shared")
    return SHARED_CASES + OWN_CASES
