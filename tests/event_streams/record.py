"""Record the event streams of a release: run every case file (cases/ and the public past cases) on the
time-skipping server with the current code, and write each case's stream as stored, with the
case view and read-model row its fold gave, into tests/event_streams/<release>/ (emptied first),
with a README naming the commit.

    python3 tests/event_streams/record.py release-4 [CASE.json...]

A release directory stands for the streams stored by that code: once committed it never
changes. tests/test_event_streams.py folds every one of them with today's code to exactly what
was recorded, so a change to events, the request or the policy that old streams cannot read
(no upcaster) fails there. Record a new release whenever a stored event's schema version moves.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from activities.event_store import fold_stored, row_of_stream  # noqa: E402
from domain import commands as cmd  # noqa: E402
from domain.view import case_view  # noqa: E402
from policies import DEFAULT_POLICY_FILE  # noqa: E402
from returns_client import ReturnsClient  # noqa: E402
from returns_client.late import record_fact  # noqa: E402
from simulate import load_past_cases, run_case, simulation  # noqa: E402
from store.event_store import EventStore, StoredEvent  # noqa: E402
from tests.releases import record_release, run_recorder  # noqa: E402


def stream_record(case_file: str, events: Sequence[StoredEvent]) -> dict[str, Any]:
    """What a committed stream file holds: the stored rows (without the store's own position and
    clock, which no fold reads) and what the fold of them gave."""
    case = fold_stored(list(events))
    row = row_of_stream(list(events))
    if case is None or row is None:
        raise ValueError(f"{case_file}: the case left no events")
    return {
        "case_file": case_file,
        "stream_id": events[0].stream_id,
        "events": [
            {"stream_version": e.stream_version, "event_id": str(e.event_id), "type": e.type, "data": e.data}
            for e in events
        ],
        "view": case_view(case).model_dump(mode="json"),
        "row": row.model_dump(mode="json"),
    }


async def record(case_files: Sequence[Path], out: Path) -> list[Path]:
    cases = load_past_cases(case_files)
    names = [Path(c.source).name for c in cases]
    if len(set(names)) != len(names):
        raise ValueError("two case files share a name; their streams would overwrite each other")
    written = []
    async with simulation(DEFAULT_POLICY_FILE) as ([rc], store, env):
        for past, name in zip(cases, names, strict=True):
            outcome = await run_case(rc, store, env, past)
            events = await store.read_stream(rc.case_id(past.request.return_id))
            stream = stream_record(name, events)
            # The fold must give what the workflow answered, or the recording proves nothing.
            answered = {k: outcome[k] for k in stream["view"]}
            if answered != stream["view"]:
                raise ValueError(f"{name}: the fold of the stream differs from the workflow's view")
            path = out / name
            path.write_text(json.dumps(stream, indent=2, ensure_ascii=False) + "\n")
            written.append(path)
        written += await record_late_facts(rc, store, out)
    return written


LATE_FACTS_FROM = ROOT / "examples" / "toner.json"


async def record_late_facts(rc: ReturnsClient, store: EventStore, out: Path) -> list[Path]:
    """Late facts (returns_client.late) are no action of a case file: two streams of the seed's
    toner carry them. Resolved at intake with a replacement, its workflow ended, the shop's
    order id and a refused message appended to the stored stream; awaiting its photo, a refused
    message taken by the running workflow."""
    written = []
    for name, photos, preferred in (
        ("late_facts_replacement_order_completed_case.json", ["toner-error.jpg"], "replacement"),
        ("late_facts_message_failed_running_case.json", [], "refund"),
    ):
        request = json.loads(LATE_FACTS_FROM.read_text())
        request |= {"requested_at": "2026-10-20T09:00:00+02:00", "preferred_resolution": preferred}
        request["items"][0]["photos"] = photos
        rc.id_prefix = f"sim-{uuid.uuid4().hex[:8]}-"
        return_id = request["return_id"]
        view = await rc.submit(request)
        if view.status == "resolved":
            await rc.client.get_workflow_handle(rc.case_id(return_id)).result()
            facts: list[cmd.LateFact] = [cmd.ConfirmReplacementOrder(order_id="SHOP-9001")]
            template = "case_resolved"
        else:
            facts, template = [], "case_opened"
        facts.append(
            cmd.MessageFailed(
                key=f"{rc.case_id(return_id)}:1:message:{template}",
                template=template,
                reason="550 5.1.1 <inkoop@example.nl>: mailbox unavailable",
            )
        )
        for fact in facts:
            answered = await record_fact(rc.client, store.pool, return_id, fact, id_prefix=rc.id_prefix)
        stream = stream_record(name, await store.read_stream(rc.case_id(return_id)))
        if answered.model_dump(mode="json") != stream["view"]:
            raise ValueError(f"{name}: the fold of the stream differs from the answered view")
        path = out / name
        path.write_text(json.dumps(stream, indent=2, ensure_ascii=False) + "\n")
        written.append(path)
    return written


async def main(argv: list[str]) -> None:
    await record_release(
        argv,
        HERE,
        __doc__,
        record,
        lambda n, commit, release: (
            f"Event streams of {n - 2} case files (cases/ and the public past cases kept outside this\n"
            "repository) and two with late facts (late_facts_*.json, from examples/toner.json),\n"
            f"stored by the code of commit {commit} and recorded by\n"
            f"`python3 tests/event_streams/record.py {release}`: each file holds a case's stored\n"
            "events and the case view and read-model row their fold gave. They never change:\n"
            "tests/test_event_streams.py folds them with today's code.\n"
        ),
    )


if __name__ == "__main__":
    run_recorder(main)
