"""A Debian package a test needs (chromium, poppler-utils, ...), installed with apt-get when its
program is missing: never a download of its own. Skips only where apt cannot run (not Debian, or
not root), saying which program is missing."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest


def announce(config: pytest.Config, line: str) -> None:
    """One line on the terminal while the tests' output is captured: a long pause gets a reason."""
    capture = config.pluginmanager.getplugin("capturemanager")
    terminal = config.pluginmanager.getplugin("terminalreporter")
    # An xdist worker's stdout is its channel to the controller; its stderr is the terminal's.
    in_worker = hasattr(config, "workerinput")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        if terminal is not None and not in_worker:
            terminal.write_line(line)
        else:
            print(line, file=sys.__stderr__, flush=True)


def ensure_debian_package(config: pytest.Config, program: Path, package: str) -> Path:
    """`program` (an absolute path), from Debian's `package` with apt-get when it is missing."""
    if program.exists():
        return program
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        pytest.skip(
            f"{program} is missing and apt-get cannot install {package} here (needs Debian apt as root)"
        )
    announce(config, f"{program} is missing: installing Debian's {package} with apt-get (a few minutes)")
    started = time.monotonic()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    wait_for_lock = ["-o", "DPkg::Lock::Timeout=300"]  # another apt run (CI, a colleague) may hold it
    for cmd in (
        ["apt-get", *wait_for_lock, "update", "-q"],
        ["apt-get", *wait_for_lock, "install", "-y", "-q", "--no-install-recommends", package],
    ):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
    assert program.exists(), f"apt-get installed {package} but {program} is missing"
    announce(config, f"{package} installed in {time.monotonic() - started:.0f} s")
    return program
