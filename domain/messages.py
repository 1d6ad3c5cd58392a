"""Customer messages (contract section 3): the only six, rendered in Dutch from their data."""

from __future__ import annotations

from typing import Any, Literal

Template = Literal[
    "case_opened", "reminder", "case_resolved", "case_rejected", "case_expired", "inspection_failed"
]

_KIND = {
    "return": "retour",
    "warranty": "garantie",
    "mixed": "retour- en garantie",
    "rejected": "afgewezen",
}
_RESOLUTION = {
    "refund": "terugbetaling naar je oorspronkelijke betaalmethode",
    "store_credit": "tegoed in onze winkel",
    "replacement": "een vervangend product",
    "repair": "reparatie van je product",
}
_NEED = {
    "photos": "foto's uploaden",
    "choice": "kiezen hoe je het wilt afhandelen",
    "parcel": "het pakket opsturen",
    "inspection": "wachten op onze controle",
    "repair": "wachten op de reparatie",
}


# The customer reads Dutch; the view keeps the contract's instruction texts.
_PHOTO = {
    "photo-fault-electronics": "een foto van de foutmelding of van het defect",
    "photo-damage": "een foto van de schade en van de buitenverpakking",
    "photo-high-value": "een foto van het defect en van het serienummerlabel",
}


def _eur(amount: str) -> str:
    return "€" + amount.replace(".", ",")


def _date(iso: str) -> str:
    """ "2026-10-20" as the Dutch write it: 20-10-2026."""
    year, month, day = iso[:10].split("-")
    return f"{day}-{month}-{year}"


def _withdrawal(w: dict[str, Any]) -> list[str]:
    """Contract 7.2: the acknowledgment states the content and the date and time received."""
    day, time = w["received_at"].split(" ")
    items = ", ".join(f"{i['quantity']}x {i['name']}" for i in w["items"])
    received = f"ontvangen op {_date(day)} om {time} (Nederlandse tijd)"
    return [f"We bevestigen je herroeping, {received}, voor: {items}."]


def _repair(r: dict[str, Any]) -> str:
    """Contract 7.1: the customer chooses between repair and replacement, and hears what a repair adds."""
    months = r["extension_months"]
    adds = (
        f"een reparatie verlengt je garantie eenmalig met {months} maanden"
        if months
        else "een reparatie verlengt je garantie niet (je bestelling is van vóór de nieuwe regels)"
    )
    return f"- Je mag kiezen tussen reparatie en vervanging: {adds}."


def _deduction(d: dict[str, Any], ded: dict[str, Any]) -> str:
    if ded["rule"] == "return-fee":
        fee = _eur(ded["amount"])
        return f"Retourkosten {fee}: je stuurt terug zonder dat er iets mis is met het product."
    gift = d["line_names"].get(ded["line_id"], ded["line_id"])
    return (
        f"Inhouding {_eur(ded['amount'])}: het gratis '{gift}' komt niet mee terug. "
        "Stuur je het mee in het pakket, dan houden we niets in."
    )


def _opened(d: dict[str, Any]) -> list[str]:
    lines = [f"We hebben je aanvraag {d['return_id']} ontvangen: een {_KIND[d['kind']]}zaak."]
    if d.get("withdrawal"):
        lines += _withdrawal(d["withdrawal"])
    for photo in d["photos"]:
        lines.append(f"- Foto voor {photo['name']}: {_PHOTO[photo['rule']]}.")
    if d.get("repair"):
        lines.append(_repair(d["repair"]))
    if d["choose_from"]:
        options = ", ".join(_RESOLUTION[r] for r in d["choose_from"])
        lines.append(f"- Kies hoe je het wilt afhandelen: {options}.")
    if d["label"]:
        lines.append("- Stuur het pakket op met het bijgevoegde gratis retourlabel.")
    if d["returnless"]:
        lines.append(f"- Terugsturen is niet nodig voor: {', '.join(d['returnless'])}.")
    q = d["quote"]
    lines.append(f"Bedrag: {_eur(q['gross'])}.")
    for add in q.get("additions", ()):
        lines.append(f"Bezorgkosten terug {_eur(add['amount'])}: je herroept de hele bestelling.")
    lines += [_deduction(d, ded) for ded in q["deductions"]]
    lines.append(f"Je ontvangt: {_eur(q['total'])}.")
    if d["resolution"]:
        lines.append(f"Afhandeling: {_RESOLUTION[d['resolution']]}, zoals je koos.")
    return lines


def render(template: Template, data: dict[str, Any]) -> str:
    """Dutch text for the outbox; every figure comes from the event data, nothing is looked up."""
    if template == "case_opened":
        lines = _opened(data)
    elif template == "reminder":
        needs = " en ".join(_NEED[n] for n in data["needs"])
        lines = [f"Herinnering voor aanvraag {data['return_id']}: we wachten nog op je: {needs}."]
    elif template == "case_resolved":
        lines = _withdrawal(data["withdrawal"]) if data.get("withdrawal") else []
        lines.append(f"Aanvraag {data['return_id']} is afgehandeld: {_RESOLUTION[data['resolution']]}.")
        if data["resolution"] == "refund":
            lines.append(f"We storten {_eur(data['refund'])} terug via {data['payment_method']}.")
        elif data["resolution"] == "store_credit":
            lines.append(f"Je tegoed is verhoogd met {_eur(data['store_credit'])}.")
        elif data["resolution"] == "repair":
            lines.append("Je product is gerepareerd en komt naar je terug.")
            guarantees = data["guarantee_until"]
            lines += [f"- Garantie op {g['name']} loopt nu tot {_date(g['until'])}." for g in guarantees]
        else:
            lines.append("Het vervangende product is onderweg.")
    elif template == "case_rejected":
        lines = [f"Aanvraag {data['return_id']} kunnen we helaas niet accepteren."]
        lines += [f"- {item['name']}: {item['rule']}" for item in data["items"]]
        lines.append(f"Je kunt binnen {data['appeal_days']} dagen bezwaar maken.")
    elif template == "case_expired":
        lines = [f"Aanvraag {data['return_id']} is gesloten: we wachtten nog op je: {_NEED[data['need']]}."]
    else:
        lines = [
            f"Bij de controle van aanvraag {data['return_id']} bleek het product niet in orde.",
            f"Opmerking van het magazijn: {data['note']}",
            f"Je kunt binnen {data['appeal_days']} dagen bezwaar maken.",
        ]
    return "\n".join(["Beste klant,", "", *lines, "", "Met vriendelijke groet, de klantenservice"])
