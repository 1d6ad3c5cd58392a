"""Schema versions and upcasters (domain.upcasting): stored events of any version read as the
current models, and a recorded policy keeps the meaning it had. The old data here is real: the
event streams release 3 stored (tests/event_streams), which carry no version."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import ValidationError

from domain.case import fold
from domain.events import CaseAssessed, Event, event_from_json, event_to_json
from domain.personal import PERSONAL_PATHS
from domain.upcasting import UPCASTERS, VERSION_KEY, UnknownSchemaVersion, Upcasters
from domain.view import case_view
from tests.domain.helpers import as_recorded

STREAMS = Path(__file__).resolve().parents[1] / "event_streams"
# Two photos submitted, a gift kept: a case_assessed with a gift line and photos_submitted events.
LAPTOP = STREAMS / "release-3" / "003_laptop_high_value_two_photos_gift_kept.json"


def recorded(path: Path = LAPTOP) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def stored_events() -> list[dict[str, Any]]:
    return [e["data"] for path in sorted(STREAMS.glob("release-*/*.json")) for e in recorded(path)["events"]]


def test_the_committed_streams_hold_every_event_type() -> None:
    (union, _) = get_args(Event)
    assert {d["type"] for d in stored_events()} == {m.model_fields["type"].default for m in get_args(union)}


def test_data_without_a_version_is_version_1_and_writers_stamp_the_current_version() -> None:
    for data in stored_events():
        event = event_from_json(data)
        written = event_to_json(event)
        current = UPCASTERS.current(event.type)
        assert written[VERSION_KEY] == current
        assert event_from_json(written) == event
        if VERSION_KEY in data:  # stored by a release with versions (4 on)
            assert 1 <= data[VERSION_KEY] <= current
            if data[VERSION_KEY] == current:  # read as stored: nothing lost, nothing added
                assert written == data
        elif current == 1:  # read as stored: nothing lost, nothing added
            # (but the fields models gained since, at the values that keep the stored meaning)
            fields = {k: v for k, v in written.items() if k != VERSION_KEY}
            assert as_recorded(fields, data) == data


@pytest.mark.parametrize("version", [5, 0, "1", None, 1.0, True])
def test_a_version_this_code_cannot_read_is_refused(version: object) -> None:
    data = {**recorded()["events"][0]["data"], VERSION_KEY: version}
    with pytest.raises(UnknownSchemaVersion, match=r"case_assessed: schema version .* reads versions 1 to 4"):
        event_from_json(data)


def test_a_missing_step_is_refused_when_the_registry_is_made() -> None:
    with pytest.raises(ValueError, match="from version 2 without one from 1"):
        Upcasters({("photos_submitted", 2): lambda d: d})


def _renamed(data: dict[str, Any], path: tuple[str | int, ...], old: str, new: str) -> dict[str, Any]:
    """data with the key `old` at `path` (a key or index per level) named `new`."""
    out = copy.deepcopy(data)
    at: Any = out
    for step in path:
        at = at[step]
    at[new] = at.pop(old)
    return out


# (event type, where the field sits, its name in the current model): each renamed in turn, as if
# the current name came with version 2 and release 3 had stored the old one.
RENAMES = [
    ("photos_submitted", (), "photos"),
    ("case_assessed", ("request", "items", 0), "condition"),
]


@pytest.mark.parametrize(("event_type", "path", "field"), RENAMES, ids=[r[0] for r in RENAMES])
def test_a_renamed_field_reads_only_with_its_upcaster(
    event_type: str, path: tuple[str | int, ...], field: str
) -> None:
    stream = recorded()
    old_name = f"old_{field}"
    stored = [
        _renamed(e["data"], path, field, old_name) if e["type"] == event_type else e["data"]
        for e in stream["events"]
    ]
    with pytest.raises(ValidationError, match=old_name):
        [event_from_json(d) for d in stored]

    upcasters = Upcasters({(event_type, 1): lambda d: _renamed(d, path, old_name, field)})
    case = fold(event_from_json(d, upcasters) for d in stored)
    assert case is not None
    assert as_recorded(case_view(case).model_dump(mode="json"), stream["view"]) == stream["view"]
    assert upcasters.current(event_type) == 2
    # What this code writes now is version 2, and reads back as it is (no upcaster runs on it).
    event = event_from_json(next(d for d in stored if d["type"] == event_type), upcasters)
    written = upcasters.stamp(event.model_dump(mode="json"))
    assert written[VERSION_KEY] == 2 and event_from_json(written, upcasters) == event


def test_a_recorded_policy_keeps_its_meaning_when_settings_are_added() -> None:
    """Contract 7: a policy recorded before its settings existed means no repair, no return fee;
    a policy file loaded today takes the defaults."""
    stream = recorded()
    stored = stream["events"][0]["data"]
    assert stored["type"] == "case_assessed" and "repair_categories" not in stored["policy"]

    # Without the upcaster the old policy reads fine, and wrongly: repair offered, as a new file.
    silently = CaseAssessed.model_validate(stored)
    assert silently.policy.repair_categories == ("printers", "electronics", "computers")
    assert silently.policy.repair_extension_months == 12

    assessed = event_from_json(stored)
    assert isinstance(assessed, CaseAssessed) and UPCASTERS.current("case_assessed") == 4
    assert assessed.policy.repair_categories == () and assessed.policy.repair_extension_months == 0
    assert assessed.policy.return_fee == Decimal("0.00")
    # Nothing else of the policy changed, and the case folds as recorded.
    before = {k: v for k, v in silently.policy.model_dump().items() if k in stored["policy"]}
    assert assessed.policy.model_dump(include=set(before)) == before
    case = fold([assessed, *(event_from_json(e["data"]) for e in stream["events"][1:])])
    assert case is not None
    assert as_recorded(case_view(case).model_dump(mode="json"), stream["view"]) == stream["view"]
    assert stored == recorded()["events"][0]["data"]  # the stored data itself is never changed

    # A case assessed under the new settings is the current version (4: sealable, issue 16; the
    # request's locale, issue 12) and keeps its own values.
    repairing = assessed.policy.model_copy(
        update={"repair_categories": ("printers",), "return_fee": Decimal("2.50")}
    )
    new = assessed.model_copy(update={"policy": repairing})
    written = event_to_json(new)
    assert written[VERSION_KEY] == 4
    again = event_from_json(written)
    assert isinstance(again, CaseAssessed) and again.policy == repairing


def test_the_sealable_types_are_versioned_and_their_fields_read_as_before() -> None:
    """Issue 16: every type with personal fields got a version whose step is the identity: the
    envelope is opened by the store before upcasting, and the fields did not change."""
    assert all(UPCASTERS.current(t) >= 2 for t in PERSONAL_PATHS)
    for data in stored_events():
        if data["type"] in PERSONAL_PATHS:
            assert UPCASTERS.current(data["type"]) == (4 if data["type"] == "case_assessed" else 2)
            assert event_from_json({**event_to_json(event_from_json(data))}) == event_from_json(data)


def test_a_request_recorded_before_locale_reads_dutch_and_a_new_one_keeps_its_own() -> None:
    """Issue 12: the request gained `locale`; a case assessed before it was answered in Dutch."""
    stored = recorded()["events"][0]["data"]
    assert "locale" not in stored["request"]
    old = event_from_json(stored)
    assert isinstance(old, CaseAssessed) and old.request.locale == "nl"
    english = old.model_copy(update={"request": old.request.model_copy(update={"locale": "en"})})
    written = event_to_json(english)
    assert written[VERSION_KEY] == 4 and written["request"]["locale"] == "en"
    again = event_from_json(written)
    assert isinstance(again, CaseAssessed) and again.request.locale == "en"


def test_the_registered_upcasters_leave_the_stored_data_as_it_was() -> None:
    """Upcast reads old data without copying it first: every registered step must return new
    containers along what it changes."""
    upcast = 0
    for data in stored_events():
        before = copy.deepcopy(data)
        if data.get(VERSION_KEY, 1) < UPCASTERS.current(str(data["type"])):
            upcast += 1
        read = UPCASTERS.upcast(data)
        assert data == before
        event_from_json(data)
        assert data == before
        if "policy" in read:  # an upcaster's new settings are not shared between events
            read["policy"]["repair_categories"] = ["x"]
            assert UPCASTERS.upcast(before).get("policy", {}).get("repair_categories") != ["x"]
    assert upcast > 0
