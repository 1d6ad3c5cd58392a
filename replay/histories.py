"""History replay: do the event histories of past cases still replay against the current
workflow code? A change to the commands the workflow issues that is not behind
`workflow.patched` fails here, before it can break the cases that are open for weeks.

    python -m replay export [--query Q] --out DIR    histories from a server, one JSON file per case
    python -m replay check PATH...                   replay history files (or directories of them)
    python -m replay check --query Q                 replay histories straight from a server
    python -m replay record --out DIR CASE.json...   histories of case files (time-skipping server)

The default query is every closed ReturnCase of the last 30 days. A history file is the JSON of
the Temporal UI/CLI (`temporal workflow show -o json`); export names it after the workflow id,
record after the case file, and check takes the name as the workflow id.
check prints one line per case, "ok ID" or "FAIL ID: <the non-determinism>", and exits 1 when
any case fails, 2 when there is nothing to replay.

Env: TEMPORAL_ADDRESS (default localhost:7233), TEMPORAL_NAMESPACE, as for the webshop client.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

from activities.event_store import EventStoreActivities
from activities.policy import PolicyActivities
from payload.converter import data_converter
from policies import DEFAULT_POLICY_FILE
from returns_client import ReturnsClient
from simulate import load_past_cases, run_case, simulation
from workflows.return_case import ReturnCaseWorkflow

DEFAULT_DAYS = 30


def default_query(now: datetime | None = None) -> str:
    """Every closed ReturnCase of the last 30 days."""
    since = (now or datetime.now(UTC)) - timedelta(days=DEFAULT_DAYS)
    return (
        "WorkflowType = 'ReturnCase' AND ExecutionStatus != 'Running' "
        f"AND CloseTime > '{since.strftime('%Y-%m-%dT%H:%M:%SZ')}'"
    )


async def connect() -> Client:
    return (await ReturnsClient.connect()).client


# --- history files -------------------------------------------------------------------------
def file_name(workflow_id: str) -> str:
    return workflow_id.replace(os.sep, "_") + ".json"


def write_history(history: WorkflowHistory, out: Path, name: str | None = None) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / (name or file_name(history.workflow_id))
    path.write_text(history.to_json() + "\n")
    return path


def read_histories(paths: Iterable[Path]) -> list[WorkflowHistory]:
    """History files, and every *.json under a directory; the file name is the workflow id."""
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.rglob("*.json")) if path.is_dir() else [path])
    return [WorkflowHistory.from_json(f.stem, f.read_text()) for f in files]


async def server_histories(client: Client, query: str) -> AsyncIterator[WorkflowHistory]:
    async for history in client.list_workflows(query).map_histories():
        yield history


async def export(client: Client, query: str, out: Path) -> list[Path]:
    return [write_history(h, out) async for h in server_histories(client, query)]


# --- replay --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Verdict:
    workflow_id: str
    failure: Exception | None

    def line(self) -> str:
        if self.failure is None:
            return f"ok {self.workflow_id}"
        first = str(self.failure).strip().splitlines() or [type(self.failure).__name__]
        return f"FAIL {self.workflow_id}: {type(self.failure).__name__}: {first[0][:800]}"


async def replay(
    histories: Iterable[WorkflowHistory] | AsyncIterator[WorkflowHistory],
    workflows: Sequence[type] = (ReturnCaseWorkflow,),
) -> AsyncIterator[Verdict]:
    """Replay each history against `workflows` (the worker's by default) with the worker's data
    converter and sandbox, one verdict per history as it is replayed."""
    replayer = Replayer(workflows=list(workflows), data_converter=data_converter())
    async with replayer.workflow_replay_iterator(_aiter(histories)) as results:
        async for result in results:
            yield Verdict(result.history.workflow_id, result.replay_failure)


async def _aiter(
    items: Iterable[WorkflowHistory] | AsyncIterator[WorkflowHistory],
) -> AsyncIterator[WorkflowHistory]:
    if isinstance(items, AsyncIterator):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


async def check(
    histories: Iterable[WorkflowHistory] | AsyncIterator[WorkflowHistory],
    workflows: Sequence[type] = (ReturnCaseWorkflow,),
    out: Any = None,
) -> tuple[int, int]:
    """Print a line per case; answer (cases replayed, cases failed)."""
    seen = failed = 0
    async for verdict in replay(histories, workflows):
        seen += 1
        failed += verdict.failure is not None
        print(verdict.line(), file=out or sys.stdout, flush=True)
    return seen, failed


# --- what a history exercises --------------------------------------------------------------
LOCAL_ACTIVITY_MARKER = "core_local_activity"  # the SDK core's marker of a local activity's result
# The workflow's own local activities (its policy and its appends), not effects it carries out.
_BOOKKEEPING = frozenset(
    f.__name__
    for f in (
        PolicyActivities.load_policy,
        EventStoreActivities.append_events,
        EventStoreActivities.append_events_once,
    )
)


@dataclass
class Coverage:
    """The paths of the contract a history went through, read from the history itself."""

    statuses: set[str] = field(default_factory=set)  # every status a case view answered
    actions: set[str] = field(default_factory=set)  # accepted updates
    overrides: set[str] = field(default_factory=set)  # accepted override types
    signals: set[str] = field(default_factory=set)
    timers: set[str] = field(default_factory=set)  # fired timers, by summary without the time
    activities: set[str] = field(default_factory=set)  # effects, as regular or local activities
    messages: set[str] = field(default_factory=set)  # send_message templates, views' messages

    def __ior__(self, other: Coverage) -> Coverage:
        for name in self.__dataclass_fields__:
            getattr(self, name).update(getattr(other, name))
        return self


async def coverage(history: WorkflowHistory) -> Coverage:
    convert = data_converter()

    async def decoded(payloads: Sequence[Any]) -> list[Any]:
        return await convert.decode(payloads) if payloads else []

    cov = Coverage()
    timer_summaries: dict[int, str] = {}
    for event in history.events:
        views = await _views(event, decoded)
        cov.statuses.update(v["status"] for v in views)
        # From message-outbox on, messages ride on appends (no activity): the views name them.
        cov.messages.update(m for v in views for m in v.get("customer_messages", ()))
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            request = event.workflow_execution_update_accepted_event_attributes.accepted_request.input
            cov.actions.add(request.name)
            if request.name == "override":
                (args,) = await decoded(request.args.payloads)
                cov.overrides.add(args["type"])
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            cov.signals.add(event.workflow_execution_signaled_event_attributes.signal_name)
        elif event.event_type == EventType.EVENT_TYPE_TIMER_STARTED and event.user_metadata.HasField(
            "summary"
        ):
            (summary,) = await decoded([event.user_metadata.summary])
            timer_summaries[event.event_id] = timer_kind(str(summary))
        elif event.event_type == EventType.EVENT_TYPE_TIMER_FIRED:
            started = event.timer_fired_event_attributes.started_event_id
            cov.timers.add(timer_summaries.get(started, "timer without summary"))
        elif event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            # From effects-local-first on, an effect's first attempt is a local activity: its marker.
            marker = event.marker_recorded_event_attributes
            if marker.marker_name == LOCAL_ACTIVITY_MARKER:
                (data,) = await decoded(marker.details["data"].payloads)
                if data["activity_type"] not in _BOOKKEEPING:
                    cov.activities.add(data["activity_type"])
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = event.activity_task_scheduled_event_attributes
            cov.activities.add(attrs.activity_type.name)
            if attrs.activity_type.name == "send_message":
                (effect,) = await decoded(attrs.input.payloads)
                cov.messages.add(effect["template"])
    return cov


def timer_kind(summary: str) -> str:
    """ "Photos reminder in 7 days (...)" or, before ops-visibility, "... at <time>": the kind."""
    return re.sub(r" (at|in) .*$", "", summary)


async def _views(event: HistoryEvent, decoded: Any) -> list[dict[str, Any]]:
    """The case views an update answered or the workflow returned."""
    if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
        payloads = event.workflow_execution_update_completed_event_attributes.outcome.success.payloads
    elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
        payloads = event.workflow_execution_completed_event_attributes.result.payloads
    else:
        return []
    return [v for v in await decoded(payloads) if isinstance(v, dict) and "status" in v]


# --- histories of case files ---------------------------------------------------------------
async def record(case_files: Sequence[Path], out: Path) -> list[Path]:
    """Run case files on the time-skipping server (as simulate.py does) and write each case's
    history as <case file name>.json: the committed set CI replays comes from here."""
    cases = load_past_cases(case_files)
    names = [Path(c.source).name for c in cases]
    if len(set(names)) != len(names):
        raise ValueError("two case files share a name; their histories would overwrite each other")
    written = []
    async with simulation(DEFAULT_POLICY_FILE) as ([rc], store, env):
        for past, name in zip(cases, names, strict=True):
            await run_case(rc, store, env, past)
            handle = rc.client.get_workflow_handle(rc.case_id(past.request.return_id))
            written.append(write_history(await handle.fetch_history(), out, name))
    return written


# --- command line --------------------------------------------------------------------------
def parser() -> argparse.ArgumentParser:
    doc = __doc__.splitlines()[0] if __doc__ else None
    p = argparse.ArgumentParser(prog="python -m replay", description=doc)
    sub = p.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export", help="write histories of matching cases from a server")
    ex.add_argument("--query", help="visibility query (default: closed ReturnCases of the last 30 days)")
    ex.add_argument("--out", type=Path, required=True)
    ch = sub.add_parser("check", help="replay histories against the current workflow code")
    ch.add_argument("paths", nargs="*", type=Path, help="history files or directories of them")
    ch.add_argument("--query", help="replay the matching cases of a server instead of files")
    rec = sub.add_parser("record", help="run case files and write their histories")
    rec.add_argument("--out", type=Path, required=True)
    rec.add_argument("cases", nargs="+", type=Path)
    return p


async def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.command == "export":
        written = await export(await connect(), args.query or default_query(), args.out)
        print(f"exported {len(written)} histories to {args.out}", file=sys.stderr)
        return 0
    if args.command == "record":
        for path in await record(args.cases, args.out):
            print(path)
        return 0
    if bool(args.paths) == bool(args.query):
        print("check takes history files or --query, not both or neither", file=sys.stderr)
        return 2
    try:
        histories = (
            server_histories(await connect(), args.query) if args.query else read_histories(args.paths)
        )
    except (
        OSError,
        ValueError,
        json_format.ParseError,
    ) as e:  # a missing or unreadable file: nothing is replayed
        print(f"cannot read histories: {e}", file=sys.stderr)
        return 2
    seen, failed = await check(histories)
    print(f"{seen} cases replayed, {failed} failed", file=sys.stderr)
    if not seen:
        return 2
    return 1 if failed else 0
