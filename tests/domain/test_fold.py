"""`fold` leaves out the data of a message that a later event of the same fold records sent
(issue 15: building it was most of a rebuild's folding). That must not show: the case after a
fold equals the case after evolving the same events one by one, pending messages and their data
included, for every stream a release stored and every prefix of it (a prefix ends with messages
still pending, or sent within it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from domain.case import ReturnCase, evolve, fold
from domain.effects import CustomerMessage
from domain.events import Event, event_from_json

STREAMS = Path(__file__).resolve().parents[1] / "event_streams"
FILES = sorted(STREAMS.glob("release-*/*.json"))


def _one_by_one(events: list[Event], case: ReturnCase | None = None) -> ReturnCase | None:
    for e in events:
        case = evolve(case, e)
    return case


def _events(path: Path) -> list[Event]:
    recorded: dict[str, Any] = json.loads(path.read_text())
    return [event_from_json(e["data"]) for e in recorded["events"]]


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_a_fold_equals_evolving_one_event_at_a_time(path: Path) -> None:
    events = _events(path)
    for end in range(1, len(events) + 1):
        assert fold(events[:end]) == _one_by_one(events[:end]), f"first {end} events"
        # From a case folded so far, as the workflow folds each batch onto its state.
        for start in range(1, end):
            before = _one_by_one(events[:start])
            assert fold(events[start:end], before) == _one_by_one(events[start:end], before)


def test_the_recorded_streams_have_messages_pending_and_sent_within_a_prefix() -> None:
    """The test above compares message data at all: some prefixes end with a message pending
    (data built), and some messages are sent within the stream (data left out while pending)."""
    pending = sent = 0
    for path in FILES:
        events = _events(path)
        for end in range(1, len(events) + 1):
            case = fold(events[:end])
            assert case is not None
            pending += sum(isinstance(x, CustomerMessage) and bool(x.data) for x in case.pending_effects)
        sent += sum(e.type == "message_sent" for e in events)
    assert pending > 0 and sent > 0
