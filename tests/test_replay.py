"""History replay (python -m replay). tests/histories/release-N/ holds the histories of every case file
recorded with the workflow code of release N; they never change. Every one replays against
today's code, each release covers every path of the contract, an incompatible change fails them
and the same change behind workflow.patched passes; export and check work against the embedded
dev server."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import get_args

import pytest

from domain.decider import Timer
from domain.events import OverrideType
from replay import histories as replay
from returns_client import ReturnsClient
from simulate import ACTION_ARGUMENTS
from tests.conftest import ROOT, run_script
from tests.replay_variants import IncompatibleReturnCase, PatchedReturnCase
from tests.shared import case_files

HISTORIES = ROOT / "tests" / "histories"
STATUSES = {  # contract section 3
    "awaiting_photos",
    "awaiting_choice",
    "awaiting_parcel",
    "awaiting_inspection",
    "resolved",
    "rejected",
    "cancelled",
    "expired",
}


EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
# Every timer of the decider.
TIMERS = [
    Timer(EPOCH, "remind", "photos"),
    Timer(EPOCH, "remind", "choice"),
    Timer(EPOCH, "remind", "parcel"),
    Timer(EPOCH, "expire", "photos"),
    Timer(EPOCH, "expire", "parcel"),
    Timer(EPOCH, "default_choice"),
    Timer(EPOCH, "auto_inspection", "inspection"),
    Timer(EPOCH, "close_appeal"),
]


RELEASES = sorted(p for p in HISTORIES.glob("release-*") if p.is_dir())

# Contract 7 (repair) came with release 4: the paths a release before it cannot have.
EU_2026_STATUSES = {"awaiting_repair"}
EU_2026_ACTIONS = {"repair_completed"}
EU_2026_TIMERS = [Timer(EPOCH, "repair_overdue", "repair")]
EU_2026_ACTIVITIES = {"order_repair"}


def before_eu_2026(release: Path) -> bool:
    return int(release.name.removeprefix("release-")) < 4


def before_message_outbox(release: Path) -> bool:
    """Release 5 (message-outbox) hands messages to the outbox with its appends: no activity."""
    return int(release.name.removeprefix("release-")) < 5


def committed() -> list[Path]:
    return sorted(HISTORIES.rglob("*.json"))


# --- the guard: an incompatible change fails, the same change behind workflow.patched passes ---
@pytest.mark.slow
async def test_incompatible_change_fails_every_committed_history() -> None:
    out = io.StringIO()
    seen, failed = await replay.check(replay.read_histories([HISTORIES]), [IncompatibleReturnCase], out)
    assert (seen, failed) == (len(committed()), len(committed()))
    assert all("NondeterminismError" in line for line in out.getvalue().splitlines()), out.getvalue()


@pytest.mark.slow
async def test_same_change_behind_patched_replays_every_committed_history() -> None:
    out = io.StringIO()
    seen, failed = await replay.check(replay.read_histories([HISTORIES]), [PatchedReturnCase], out)
    assert (seen, failed) == (len(committed()), 0), out.getvalue()


# --- CI replays every committed history with the command engineers run ---------------------
@pytest.mark.slow
async def test_every_committed_history_replays_against_the_current_workflow() -> None:
    files = committed()
    assert len(RELEASES) >= 2 and all(len(list(r.glob("*.json"))) >= 20 for r in RELEASES)
    done = await run_script(None, "-m replay", "check", str(HISTORIES))
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    assert sorted(done.stdout.splitlines()) == sorted(f"ok {f.stem}" for f in files)


@pytest.mark.parametrize("release", RELEASES, ids=lambda p: p.name)
async def test_each_release_covers_every_path_of_the_contract(release: Path) -> None:
    total = replay.Coverage()
    for history in replay.read_histories([release]):
        total |= await replay.coverage(history)
    old = before_eu_2026(release)
    assert total.statuses == (STATUSES if old else STATUSES | EU_2026_STATUSES)
    assert total.actions >= set(ACTION_ARGUMENTS) - (EU_2026_ACTIONS if old else set())
    assert total.overrides == set(get_args(OverrideType))
    timers = TIMERS if old else TIMERS + EU_2026_TIMERS
    kinds = {replay.timer_kind(t.summary(EPOCH - timedelta(days=1))) for t in timers}
    assert total.timers == kinds
    assert total.activities == {
        "refund",
        "grant_store_credit",
        "order_replacement",
        "revoke_licence",
    } | (set() if old else EU_2026_ACTIVITIES) | (
        {"send_message"} if before_message_outbox(release) else set()
    )
    assert total.messages == {
        "case_opened", "reminder", "case_resolved", "case_rejected", "case_expired", "inspection_failed"
    }  # fmt: skip


@pytest.mark.slow
async def test_check_prints_a_line_per_case_and_exits_1_when_one_fails(tmp_path: Path) -> None:
    """A history of code that called another activity than the current code does."""
    # The newest histories schedule no activity (effects-local-first): take the last that does.
    bad = next(p for p in reversed(committed()) if "activityTaskScheduledEventAttributes" in p.read_text())
    good = next(p for p in reversed(committed()) if p.stem != bad.stem)
    shutil.copy(good, tmp_path / good.name)
    history = json.loads(bad.read_text())
    scheduled = [e for e in history["events"] if "activityTaskScheduledEventAttributes" in e]
    scheduled[0]["activityTaskScheduledEventAttributes"]["activityType"]["name"] = "send_fax"
    (tmp_path / bad.name).write_text(json.dumps(history))
    done = await run_script(None, "-m replay", "check", str(tmp_path))
    assert done.returncode == 1
    lines = sorted(done.stdout.splitlines())
    assert lines[0].startswith(f"FAIL {bad.stem}: NondeterminismError") and "send_fax" in lines[0]
    assert lines[1:] == [f"ok {good.stem}"]
    assert (await run_script(None, "-m replay", "check", str(tmp_path / "none"))).returncode == 2


@pytest.mark.slow
@pytest.mark.parametrize("which", ["own", "shared"])
async def test_freshly_recorded_case_files_replay(tmp_path: Path, which: str) -> None:
    """Every case file, run now, replays against the code that ran it: the workflow is
    deterministic on every path (no clock, randomness or set order leaking into commands)."""
    cases = case_files(which)
    done = await run_script(None, "-m replay", "record", "--out", str(tmp_path), *map(str, cases))
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(list(tmp_path.glob("*.json"))) == len(cases)
    out = io.StringIO()
    assert await replay.check(replay.read_histories([tmp_path]), out=out) == (len(cases), 0), out.getvalue()


# --- export from a running server, then check ----------------------------------------------
async def test_export_then_check_against_the_dev_server(service: str, tmp_path: Path) -> None:
    rc = await ReturnsClient.connect(service)
    ids = {}
    for what in ("resolved", "cancelled", "open"):
        request = json.loads((ROOT / "examples" / "toner.json").read_text())
        request["return_id"] = rid = f"R-{what}-{uuid.uuid4().hex[:6]}"
        ids[what] = rc.case_id(rid)
        await rc.submit(request)
        if what == "resolved":
            await rc.submit_photos(rid, "L1", ["printer-error.jpg"])
        elif what == "cancelled":
            await rc.cancel(rid)
    for what in ("resolved", "cancelled"):
        await rc.client.get_workflow_handle(ids[what]).result()
    for _ in range(100):  # visibility follows the close a moment later
        if (await rc.client.count_workflows(replay.default_query())).count == 2:
            break
        await asyncio.sleep(0.1)

    done = await run_script(service, "-m replay", "export", "--out", str(tmp_path / "h"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert {p.stem for p in (tmp_path / "h").glob("*.json")} == {ids["resolved"], ids["cancelled"]}

    done = await run_script(service, "-m replay", "check", str(tmp_path / "h"))
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    assert sorted(done.stdout.splitlines()) == sorted([f"ok {ids['resolved']}", f"ok {ids['cancelled']}"])

    # An open case straight from the server, without files.
    done = await run_script(service, "-m replay", "check", "--query", f"WorkflowId = '{ids['open']}'")
    assert (done.returncode, done.stdout.strip()) == (0, f"ok {ids['open']}"), done.stderr[-2000:]
