"""Run past cases (contract section 6) on a simulated clock against the real workflow,
activities and event store.

    python3 simulate.py CASE.json...                     one outcome (JSON) per line
    python3 simulate.py --policy FILE CASE.json...       the same cases under another policy
    python3 simulate.py --compare FILE CASE.json...      a backtest: current policy against FILE

Besides case files, a `.jsonl` file holds past requests in bulk, one return request per line
(no timeline): each runs with no action after intake until --run-until (default: the first
answer), so a shop can backtest its real history.

Exit 0 when every `expect` holds, 1 when one does not, 2 for an invalid case file. --compare
ignores `expect` (another policy is meant to change outcomes) and prints a report.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator
from temporalio.testing import WorkflowEnvironment

from domain.request import InvalidRequest, ReturnRequest, describe, parse_request
from policies import DEFAULT_POLICY_FILE, load_policy
from returns_client import Refused, ReturnsClient
from store.event_store import EventStore

# The arguments each action of contract section 3 takes.
ACTION_ARGUMENTS: dict[str, set[str]] = {
    "submit_photos": {"line_id", "photos"},
    "choose_resolution": {"resolution"},
    "parcel_received": set(),
    "inspection_result": {"passed", "note"},
    "repair_completed": {"note"},
    "cancel": set(),
    "override": {"type", "actor", "reason", "kind", "resolution"},
}


class TimelineEntry(BaseModel):
    model_config = ConfigDict(extra="allow")
    at: timedelta
    action: str

    @model_validator(mode="after")
    def _known(self) -> TimelineEntry:
        if self.at < timedelta(0):
            raise ValueError("at: must not be negative")
        if self.action not in ACTION_ARGUMENTS:
            raise ValueError(f"action: unknown '{self.action}'; known: {', '.join(ACTION_ARGUMENTS)}")
        unknown = set(self.arguments()) - ACTION_ARGUMENTS[self.action]
        if unknown:
            raise ValueError(f"{self.action} takes no argument {', '.join(sorted(unknown))}")
        return self

    def arguments(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class CaseFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    request: dict[str, Any]
    timeline: list[TimelineEntry] = Field(default_factory=list)
    run_until: timedelta = timedelta(days=90)
    expect: dict[str, Any] = Field(default_factory=dict)


class InvalidCaseFile(Exception):
    pass


@dataclass(frozen=True)
class PastCase:
    source: str  # the case file, or "requests.jsonl:12" for a request in bulk
    case: CaseFile
    request: ReturnRequest
    at_texts: list[str]


def _invalid(where: str, e: Exception) -> InvalidCaseFile:
    if isinstance(e, ValidationError):
        return InvalidCaseFile(f"{where}: {describe(e).removeprefix('invalid request: ')}")
    return InvalidCaseFile(f"{where}: {e}")


def load_case(path: Path) -> PastCase:
    """A case file whose request is invalid is an invalid case file: nothing runs."""
    try:
        raw = json.loads(path.read_text())
        case = CaseFile.model_validate(raw)
        request = parse_request(case.request)
    except (OSError, json.JSONDecodeError, ValidationError, InvalidRequest) as e:
        raise _invalid(str(path), e) from None
    at_texts = [str(entry.get("at")) for entry in raw.get("timeline", [])]
    return PastCase(str(path), case, request, at_texts)


def load_requests(path: Path, run_until: timedelta) -> list[PastCase]:
    """Past requests in bulk (JSON Lines, one request per line; blank lines are skipped)."""
    try:
        lines = path.read_text().splitlines()
    except OSError as e:
        raise _invalid(str(path), e) from None
    out = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            raw = json.loads(line)
            request = parse_request(raw)
        except (json.JSONDecodeError, InvalidRequest) as e:
            raise _invalid(where, e) from None
        case = CaseFile(name=request.return_id, request=raw, run_until=run_until)
        out.append(PastCase(where, case, request, []))
    return out


def load_past_cases(paths: Sequence[Path], run_until: timedelta = timedelta(0)) -> list[PastCase]:
    """Case files, and `.jsonl` files of requests that run until `run_until` after intake."""
    out: list[PastCase] = []
    for path in paths:
        out.extend(load_requests(path, run_until) if path.suffix == ".jsonl" else [load_case(path)])
    return out


@contextlib.asynccontextmanager
async def simulation(
    *policy_files: Path,
) -> AsyncIterator[tuple[list[ReturnsClient], EventStore, WorkflowEnvironment]]:
    """Time-skipping test server + real PostgreSQL (embedded unless DATABASE_URL) + the real
    worker, one per policy file (each on its own task queue): a client for each, in order."""
    from stack.embedded import start_postgres, time_skipping_server
    from worker import build_worker, prepare_database

    with contextlib.ExitStack() as stack:
        dsn = os.environ.get("DATABASE_URL")
        if not dsn:
            pg = start_postgres(
                Path(stack.enter_context(tempfile.TemporaryDirectory())) / "pg", ephemeral=True
            )
            stack.callback(pg.stop)
            dsn = pg.dsn
        pool = await prepare_database(dsn)
        try:
            async with time_skipping_server() as env, contextlib.AsyncExitStack() as workers:
                clients = []
                for policy_file in policy_files:
                    task_queue = f"simulate-{uuid.uuid4()}"
                    await workers.enter_async_context(build_worker(env.client, pool, policy_file, task_queue))
                    clients.append(ReturnsClient(env.client, task_queue))
                yield clients, EventStore(pool), env
        finally:
            await pool.close()


async def run_case(
    rc: ReturnsClient, store: EventStore, env: WorkflowEnvironment, past: PastCase
) -> dict[str, Any]:
    case, request = past.case, past.request
    rc.id_prefix = f"sim-{uuid.uuid4().hex[:8]}-"  # each past case is a case of its own
    view = await rc.submit(request)
    refused: list[dict[str, Any]] = []
    for i, entry in sorted(enumerate(case.timeline), key=lambda p: p[1].at):
        await _advance_to(env, view.opened_at + entry.at)
        try:
            await rc.act(request.return_id, entry.action, entry.arguments())
        except Refused as e:
            refused.append({"at": past.at_texts[i], "action": entry.action, "error": str(e)})
    await _advance_to(env, view.opened_at + case.run_until)
    final = await rc.status(request.return_id)
    events = await store.read_stream(rc.case_id(request.return_id))
    end = final.closed_at or await env.get_current_time()
    return {
        **final.model_dump(mode="json"),
        "events": [e.type for e in events],
        "refused": refused,
        "days_open": (end - final.opened_at).days,
    }


async def _advance_to(env: WorkflowEnvironment, target: Any) -> None:
    # Loop: on a loaded machine one skip can land a hair short of the target.
    while (now := await env.get_current_time()) < target:
        await env.sleep(target - now)


def holds(want: Any, got: Any) -> bool:
    """`expect` is a subset of the outcome, at any depth: an object holds when each key it states
    holds, a list when it has as many elements, in order, each holding; anything else compares
    exactly. So a case file written before the view gained fields (the quote's `additions`, the
    items' `guarantee_until`) still states what it stated."""
    if isinstance(want, dict) and isinstance(got, dict):
        return all(key in got and holds(value, got[key]) for key, value in want.items())
    if isinstance(want, list) and isinstance(got, list):
        return len(want) == len(got) and all(holds(w, g) for w, g in zip(want, got, strict=True))
    return bool(want == got)


def mismatches(outcome: dict[str, Any], expect: dict[str, Any]) -> dict[str, Any]:
    return {
        key: {"expected": want, "got": outcome.get(key, "<missing>")}
        for key, want in expect.items()
        if key not in outcome or not holds(want, outcome[key])
    }


# --- a backtest: the same past cases under two policies --------------------------------------
@dataclass(frozen=True)
class Figures:
    """What a returns manager weighs, summed over cases."""

    photo_requests: int = 0
    messages: int = 0
    refunds: Decimal = Decimal("0.00")
    store_credit: Decimal = Decimal("0.00")
    quoted: Decimal = Decimal("0.00")
    rejected: int = 0
    resolved: int = 0
    expired: int = 0

    @staticmethod
    def of(outcome: dict[str, Any]) -> Figures:
        return Figures(
            photo_requests=sum(i["photos_required"] for i in outcome["items"]),
            messages=len(outcome["customer_messages"]),
            refunds=Decimal(outcome["refunded"]),
            store_credit=Decimal(outcome["store_credit"]),
            quoted=Decimal(outcome["quote"]["total"]),
            rejected=outcome["status"] == "rejected",
            resolved=outcome["status"] == "resolved",
            expired=outcome["status"] == "expired",
        )

    def __add__(self, other: Figures) -> Figures:
        return Figures(*(a + b for a, b in zip(self.values(), other.values(), strict=True)))

    def values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__dataclass_fields__)


