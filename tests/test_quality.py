"""ruff and mypy are part of the test command, so CI and a newcomer run the same checks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_ruff_clean() -> None:
    done = _run("ruff", "check", ".")
    assert done.returncode == 0, done.stdout[-3000:]


def test_mypy_clean() -> None:
    done = _run(
        "mypy",
        "domain",
        "workflows",
        "activities",
        "store",
        "stack",
        "worker.py",
        "starter.py",
        "simulate.py",
        "replay",
        "returns_client",
        "payload",
        "deploy",
        "bench",
        "tests/faults",
    )
    assert done.returncode == 0, done.stdout[-3000:]
