"""axe-core (the npm package, pinned) injected into a page: its serious and critical violations.

The package is installed once with npm into a cache folder (RETURNS_NPM_CACHE, default
.data/npm); without npm the test that asks is skipped."""

from __future__ import annotations

import asyncio
import fcntl
import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

AXE_VERSION = "4.14.1"
ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("RETURNS_NPM_CACHE", ROOT / ".data" / "npm"))
SERIOUS = ("serious", "critical")

_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({target: n.target.join(" "), summary: n.failureSummary})),
  }));
}"""


@lru_cache(maxsize=1)
def axe_source() -> str:
    """axe.min.js of axe-core AXE_VERSION, installed into CACHE once (one installer at a time)."""
    script = CACHE / "node_modules" / "axe-core" / "axe.min.js"
    package = CACHE / "node_modules" / "axe-core" / "package.json"
    npm = shutil.which("npm")
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (script.exists() and f'"version": "{AXE_VERSION}"' in package.read_text()):
            if npm is None:
                pytest.skip("npm is not installed: axe-core cannot be installed")
            done = subprocess.run(
                [
                    npm,
                    "install",
                    "--prefix",
                    str(CACHE),
                    "--no-audit",
                    "--no-fund",
                    "--no-save",
                    f"axe-core@{AXE_VERSION}",
                ],
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert done.returncode == 0, f"npm install axe-core failed: {done.stderr[-2000:]}"
    return script.read_text()


async def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe.run() on the page as it is; the violations of impact serious or critical."""
    source = await asyncio.to_thread(axe_source)
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        await page.add_script_tag(content=source)
    found: list[dict[str, Any]] = await page.evaluate(_RUN)
    return [v for v in found if v.get("impact") in SERIOUS]