# (label, Figures field, euros?) in the order the report prints them.
REPORT_ROWS = [
    ("photo requests", "photo_requests", False),
    ("messages to customers", "messages", False),
    ("refunds (EUR)", "refunds", True),
    ("store credit (EUR)", "store_credit", True),
    ("quoted in first answers (EUR)", "quoted", True),
    ("cases rejected", "rejected", False),
    ("cases resolved", "resolved", False),
    ("cases expired", "expired", False),
]

# What makes a case "changed", and how its change is shown.
CASE_FIELDS = ["kind", "status", "resolution", "pending"]


def case_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """One phrase per difference a returns manager would notice, empty when none."""
    out = [
        f"{key} {before[key] or 'none'} -> {after[key] or 'none'}"
        for key in CASE_FIELDS
        if before[key] != after[key]
    ]
    a, b = Figures.of(before), Figures.of(after)
    for label, field in (("photo requests", "photo_requests"), ("quoted", "quoted")):
        if getattr(a, field) != getattr(b, field):
            out.append(f"{label} {getattr(a, field)} -> {getattr(b, field)}")
    for key in ("refunded", "store_credit"):
        if before[key] != after[key]:
            out.append(f"{key.replace('_', ' ')} {before[key]} -> {after[key]} EUR")
    if before["customer_messages"] != after["customer_messages"]:
        out.append(
            f"messages {', '.join(before['customer_messages'])} -> {', '.join(after['customer_messages'])}"
        )
    if len(before["refused"]) != len(after["refused"]):
        out.append(f"refused actions {len(before['refused'])} -> {len(after['refused'])}")
    return out


