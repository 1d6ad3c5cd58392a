"""The case page's Markdown (domain.details.case_details) as the Temporal UI's renderer needs it:
its stylesheet makes everything inside a list item inline and gives table cells no padding, so
every photo instruction is a top-level bullet and every items cell is padded in the Markdown."""

from __future__ import annotations

import re

from domain.details import ITEM_COLUMNS, PAD, case_details
from tests.domain.helpers import Driver, item, line, request


def _two_item_case() -> Driver:
    """A laptop asking three photos (fault, damage, high value) and a monitor asking one."""
    return Driver(
        request(
            lines=[
                line("L1", category="computers", unit_price="999.00", name="Laptop | Pro"),
                line("L2", category="computers", unit_price="199.00", name="Monitor"),
            ],
            items=[
                item("L1", reason="damaged_on_arrival", condition="used"),
                item("L2", reason="defective", condition="used"),
            ],
        )
    )


def details(d: Driver) -> str:
    assert d.case is not None
    return case_details(d.case)


def _section(text: str, heading: str) -> list[str]:
    return text.split(f"### {heading}\n")[1].split("\n\n")[0].splitlines()


def test_each_photo_instruction_is_a_top_level_bullet_of_its_own() -> None:
    d = _two_item_case()
    view = d.view()
    instructions = [(it["line_id"], i) for it in view["items"] for i in it["photo_instructions"]]
    assert len(instructions) == 4
    waiting = _section(details(d), "Waiting for")
    photos = [bullet for bullet in waiting if bullet.startswith("- photos")]
    assert len(photos) == len(instructions)
    for (line_id, instruction), bullet in zip(instructions, photos, strict=True):
        assert bullet.startswith(f"- photos: {line_id} ") and instruction in bullet
    assert all(b.startswith("- ") for b in waiting), "no nested (indented) bullets"
    assert "- parcel" in waiting


def test_photos_received_leave_only_the_missing_instructions() -> None:
    d = _two_item_case()
    d.photos("L1", "a.jpg", "b.jpg", "c.jpg")
    waiting = _section(details(d), "Waiting for")
    assert [b.split(":")[1].strip() for b in waiting if b.startswith("- photos")] == ["L2 Monitor"]


def test_the_items_table_has_a_padded_cell_under_every_header() -> None:
    d = _two_item_case()
    rows = _section(details(d), "Items")
    header, rule, *body = rows
    cells = [c.strip(" ") for c in re.split(r"(?<!\\)\|", header)[1:-1]]
    assert cells == [f"{PAD}{c}{PAD}" for c in ITEM_COLUMNS]
    assert rule == "|---|---|---|---|---|---|"
    assert len(body) == 2
    for row in body:
        values = [c.strip(" ") for c in re.split(r"(?<!\\)\|", row)[1:-1]]
        assert len(values) == len(ITEM_COLUMNS)
        assert all(v.startswith(PAD) and v.endswith(PAD) for v in values)
    # A pipe in an item's name stays inside its cell.
    assert f"{PAD}Laptop \\| Pro{PAD}" in body[0]


def test_text_from_shops_customers_and_ops_is_never_markup() -> None:
    """The Temporal UI renders raw HTML inside the details' Markdown."""
    d = Driver(
        request(
            lines=[line("L1", category="computers", name='<img src=x onerror="alert(1)">')],
            items=[item("L1", reason="defective", condition="used")],
        )
    )
    text = details(d)
    assert "<" not in text and ">" not in text
    assert '\uff1cimg src=x onerror="alert(1)"\uff1e' in text
