"""What ops read about a case in the Temporal UI: the one-line summary of the workflow list, the
reasons it needs attention, and the Markdown details of the case page. Pure functions of the
ReturnCase (plus what only the workflow knows: failing effects and refused override signals)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from domain.case import ReturnCase
from domain.money import fmt
from domain.request import ReturnRequest


class RefusedOverride(BaseModel):
    """An override that arrived as a signal and was refused: signals cannot answer, so it is
    kept for the case page instead of being dropped."""

    model_config = ConfigDict(frozen=True)
    at: datetime
    actor: str
    type: str
    reason: str


REFUSED_KEPT = 20


class RefusedOverrides(BaseModel):
    """The refused override signals of a case, bounded: the last REFUSED_KEPT and a count of the
    ones before, so a sender retrying in a loop cannot grow the workflow's state without end."""

    model_config = ConfigDict(frozen=True)
    last: tuple[RefusedOverride, ...] = ()
    earlier: int = 0

    def add(self, refused: RefusedOverride) -> RefusedOverrides:
        kept = (*self.last, refused)
        dropped = max(0, len(kept) - REFUSED_KEPT)
        return RefusedOverrides(last=kept[dropped:], earlier=self.earlier + dropped)


NO_REFUSED = RefusedOverrides()


def list_summary(request: ReturnRequest) -> str:
    """One line for the workflow list, from the request alone (the caller sets it at start, before
    any policy decided the kind: the kind is the ReturnKind search attribute): return id, value of
    the items returned, first item."""
    lines = [(request.order.line(i.line_id), i.quantity) for i in request.items]
    first = lines[0][0].name + (f" (+{len(lines) - 1} more)" if len(lines) > 1 else "")
    total = sum((line.unit_price * quantity for line, quantity in lines), Decimal(0))
    return f"{request.return_id} · €{fmt(total)} · {first}"


def attention_reasons(
    case: ReturnCase, failing_effects: Sequence[str] = (), *, personal: bool = True
) -> list[str]:
    """Why ops should look: rejected within its appeal window, a reminder sent on an open case,
    an override applied (kept for audit), a message the mail server refused for good (even on a
    closed case: the customer did not hear from us), an effect failing. `personal=False` leaves
    out the mail server's answer (it may quote the address): the read model's copy, which is
    not sealed and must not change when the customer is erased."""
    reasons: list[str] = []
    if case.status == "rejected" and case.closed_at is None:
        reasons.append("rejected, appeal window open")
    if case.reminded and case.closed_at is None and case.outcome is None:
        reasons.append("reminder sent: " + ", ".join(case.reminded))
    if case.repair_overdue and "repair" in case.needs:
        days = case.policy.repair_due_days
        reasons.append(f"repair overdue: not completed within {days} days of the repair order")
    if case.overrides:
        reasons.append(f"{len(case.overrides)} override(s) applied")
    reasons.extend(
        f"message failed: {f.template}" + (f": {f.reason}" if personal else "") for f in case.failed_messages
    )
    reasons.extend(f"effect failing: {what}" for what in failing_effects)
    return reasons


ITEM_COLUMNS = ("line", "item", "qty", "kind", "rule", "guarantee until")
# The Temporal UI (2.54) renders the details in an iframe (/render) whose stylesheet resets every
# element's padding, margin and border to 0 (`* { padding: 0; ... }`) and makes everything inside
# a list item inline (`li * { display: inline }`). The GFM table is a real <table>, but with no
# cell padding its cells glue together ("warrantyfault-in-guarantee"). Markdown cannot style it, so
# each cell carries two NO-BREAK SPACEs (U+00A0) either side (one left only 5 px between columns):
# the table parser trims only ASCII spaces, the renderer escapes entities such as &nbsp;, and CSS
# neither collapses nor breaks a line at them (an en space would wrap a cell's padding onto a
# line of its own). Columns stand apart in the UI, and the cell's text, stripped, is the value.
PAD = "\u00a0\u00a0"
_ITEM_CELL = PAD + "{}" + PAD


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(_ITEM_CELL.format(c.replace("|", "\\|")) for c in cells) + " |"