def _signed(value: Any, euros: bool) -> str:
    if not value:
        return "0"
    return f"{value:+.2f}" if euros else f"{value:+d}"


def _shown(policy: Path) -> str:
    """A policy as a manager recognises it: its path (relative when under here) and version."""
    path = Path(os.path.relpath(policy)) if policy.resolve().is_relative_to(Path.cwd()) else policy
    return f"{path} ({load_policy(policy).version})"


def compare_report(
    current: Path, other: Path, pairs: list[tuple[PastCase, dict[str, Any], dict[str, Any]]]
) -> str:
    """The plain-text backtest report: totals side by side, then every changed case."""
    before = sum((Figures.of(b) for _, b, _ in pairs), Figures())
    after = sum((Figures.of(a) for _, _, a in pairs), Figures())
    kind_changed = sum(b["kind"] != a["kind"] for _, b, a in pairs)
    changed = [(past, case_changes(b, a)) for past, b, a in pairs]
    changed = [(past, c) for past, c in changed if c]
    width = max(len(label) for label, _, _ in REPORT_ROWS)
    lines = [
        f"Backtest of {len(pairs)} past cases: current policy {_shown(current)} against {_shown(other)}",
        "",
        f"{'':{width}}  {'current':>10}  {'other':>10}  {'change':>10}",
        f"{'cases changing kind':{width}}  {'':>10}  {'':>10}  {kind_changed:>10}",
    ]
    for label, field, euros in REPORT_ROWS:
        x, y = getattr(before, field), getattr(after, field)
        lines.append(f"{label:{width}}  {x!s:>10}  {y!s:>10}  {_signed(y - x, euros):>10}")
    lines += [
        "",
        "Each case replays its recorded actions under both policies: a need the other policy adds",
        "that no recorded action meets (a second photo, a parcel) ends the case as expired.",
        "",
        f"Changed cases: {len(changed)} of {len(pairs)}",
    ]
    for past, phrases in changed:
        lines.append(f"- {past.request.return_id} ({past.case.name}; {past.source})")
        lines += [f"    {phrase}" for phrase in phrases]
    return "\n".join(lines)


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("cases", nargs="+", type=Path, help="case files (.json) or requests (.jsonl)")
    parser.add_argument("--policy", type=Path, default=DEFAULT_POLICY_FILE, help="policy file to run under")
    parser.add_argument("--compare", type=Path, metavar="FILE", help="also run every case under FILE; report")
    parser.add_argument(
        "--run-until",
        type=TypeAdapter(timedelta).validate_python,
        default=timedelta(0),
        help="how long requests from .jsonl files run after intake (ISO-8601 duration, default PT0S)",
    )
    args = parser.parse_args(argv)
    try:
        cases = load_past_cases(args.cases, args.run_until)
        for policy in (args.policy, args.compare):
            if policy is not None:
                load_policy(policy)
    except InvalidCaseFile as e:
        print(f"invalid case file: {e}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as e:
        print(f"invalid policy file: {e}", file=sys.stderr)
        return 2
    if args.compare is not None:
        async with simulation(args.policy, args.compare) as ([current, other], store, env):
            pairs = [
                (past, await run_case(current, store, env, past), await run_case(other, store, env, past))
                for past in cases
            ]
        print(compare_report(args.policy, args.compare, pairs), flush=True)
        return 0
    failed = 0
    async with simulation(args.policy) as ([rc], store, env):
        for past in cases:
            outcome = await run_case(rc, store, env, past)
            wrong = mismatches(outcome, past.case.expect)
            failed += bool(wrong)
            line = {"name": past.case.name, "file": past.source, "ok": not wrong, **outcome}
            if wrong:
                line["mismatches"] = wrong
            print(json.dumps(line, ensure_ascii=False), flush=True)
    return 1 if failed else 0


def cli() -> NoReturn:
    """The console script; `python simulate.py` does the same."""
    from stack.runtime import run_cli

    run_cli(main)


if __name__ == "__main__":
    cli()
