"""Schema versions of stored events, and the upcasters that read an old version as the current one.

A case's events are stored for years; the models in domain.events change. Each stored event's
data carries the schema version of its type under "schema_version" (data stored before versions
existed has none: version 1). An upcaster turns the data of one version into the next, so any
stored version reads as the current model. The current version of a type is one past its last
upcaster: registering the upcaster is what bumps the version, and no writer can stamp a version
that readers cannot read.

Pure functions of JSON data: no I/O, no clock.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

VERSION_KEY = "schema_version"

# Data of version N (without the version key) in, data of version N + 1 out. An upcaster never
# changes its input: it returns new containers along what it changes (`{**data, "x": ...}`) and
# may share the rest (tests/domain/test_upcasting.py checks the registered ones).
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class UnknownSchemaVersion(ValueError):
    """Stored by a newer release than this code, or not a version at all: reading it as the
    current version would silently drop what it says."""


class Upcasters:
    """A registry {(event type, from version): upcaster}, applied in order up to the current version."""

    def __init__(self, steps: Mapping[tuple[str, int], Upcaster]) -> None:
        current: dict[str, int] = {}
        for event_type, version in sorted(steps):
            expected = current.get(event_type, 1)
            if version != expected:
                raise ValueError(
                    f"{event_type}: an upcaster from version {version} without one from {expected}"
                )
            current[event_type] = version + 1
        self._steps = dict(steps)
        self._current = current

    def current(self, event_type: str) -> int:
        return self._current.get(event_type, 1)

    def stamp(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """What a writer stores: the event's data and its type's current version."""
        return {**data, VERSION_KEY: self.current(str(data["type"]))}

    def upcast(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Stored data of any version as the current version's fields (without the version key)."""
        fields = dict(data)
        version = fields.pop(VERSION_KEY, 1)
        event_type = str(fields.get("type"))
        current = self.current(event_type)
        if type(version) is not int or not 1 <= version <= current:
            raise UnknownSchemaVersion(
                f"{event_type}: schema version {version!r}; this code reads versions 1 to {current}"
            )
        # No copy of the data: upcasters never change their input (see Upcaster), so the
        # caller's stored data stays as it was (a deep copy of every old event was a third of
        # a rebuild's reading).
        for v in range(version, current):
            fields = self._steps[(event_type, v)](fields)
        return fields


def recorded_policy(**settings: Any) -> Upcaster:
    """The upcaster of case_assessed for settings added to the Policy.

    A policy recorded in a case means what it meant when it was recorded: a setting it predates
    gets the value that keeps that meaning (no repair offered, no return fee), never the default a
    policy file loaded today gets. `settings` are JSON values, as stored."""

    def upcast(data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "policy": {**data["policy"], **copy.deepcopy(settings)}}

    return upcast


# Contract 7: a policy recorded before these settings existed means no repair offered and no
# return fee. (The settings' defaults for a policy file loaded today are in domain.policy.)
POLICY_BEFORE_2026: dict[str, Any] = {
    "repair_categories": [],
    "repair_extension_months": 0,
    "repair_law_from": "2026-07-31",
    "repair_due_days": 30,
    "return_fee": "0.00",
}


def same_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The upcaster of a change of storage format that leaves the fields as they are."""
    return data


def request_locale_nl(data: dict[str, Any]) -> dict[str, Any]:
    """The upcaster of case_assessed for the request field `locale`: Dutch, as messages were."""
    return {**data, "request": {"locale": "nl", **data["request"]}}


# The upcasters of domain.events; every type without one is at version 1.
UPCASTERS = Upcasters(
    {
        # v2: the policy gained the settings of contract 7.
        ("case_assessed", 1): recorded_policy(**POLICY_BEFORE_2026),
        # Issue 16: the types with personal fields (domain.personal.PERSONAL_PATHS) may be stored
        # sealed from here on: the personal fields at their erased values, the real ones in a
        # "sealed" envelope that store/personal_data.py opens before any upcaster runs. The
        # fields themselves did not change, so the step is the identity; the version says that
        # a stored event of it may carry an envelope.
        ("case_assessed", 2): same_fields,
        ("photos_submitted", 1): same_fields,
        ("inspection_passed", 1): same_fields,
        ("inspection_failed", 1): same_fields,
        ("repair_completed", 1): same_fields,
        ("override_applied", 1): same_fields,
        # Issue 12: message_failed came after issue 16 with a personal field (a mail server's
        # answer may quote the address). Never stored as version 1; its version 2 says, as for
        # the types above, that a stored event of it may carry an envelope.
        ("message_failed", 1): same_fields,
        # v4 (issue 12): the request gained `locale`; a case recorded before it was answered in
        # Dutch, and reads so.
        ("case_assessed", 3): request_locale_nl,
    }
)
