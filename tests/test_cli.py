"""The commands as a user runs them: simulate.py on every case file, exit codes of bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.shared import case_files

pytestmark = pytest.mark.slow  # each test runs the entry points as processes (seconds each)

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


@pytest.mark.parametrize("which", ["own", "shared"])
def test_every_case_file_gives_its_expected_outcome(which: str) -> None:
    cases = case_files(which)
    done = run("simulate.py", *cases)
    outcomes = [json.loads(line) for line in done.stdout.splitlines()]
    failed = {o["file"]: o.get("mismatches") for o in outcomes if not o["ok"]}
    assert failed == {}
    assert len(outcomes) == len(cases)
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_return_fee_case_files_under_their_policy() -> None:
    """Contract 7.4: the default policy charges no fee, so its case files run under a policy
    that does (cases/return_fee/ with policies/return-fee.json)."""
    cases = sorted((ROOT / "cases" / "return_fee").glob("*.json"))
    assert len(cases) >= 6
    done = run("simulate.py", "--policy", ROOT / "policies" / "return-fee.json", *cases)
    outcomes = [json.loads(line) for line in done.stdout.splitlines()]
    assert {o["file"]: o.get("mismatches") for o in outcomes if not o["ok"]} == {}
    assert len(outcomes) == len(cases) and done.returncode == 0, done.stderr[-2000:]


def test_simulate_exits_1_when_an_expectation_fails(tmp_path: Path) -> None:
    case = json.loads((ROOT / "examples" / "toner_case.json").read_text())
    case["expect"] = {"status": "cancelled"}
    path = tmp_path / "wrong.json"
    path.write_text(json.dumps(case))
    done = run("simulate.py", path)
    assert done.returncode == 1
    outcome = json.loads(done.stdout)
    assert outcome["mismatches"] == {"status": {"expected": "cancelled", "got": "resolved"}}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda r: r.update(surprise=1), "surprise: unknown field"),
        (lambda r: r["items"][0].update(line_id="L9"), "items[0].line_id"),
        (lambda r: r["items"][0].update(quantity=2), "items[0].quantity"),
        (lambda r: r["items"][0].update(quantity=0), "items[0].quantity"),
        (lambda r: r["items"].append(dict(r["items"][0])), "items[1].line_id"),
        (lambda r: r["order"]["lines"][0].update(unit_price="-39.95"), "order.lines[0].unit_price"),
        (lambda r: r["order"]["lines"][0].update(unit_price="39.955"), "order.lines[0].unit_price"),
        (lambda r: r.update(requested_at="2026-09-01T09:00:00+02:00"), "order.delivered_at"),
        (lambda r: r["order"]["lines"][0].update(gift_for="L7"), "order.lines[0].gift_for"),
        (lambda r: r.update(items=[]), "items"),
    ],
)
def test_invalid_request_exits_2_with_one_line_naming_the_field(
    tmp_path: Path, change: Callable[[dict[str, Any]], object], field: str
) -> None:
    case = json.loads((ROOT / "examples" / "toner_case.json").read_text())
    change(case["request"])
    (tmp_path / "request.json").write_text(json.dumps(case["request"]))
    (tmp_path / "case.json").write_text(json.dumps(case))
    for done in (
        run("starter.py", "submit", tmp_path / "request.json"),
        run("simulate.py", tmp_path / "case.json"),
    ):
        assert done.returncode == 2
        assert done.stdout == ""
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and field in lines[0]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda c: c["timeline"][0].update(action="teleport"), "action: unknown 'teleport'"),
        (lambda c: c["timeline"][0].update(colour="red"), "takes no argument colour"),
        (lambda c: c["timeline"][0].update(at="yesterday"), "timeline[0].at"),
        (lambda c: c.update(expect_typo={}), "expect_typo: unknown field"),
    ],
)
def test_invalid_case_file_exits_2_and_runs_nothing(
    tmp_path: Path, change: Callable[[dict[str, Any]], object], reason: str
) -> None:
    case = json.loads((ROOT / "examples" / "toner_case.json").read_text())
    change(case)
    (tmp_path / "case.json").write_text(json.dumps(case))
    done = run("simulate.py", ROOT / "examples" / "toner_case.json", tmp_path / "case.json")
    assert (done.returncode, done.stdout) == (2, "")
    assert reason in done.stderr and len(done.stderr.strip().splitlines()) == 1
