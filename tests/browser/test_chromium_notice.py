"""Installing Chromium takes minutes: the browser fixture says so on the terminal, past pytest's
output capture, before apt-get runs and when it is done."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("workers", ["0", "2"])
def test_the_notice_reaches_the_terminal_while_output_is_captured(tmp_path: Path, workers: str) -> None:
    (tmp_path / "test_notice.py").write_text(
        "import pytest\n"
        "from tests.debian import announce\n\n\n"
        "def test_notice(pytestconfig: pytest.Config) -> None:\n"
        '    print("captured, so never shown")\n'
        '    announce(pytestconfig, "installing chromium (notice)")\n'
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-n",
            workers,
            str(tmp_path / "test_notice.py"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    terminal = done.stdout + done.stderr
    assert "installing chromium (notice)" in terminal
    assert "captured, so never shown" not in terminal
