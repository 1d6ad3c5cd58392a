"""The personal fields of stored events, and what they read as once their customer is erased.

A stored event keeps its amounts, rules, statuses, ids and payment references in the clear; the
fields below are personal data of the customer (name, e-mail, free-text notes, photo references,
an ops reason that may quote them). store/personal_data.py takes them out of an event before it
is stored, seals them under the customer's data key, and leaves the ERASED reading of each in
the clear field. Those erased values must validate as the field and fold exactly as the real
ones would for everything the case decides (a photo count, an e-mail's shape), so a stream whose
key is gone still folds to the same amounts and statuses.

Paths: dotted field names; ``[*]`` runs over every element of a list. Concrete paths (what the
sealed envelope records) name the element: ``request.items[0].note``.

Pure functions of JSON data: no I/O, no clock.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterator, Mapping
from typing import Any

# The request model has no addresses yet; when one comes in, add its path here (and a
# placeholder for its leaf below).
PERSONAL_PATHS: Mapping[str, tuple[str, ...]] = {
    "case_assessed": (
        "request.order.customer.name",
        "request.order.customer.email",
        "request.items[*].note",
        "request.items[*].photos",
    ),
    "photos_submitted": ("photos",),
    "inspection_passed": ("note",),
    "inspection_failed": ("note",),
    "repair_completed": ("note",),
    "override_applied": ("reason",),
    "message_failed": ("reason",),  # a mail server's answer may quote the customer's address
}

ERASED_NAME = "[erased]"
ERASED_EMAIL = "erased@erased.invalid"
ERASED_TEXT = ""
ERASED_PHOTO = "erased-photo-{i}"

_STEP = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(\[(\*|\d+)\])?")


def erased_value(path: str, value: Any) -> Any:
    """The erased reading of `value` found at `path` (its leaf decides): same type, and for a
    list of photos the same number of references."""
    leaf = _steps(path)[-1][0]
    if leaf == "email":
        return ERASED_EMAIL
    if leaf == "name":
        return ERASED_NAME
    if leaf == "photos":
        count = len(value) if isinstance(value, list | tuple) else 0
        return [ERASED_PHOTO.format(i=i + 1) for i in range(count)]
    return ERASED_TEXT


def personal_paths(event_type: str) -> tuple[str, ...]:
    return PERSONAL_PATHS.get(event_type, ())


def take_personal(data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the event's data with every personal field at its erased value, {concrete path: value})
    for an event's stored data (its "type" picks the paths). Fields absent from the data are
    skipped. The input is not changed."""
    out: dict[str, Any] = dict(data)
    owned = {id(out)}
    taken: dict[str, Any] = {}
    for pattern in personal_paths(str(data.get("type"))):
        for concrete, parent, key in list(_resolve(out, pattern)):
            value = parent[key]
            taken[concrete] = copy.deepcopy(value)
            container, key = _owned(out, concrete, owned)
            container[key] = erased_value(concrete, value)
    return out, taken


def put_personal(data: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """The data with the sealed values put back at their concrete paths (what take_personal took).
    A path that no longer resolves is an error: the envelope does not belong to this data."""
    out: dict[str, Any] = dict(data)
    owned = {id(out)}
    for concrete, value in values.items():
        try:
            container, key = _owned(out, concrete, owned)
        except LookupError:
            raise ValueError(
                f"sealed path {concrete!r} is not a field of this {data.get('type')!r} event"
            ) from None
        # A value put back is the caller's own (strings, the most of them, cannot be shared).
        container[key] = value if isinstance(value, str) else copy.deepcopy(value)
    return out


def _owned(out: dict[str, Any], concrete: str, owned: set[int]) -> tuple[Any, Any]:
    """(container, key) of the field at `concrete` in `out`, after every container on the way to
    it was replaced by a shallow copy (unless `owned` lists it: copied for an earlier field of
    the same `out`): setting the field then changes nothing `out` shares with the caller's data.
    Copying only the path, once, not the whole event (a deep copy of every event was most of a
    rebuild's unsealing). LookupError when the path does not resolve."""
    node: Any = out
    steps = _steps(concrete)
    last = len(steps) - 1
    for i, (name, index) in enumerate(steps):
        if not isinstance(node, dict) or name not in node:
            raise LookupError(concrete)
        if index is None:
            if i == last:
                return node, name
            node[name] = node = _own(node[name], owned)
            continue
        if index == "*":
            raise LookupError(f"not a concrete path: {concrete!r}")
        n = int(index)
        items = node[name]
        if not isinstance(items, list) or n >= len(items):
            raise LookupError(concrete)
        node[name] = items = _own(items, owned)
        if i == last:
            return items, n
        items[n] = node = _own(items[n], owned)
    raise LookupError(concrete)  # no steps: _steps never gives that


def _own(value: Any, owned: set[int]) -> Any:
    if id(value) in owned:
        return value
    value = _shallow(value)
    owned.add(id(value))
    return value


def _shallow(value: Any) -> Any:
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        return list(value)
    return value


@functools.lru_cache(maxsize=4096)  # the same few paths, on every sealed event read or written
def _steps(path: str) -> tuple[tuple[str, str | None], ...]:
    steps: list[tuple[str, str | None]] = []
    for part in path.split("."):
        m = _STEP.fullmatch(part)
        if m is None:
            raise ValueError(f"not a path: {path!r}")
        steps.append((m.group(1), m.group(3)))
    return tuple(steps)


def _resolve(data: dict[str, Any], path: str) -> Iterator[tuple[str, Any, Any]]:
    """(concrete path, container, key) for every place `path` names that exists in `data`."""
    steps = _steps(path)

    def walk(node: Any, i: int, prefix: str) -> Iterator[tuple[str, Any, Any]]:
        name, index = steps[i]
        if not isinstance(node, dict) or name not in node:
            return
        here = f"{prefix}.{name}" if prefix else name
        last = i == len(steps) - 1
        if index is None:
            if last:
                yield here, node, name
            else:
                yield from walk(node[name], i + 1, here)
            return
        items = node[name]
        if not isinstance(items, list):
            return
        indices = range(len(items)) if index == "*" else [int(index)]
        for n in indices:
            if n >= len(items):
                continue
            if last:
                yield f"{here}[{n}]", items, n
            else:
                yield from walk(items[n], i + 1, f"{here}[{n}]")

    yield from walk(data, 0, "")
