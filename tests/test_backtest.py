"""Past-case replay (simulate.py): past requests in bulk as JSON Lines, and --compare, the
backtest of another policy on the same cases, as a returns manager reads it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_cli import ROOT, run

pytestmark = pytest.mark.slow  # runs simulate.py as a process

CASES = ROOT / "cases"
STRICT = ROOT / "policies" / "60-days-strict-photos.json"


def request_of(case_file: str) -> dict[str, object]:
    request: dict[str, object] = json.loads((CASES / case_file).read_text())["request"]
    return request


def write_requests(path: Path, *case_files: str) -> Path:
    """JSON Lines of the requests of these case files, with a blank line the loader skips."""
    lines = [json.dumps(request_of(f)) for f in case_files]
    path.write_text(lines[0] + "\n\n" + "\n".join(lines[1:]) + "\n")
    return path


def test_requests_in_bulk_run_to_their_first_answer(tmp_path: Path) -> None:
    jsonl = write_requests(
        tmp_path / "requests.jsonl",
        "001_toner_photo_in_request_resolved_at_intake.json",
        "033_shoes_window_day_31_late.json",
    )
    done = run("simulate.py", jsonl)
    assert done.returncode == 0, done.stderr[-2000:]
    toner, shoes = (json.loads(line) for line in done.stdout.splitlines())
    assert (toner["name"], toner["file"], toner["days_open"]) == ("R-CASE-001", f"{jsonl}:1", 0)
    assert (toner["status"], toner["refunded"], toner["customer_messages"]) == (
        "resolved",
        "39.95",
        ["case_resolved"],
    )
    assert (shoes["file"], shoes["kind"], shoes["customer_messages"]) == (
        f"{jsonl}:3",
        "rejected",
        ["case_rejected"],
    )


def test_an_invalid_request_line_is_named_and_nothing_runs(tmp_path: Path) -> None:
    bad = request_of("033_shoes_window_day_31_late.json")
    bad["surprise"] = 1
    jsonl = tmp_path / "requests.jsonl"
    good = request_of("001_toner_photo_in_request_resolved_at_intake.json")
    jsonl.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    done = run("simulate.py", "--compare", STRICT, jsonl)
    assert (done.returncode, done.stdout) == (2, "")
    assert f"{jsonl}:2: " in done.stderr and "surprise: unknown field" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_compare_reports_what_another_policy_changes(tmp_path: Path) -> None:
    """Under a 60-day window and photos from EUR 100: the shoes of day 31 become a return, the
    headphones warranty (EUR 129) needs a second photo its customer never sent and expires,
    the toner (EUR 39.95, photo given) is the same."""
    jsonl = write_requests(tmp_path / "requests.jsonl", "033_shoes_window_day_31_late.json")
    toner = CASES / "001_toner_photo_in_request_resolved_at_intake.json"
    headphones = CASES / "010_headphones_inspection_auto_approved.json"
    done = run("simulate.py", "--compare", STRICT, toner, headphones, jsonl)
    assert done.returncode == 0, done.stderr[-2000:]
    report = done.stdout
    rows = {line[:32].strip(): line[32:].split() for line in report.splitlines()[3:12]}
    assert rows["cases changing kind"] == ["1"]
    assert rows["photo requests"] == ["2", "3", "+1"]
    assert rows["store credit (EUR)"] == ["129.00", "0.00", "-129.00"]
    assert rows["quoted in first answers (EUR)"] == ["168.95", "288.90", "+119.95"]
    assert rows["cases rejected"] == ["1", "0", "-1"]
    assert "Changed cases: 2 of 3" in report
    changed = report.split("Changed cases")[1]
    assert "R-CASE-033" in changed and "kind rejected -> return" in changed and f"{jsonl}:1" in changed
    assert "R-CASE-010" in changed and "photo requests 1 -> 2" in changed
    assert "R-CASE-001" not in changed
