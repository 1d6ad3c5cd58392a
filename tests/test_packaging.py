"""The repo as a webshop's developer installs it: `pip install` into a new virtualenv, then a
script in another folder submits a case to the running service through the client, with no
database driver, store or activity loaded."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import tomllib
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The script ends with os._exit, as the README advises for short-lived scripts: the Temporal
# client's runtime threads can crash the interpreter's teardown after the answer is printed
# (temporalio/sdk-python#300; seen here as SIGSEGV once in a CI run).
SHOP_SCRIPT = """
import asyncio, json, os, sys
from returns_client import ReturnsClient, InvalidRequest

async def main() -> None:
    returns = await ReturnsClient.connect()
    try:
        await returns.submit({"return_id": "R-BAD"})
    except InvalidRequest as e:
        refused = str(e)
    view = await returns.submit(json.load(open(sys.argv[1])))
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in {"asyncpg", "store", "activities", "stack"})
    print(json.dumps({"status": view.status, "kind": view.kind, "refused": refused, "loaded": loaded}))

asyncio.run(main())
sys.stdout.flush()
os._exit(0)
"""


def pins(lines: list[str]) -> dict[str, str]:
    found = {}
    for line in lines:
        match = re.match(r"^\s*([A-Za-z0-9_.-]+)==([^\s#;]+)", line)
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def test_pyproject_pins_are_those_of_requirements() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = pins(project["dependencies"] + project["optional-dependencies"]["service"])
    assert declared == pins((ROOT / "requirements.txt").read_text().splitlines())


def test_every_top_level_package_is_declared() -> None:
    """A package left out of pyproject would be missing from an install, not from the checkout."""
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench", "deploy"}
    assert set(setup["packages"]) >= on_disk, on_disk - set(setup["packages"])
    assert {f"{m}.py" for m in setup["py-modules"]} == {"worker.py", "starter.py", "simulate.py"}


@pytest.mark.slow
async def test_pip_installed_client_submits_from_another_folder(service: str, tmp_path: Path) -> None:
    # A copy, as a clone would be: building writes build/ and *.egg-info next to the sources.
    clone = tmp_path / "clone"
    await asyncio.to_thread(
        shutil.copytree,
        ROOT,
        clone,
        ignore=shutil.ignore_patterns(".git", ".venv", ".data", "*_cache", "__pycache__", "histories"),
    )
    env_dir = tmp_path / "shop-venv"
    await asyncio.to_thread(venv.create, env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = await asyncio.to_thread(
        subprocess.run,
        [str(python), "-m", "pip", "install", "-q", str(clone)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr[-3000:]

    shop = tmp_path / "shop"
    shop.mkdir()
    (shop / "submit.py").write_text(SHOP_SCRIPT)
    request = json.loads((ROOT / "examples" / "toner.json").read_text())
    (shop / "toner.json").write_text(json.dumps({**request, "return_id": "R-PIP-1"}))
    done = await asyncio.to_thread(
        subprocess.run,
        [str(python), "submit.py", "toner.json"],
        cwd=shop,
        env={"TEMPORAL_ADDRESS": service, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answer = json.loads(done.stdout)
    assert (answer["status"], answer["kind"]) == ("awaiting_photos", "warranty")
    assert "order" in answer["refused"]  # the worker's validation, in the shop's process
    assert answer["loaded"] == []
    # The installed commands exist and answer.
    help_text = subprocess.run(
        [str(env_dir / "bin" / "returns"), "--help"], capture_output=True, text=True, timeout=60
    )
    assert help_text.returncode == 0 and "submit" in help_text.stdout
