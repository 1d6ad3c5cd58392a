"""domain/personal.py: the personal fields of stored events, taken out and put back, and their
erased readings, which must validate as the event and count as the real ones do."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from domain.events import event_from_json
from domain.personal import ERASED_EMAIL, ERASED_NAME, PERSONAL_PATHS, put_personal, take_personal
from tests.domain.test_upcasting import stored_events


def test_every_stored_event_round_trips_and_its_erased_reading_validates() -> None:
    taken_types = set()
    for data in stored_events():
        erased, taken = take_personal(data)
        assert put_personal(erased, taken) == data
        if data["type"] not in PERSONAL_PATHS:
            assert (erased, taken) == (data, {})
            continue
        taken_types.add(data["type"])
        event_from_json(erased)  # the erased reading is a valid event of its type
        for path in taken:
            assert path.split(".")[-1].split("[")[0] in ("name", "email", "note", "photos", "reason")
    assert taken_types == set(PERSONAL_PATHS)


def test_the_erased_reading_of_a_request() -> None:
    data = next(
        d for d in stored_events() if d["type"] == "case_assessed" and d["request"]["items"][0]["photos"]
    )
    erased, taken = take_personal(data)
    customer = erased["request"]["order"]["customer"]
    assert (customer["id"], customer["name"], customer["email"]) == (
        data["request"]["order"]["customer"]["id"],
        ERASED_NAME,
        ERASED_EMAIL,
    )
    photos = data["request"]["items"][0]["photos"]
    assert erased["request"]["items"][0]["photos"] == [f"erased-photo-{i + 1}" for i in range(len(photos))]
    assert taken["request.items[0].photos"] == photos
    assert erased["request"]["order"]["payment"] == data["request"]["order"]["payment"]
    assert data["request"]["order"]["customer"]["name"] != ERASED_NAME  # the input is unchanged


def test_a_sealed_path_that_is_not_in_the_data_is_refused() -> None:
    with pytest.raises(ValueError, match="not a field of this 'photos_submitted' event"):
        put_personal({"type": "photos_submitted", "photos": []}, {"request.items[3].note": "x"})


def test_taking_and_putting_back_leave_their_inputs_as_they_were() -> None:
    """Only the path to each personal field is copied, not the whole event: what the caller
    holds (stored data, an event being written) must not change, nor share what is set."""
    for data in stored_events():
        if data["type"] not in PERSONAL_PATHS:
            continue
        before = copy.deepcopy(data)
        erased, taken = take_personal(data)
        assert data == before
        erased_before, taken_before = copy.deepcopy(erased), copy.deepcopy(taken)
        opened = put_personal(erased, taken)
        assert (erased, taken) == (erased_before, taken_before)
        assert opened == data
        for path in taken:  # a value put back is the caller's own copy
            leaf: Any = opened
            for step in path.replace("]", "").replace("[", ".").split("."):
                leaf = leaf[int(step)] if step.isdigit() else leaf[step]
            if isinstance(leaf, list):
                leaf.append("x")
        assert (erased, taken) == (erased_before, taken_before) and data == before