def _repair(case: ReturnCase) -> list[str]:
    """Contract 7.1: the repair order, when it is due, and how it ended."""
    if case.repair_ordered_at is None:
        return []
    placed = case.repair_ordered_at
    due = placed + timedelta(days=case.policy.repair_due_days)
    out = ["", "### Repair order"]
    ordered = f"ordered for {', '.join(case.repair_ordered)}" if case.repair_ordered else "being ordered"
    out.append(f"- placed {placed:%Y-%m-%d %H:%M}, {ordered}")
    if case.repaired_at is not None:
        note = f": {case.repair_note}" if case.repair_note else ""
        out.append(f"- completed {case.repaired_at:%Y-%m-%d %H:%M}{note}")
    else:
        out.append(f"- due {due:%Y-%m-%d %H:%M}" + (" (overdue)" if case.repair_overdue else ""))
    return out


def case_details(
    case: ReturnCase,
    failing_effects: Sequence[str] = (),
    refused: RefusedOverrides = NO_REFUSED,
) -> str:
    """Current details in Markdown: needs with instructions, quote, messages, overrides."""
    a = case.assessment
    out = [
        f"## {case.return_id} · {a.kind} · {case.status}",
        f"Order {case.request.order.order_id} · customer {case.request.order.customer.id}"
        f" · policy {case.policy.version}",
    ]
    reasons = attention_reasons(case, failing_effects)
    if reasons:
        out += ["", "**Needs attention:** " + "; ".join(reasons)]

    out += ["", "### Waiting for"]
    needs = case.needs
    if not needs:
        out.append("- nothing" + (f" (closed {case.closed_at:%Y-%m-%d})" if case.closed_at else ""))
    for need in needs:
        # One top-level bullet per photo instruction: the UI styles `li *` inline, so a nested
        # list would run into its parent's line (see _ITEM_CELL).
        photos = [
            f"- photos: {item.line_id} {item.name}: {req.instruction} ({req.rule})"
            for item in a.accepted
            for req in item.photo_requirements[len(item.photo_requirements) - case.photos_missing(item) :]
        ]
        out += photos if need == "photos" and photos else [f"- {need}"]

    out += ["", "### Items", _row(ITEM_COLUMNS), "|" + "---|" * len(ITEM_COLUMNS)]
    out += [
        _row((i.line_id, i.name, str(i.quantity), i.kind, i.rule, str(case.guarantee_until(i) or "-")))
        for i in a.items
    ]
    out += _repair(case)

    q = case.quote
    out += ["", f"### Quote: €{fmt(q.total)}" + (f" ({case.resolution})" if case.resolution else "")]
    out.append(f"- gross €{fmt(q.gross)}")
    out += [f"- +€{fmt(x.amount)}: {x.explanation} ({x.rule})" for x in q.additions]
    out += [f"- −€{fmt(d.amount)} {d.line_id or 'case'}: {d.explanation} ({d.rule})" for d in q.deductions]
    if case.refunded:
        out.append(f"- refunded €{fmt(case.refunded)}")
    if case.store_credit:
        out.append(f"- store credit €{fmt(case.store_credit)}")

    out += ["", "### Messages sent"]
    out += [f"- {m}" for m in case.customer_messages] or ["- none"]
    out += [f"- {f.template} FAILED {f.at:%Y-%m-%d %H:%M}: {f.reason}" for f in case.failed_messages]
    if case.replacement_order_id is not None:
        out += ["", "### Replacement order", f"- the shop's order {case.replacement_order_id}"]

    if case.overrides:
        out += ["", "### Overrides"]
        out += [f"- {o.at:%Y-%m-%d %H:%M} {o.type} by {o.actor}: {o.reason}" for o in case.overrides]
    if refused.last:
        out += ["", "### Refused override signals"]
        out += [f"- {r.at:%Y-%m-%d %H:%M} {r.type} by {r.actor or '?'}: {r.reason}" for r in refused.last]
        if refused.earlier:
            out.append(f"- and {refused.earlier} earlier")
    return _inert("\n".join(out))


def _inert(markdown: str) -> str:
    """The UI's renderer lets raw HTML through, and item names, notes and reasons come from shops,
    customers and ops: angle brackets become their full-width look-alikes, so no text is markup."""
    return markdown.replace("<", "\uff1c").replace(">", "\uff1e")
