"""Builders for return requests (contract section 1) and a tiny driver for the pure decider.

The driver does what the workflow does, without a server: it decides a command on the current
state with an explicit clock, folds the events, then reports every pending effect as done
(commands.EffectDone), so that the view shows the messages sent and the money paid out.
Timers fire through `advance`, which ticks at every deadline the decider announces.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from domain import commands as cmd
from domain.case import ReturnCase, evolve
from domain.decider import decide, next_timer
from domain.effects import CustomerMessage
from domain.policy import Policy
from domain.request import ReturnRequest, parse_request
from domain.view import case_view
from policies import load_policy

UTC = UTC
# 2026-10-20T09:00:00+02:00, the example's requested_at; the case starts at that moment.
MAX_TICKS = 100
T0 = datetime(2026, 10, 20, 7, 0, tzinfo=UTC)

EXAMPLE: dict[str, Any] = {
    "return_id": "R-1001",
    "requested_at": "2026-10-20T09:00:00+02:00",
    "order": {
        "order_id": "O-5001",
        "customer": {"id": "C-42", "email": "klant@example.nl", "name": "J. de Vries"},
        "placed_at": "2026-10-01T10:00:00+02:00",
        "delivered_at": "2026-10-02T12:00:00+02:00",
        "payment": {"method": "ideal", "reference": "tr_8Hx2"},
        "currency": "EUR",
        "lines": [
            {
                "line_id": "L1",
                "sku": "HB-410X",
                "name": "Toner 410X (huismerk)",
                "category": "printer_supplies",
                "kind": "physical",
                "unit_price": "39.95",
                "quantity": 1,
                "warranty_months": 24,
            },
            {
                "line_id": "L2",
                "sku": "CLEAN-10",
                "name": "Reinigingsdoekjes (gratis)",
                "category": "printer_supplies",
                "kind": "physical",
                "unit_price": "0.00",
                "list_price": "4.95",
                "quantity": 1,
                "gift_for": "L1",
            },
        ],
    },
    "items": [
        {
            "line_id": "L1",
            "quantity": 1,
            "reason": "defective",
            "condition": "used",
            "note": "Printer zegt: toner niet herkend",
            "photos": [],
        }
    ],
    "preferred_resolution": "refund",
}


def example() -> dict[str, Any]:
    """A fresh deep copy of the request of contract section 1."""
    return copy.deepcopy(EXAMPLE)


def line(line_id: str = "L1", **overrides: Any) -> dict[str, Any]:
    """An order line; defaults are a plain physical product outside the photo categories."""
    base: dict[str, Any] = {
        "line_id": line_id,
        "sku": f"SKU-{line_id}",
        "name": f"Product {line_id}",
        "category": "home",
        "kind": "physical",
        "unit_price": "20.00",
        "quantity": 1,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def item(line_id: str = "L1", **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "line_id": line_id,
        "quantity": 1,
        "reason": "changed_mind",
        "condition": "unopened",
        "note": "",
        "photos": [],
    }
    base.update(overrides)
    return base


def request(
    *,
    lines: list[dict[str, Any]] | None = None,
    items: list[dict[str, Any]] | None = None,
    delivered_at: str | None = None,
    requested_at: str | None = None,
    preferred: str | None = "refund",
    **top: Any,
) -> dict[str, Any]:
    """The example request with overrides. `requested_at="none"` drops the field."""
    data = example()
    if lines is not None:
        data["order"]["lines"] = lines
    if items is not None:
        data["items"] = items
    if delivered_at is not None:
        data["order"]["delivered_at"] = delivered_at
    if requested_at == "none":
        del data["requested_at"]
    elif requested_at is not None:
        data["requested_at"] = requested_at
    data["preferred_resolution"] = preferred
    data.update(top)
    return data


def policy(**overrides: Any) -> Policy:
    """The default policy file, with settings changed for a test."""
    base = load_policy()
    return base.model_copy(
        update={k: (Decimal(v) if isinstance(v, str) else v) for k, v in overrides.items()}
    )


class Driver:
    """Applies commands through decide/evolve with an explicit clock, like the workflow does."""

    def __init__(
        self,
        data: dict[str, Any] | ReturnRequest,
        pol: Policy | None = None,
        *,
        at: datetime = T0,
        case_id: str = "return-test",
    ) -> None:
        self.now = at
        self.policy = pol or load_policy()
        self.case: ReturnCase | None = None
        self.events: list[Any] = []
        self.effects: list[Any] = []  # every effect carried out, in order
        self.ticks = 0
        req = data if isinstance(data, ReturnRequest) else parse_request(data)
        self.start = at
        self.apply(cmd.OpenCase(case_id=case_id, request=req, policy=self.policy))

    # --- running ---------------------------------------------------------------------------------
    def _record(self, events: list[Any]) -> None:
        for e in events:
            self.case = evolve(self.case, e)
            self.events.append(e)

    def apply(self, command: Any) -> list[Any]:
        """Decide and record one command, then carry out every pending effect and fire overdue
        timers (as the workflow loop does). Raises decider.Refused, changing nothing."""
        events = decide(self.case, command, self.now)
        self._record(events)
        self._drain()
        self._overdue()
        return events

    def _drain(self) -> None:
        while self.case is not None and self.case.pending_effects:
            effect = self.case.pending_effects[0]
            self.effects.append(effect)
            self._record(decide(self.case, cmd.EffectDone(key=effect.key), self.now))

    def _tick(self) -> None:
        """One timer firing; a timer that stays due after its tick would loop forever."""
        assert self.case is not None
        before = next_timer(self.case)
        self._record(decide(self.case, cmd.Tick(), self.now))
        self._drain()
        after = next_timer(self.case) if not self.case.closed else None
        if before is not None and after is not None and after.at <= self.now and after == before:
            raise AssertionError(f"timer still due after its tick: {after}")
        self.ticks += 1
        if self.ticks > MAX_TICKS:
            raise AssertionError(f"more than {MAX_TICKS} timer ticks: the timers never settle")

    def _overdue(self) -> None:
        while self.case is not None and not self.case.closed:
            timer = next_timer(self.case)
            if timer is None or timer.at > self.now:
                return
            self._tick()

    def advance(self, days: float = 0, *, hours: float = 0, to: datetime | None = None) -> None:
        """Move the clock forward, firing every timer at its own moment on the way."""
        target = to if to is not None else self.now + timedelta(days=days, hours=hours)
        assert target >= self.now
        while self.case is not None and not self.case.closed:
            timer = next_timer(self.case)
            if timer is None or timer.at > target:
                break
            self.now = max(self.now, timer.at)
            self._tick()
        self.now = target

    def at_day(self, day: float) -> None:
        """Move the clock to `day` days after the start of the case."""
        self.advance(to=self.start + timedelta(days=day))

    # --- shortcuts for the actions of section 3 ---------------------------------------------------
    def photos(self, line_id: str = "L1", *refs: str) -> list[Any]:
        return self.apply(cmd.SubmitPhotos(line_id=line_id, photos=refs or ("photo.jpg",)))

    def choose(self, resolution: str) -> list[Any]:
        return self.apply(cmd.ChooseResolution(resolution=resolution))

    def parcel(self) -> list[Any]:
        return self.apply(cmd.ReceiveParcel())

    def inspect(self, passed: bool, note: str = "") -> list[Any]:
        return self.apply(cmd.ReportInspection(passed=passed, note=note))

    def repaired(self, note: str = "") -> list[Any]:
        return self.apply(cmd.CompleteRepair(note=note))

    def cancel(self) -> list[Any]:
        return self.apply(cmd.CancelCase())

    def override(self, type_: str, actor: str = "ops:anna", reason: str = "test", **kw: Any) -> list[Any]:
        return self.apply(cmd.ApplyOverride(type=type_, actor=actor, reason=reason, **kw))

    # --- reading ------------------------------------------------------------------------------------
    def view(self) -> dict[str, Any]:
        assert self.case is not None
        return case_view(self.case).model_dump(mode="json")

    @property
    def status(self) -> str:
        assert self.case is not None
        return case_view(self.case).status

    @property
    def messages(self) -> list[str]:
        assert self.case is not None
        return case_view(self.case).customer_messages

    @property
    def event_types(self) -> list[str]:
        return [e.type for e in self.events]

    def sent(self, template: str) -> list[CustomerMessage]:
        return [e for e in self.effects if isinstance(e, CustomerMessage) and e.template == template]


# What the case view and the stored events gained with contract 7, so that data an earlier
# release recorded compares with what today's code gives: the new keys, and the value each must
# take on an earlier case for the old data to keep its meaning (None: any value).
ADDED_SINCE_RELEASE_3: dict[str, Any] = {
    "additions": [],  # quote: nothing added on top
    "guarantee_until": None,  # view items: a fact of the recorded request and policy
    "fee_deductions": [],  # assessment: no return fee
    "repair_extension_months": 0,  # assessment: a repair adds nothing
    "delivery_price": "0.00",  # order: none paid, none to pay back
    # Issue 12, late facts: none recorded on an earlier case.
    "replacement_order_id": None,
    "failed_messages": [],
}


def as_recorded(new: Any, old: Any) -> Any:
    """`new` with only the keys `old` has, at every level; every key left out must be one that
    came with contract 7 and hold the value that keeps the old meaning."""
    if isinstance(new, dict) and isinstance(old, dict):
        for key in new.keys() - old.keys():
            assert key in ADDED_SINCE_RELEASE_3, f"{key} is new and not a field contract 7 added"
            want = ADDED_SINCE_RELEASE_3[key]
            assert want is None or new[key] == want, f"{key} is {new[key]!r} on an earlier case"
        return {k: as_recorded(v, old[k]) for k, v in new.items() if k in old}
    if isinstance(new, list) and isinstance(old, list) and len(new) == len(old):
        return [as_recorded(n, o) for n, o in zip(new, old, strict=True)]
    return new
