"""ruff (lint and format) and mypy are part of the test command, so CI and a newcomer run the same
checks; and the rules that keep domain/ pure are shown to bite."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_ruff_clean() -> None:
    done = _run("ruff", "check", ".")
    assert done.returncode == 0, done.stdout[-3000:]


def test_ruff_format_clean() -> None:
    done = _run("ruff", "format", "--check", ".")
    assert done.returncode == 0, done.stdout[-3000:]


@pytest.mark.slow  # a minute on a busy machine without mypy's cache
def test_mypy_clean() -> None:
    done = _run(
        "mypy",
        "domain",
        "policies",
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
        "api",
        "mail",
        "deploy",
        "bench",
        "tests",  # tests/histories (generated) is excluded in pyproject.toml
    )
    assert done.returncode == 0, done.stdout[-3000:]


# Each breaks domain purity and is otherwise clean code: the same file outside domain/ passes.
IMPURE = {
    "clock": "from datetime import datetime\n\nNOW = datetime.now()\n",
    "utc clock": "from datetime import datetime\n\nNOW = datetime.utcnow()\n",
    "calendar clock": "from datetime import date\n\nTODAY = date.today()\n",
    "monotonic clock": "import time\n\nSTARTED = time.monotonic()\n",
    "environment": 'import os\n\nKEYS = os.environ.get("RETURNS_CODEC_KEYS")\n',
    "file read": 'with open("policy.json") as f:\n    TEXT = f.read()\n',
    "path read": 'from pathlib import Path\n\nTEXT = Path("policy.json").read_bytes()\n',
    "randomness": "import random\n\nPICK = random.random()\n",
    "random id": "import uuid\n\nID = uuid.uuid4()\n",
    "temporal": "from temporalio import workflow\n\nNOW = workflow.now\n",
    "database": "import asyncpg\n\nCONNECT = asyncpg.connect\n",
    "network": "import socket\n\nHOST = socket.gethostname()\n",
    "http": 'import httpx\n\nPAGE = httpx.get("http://localhost")\n',
    "process": 'import subprocess\n\nOUT = subprocess.run(["ls"], check=True)\n',
}


@pytest.mark.parametrize("source", IMPURE.values(), ids=IMPURE.keys())
def test_domain_purity_rules_fail_on_a_violation(tmp_path: Path, source: str) -> None:
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    (tmp_path / "domain").mkdir()
    shutil.copy(ROOT / "domain" / "ruff.toml", tmp_path / "domain")
    (tmp_path / "domain" / "impure.py").write_text(source)
    (tmp_path / "elsewhere.py").write_text(source)
    done = _run("ruff", "check", "--no-cache", "--output-format", "concise", ".", cwd=tmp_path)
    assert done.returncode == 1
    flagged = [line for line in done.stdout.splitlines() if ".py:" in line]
    assert flagged and all(line.startswith("domain/impure.py:") for line in flagged), done.stdout
    assert any(code in done.stdout for code in ("TID251", "PTH123")), done.stdout
