"""Stored events are read (domain.events.event_from_json) with every check of the models but
the NUL check (issue 15: it ran on every request model of every event a rebuild reads, and
PostgreSQL cannot store a NUL: tests/store/test_event_store.py). A malformed stored event still
fails loudly; a request with a NUL is still refused at the door."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from domain.events import CaseAssessed, event_from_json
from domain.request import InvalidRequest, parse_request

LAPTOP = (
    Path(__file__).resolve().parents[1]
    / "event_streams/release-5/003_laptop_high_value_two_photos_gift_kept.json"
)


def _assessed() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(LAPTOP.read_text())["events"][0]["data"]
    assert data["type"] == "case_assessed"
    return data


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        node: Any = data
        for step in parents:
            node = node[int(step)] if step.isdigit() else node[step]
        node[int(leaf) if leaf.isdigit() else leaf] = value

    return change


@pytest.mark.parametrize(
    "change, field",
    [
        (_set("request.order.lines.0.unit_price", "39.999"), "unit_price"),
        (_set("request.order.lines.0.unit_price", 39.95), "unit_price"),
        (_set("request.order.customer.email", "no-at-sign"), "email"),
        (_set("request.items.0.line_id", "not-a-line"), "not a line of the order"),  # _consistent
        (_set("request.order.surprise", 1), "surprise"),
        (_set("assessment", {}), "assessment"),
        (_set("resolution", "cash"), "resolution"),
    ],
)
def test_a_malformed_stored_event_fails_loudly(change: Callable[[dict[str, Any]], None], field: str) -> None:
    data = _assessed()
    event_from_json(copy.deepcopy(data))  # as stored, it reads
    change(data)
    with pytest.raises(ValidationError, match=field):
        event_from_json(data)


def test_a_nul_is_refused_at_the_door_and_not_looked_for_in_stored_events() -> None:
    data = _assessed()
    data["request"]["items"][0]["note"] = "a\x00b"
    with pytest.raises(InvalidRequest, match=r"note: must not contain NUL"):
        parse_request(data["request"])
    # Such data never reaches the store (its append fails), so reading does not look for it.
    event = event_from_json(data)
    assert isinstance(event, CaseAssessed) and event.request.items[0].note == "a\x00b"
