"""The portal's pages over a real server against the real worker: a bad form is a 4xx page with
the error next to its field and starts nothing; a refused link gets its page and nothing else."""

from __future__ import annotations

import html
import re
import uuid
from pathlib import Path

import asyncpg

from api.keys import create_key
from store import read_model
from tests.photos.images import gps_of, jpeg_with_gps
from tests.portal.conftest import Portal, recent_order


def hidden_return_id(html: str) -> str:
    found = re.search(r'name="return_id" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


async def test_the_entry_page_preselects_refund_and_offers_the_withdrawal(portal: Portal) -> None:
    page = await portal.http.get(portal.link(recent_order("toner.json", f"O-{uuid.uuid4().hex[:8]}")))
    assert page.status_code == 200, page.text
    shown = page.text
    assert '<html lang="nl">' in shown and "Toner 410X (huismerk)" in shown
    assert re.search(r'value="refund" checked', shown) and not re.search(
        r'value="store_credit" checked', shown
    )
    assert "Herroepen / Withdraw from contract here" in shown
    assert 'value="withdrawal"' not in shown  # no reason asked to be `withdrawal` on the form
    assert "<script" not in shown
    assert page.headers["referrer-policy"] == "no-referrer"
    nonce = re.search(r"style-src 'nonce-([\w-]+)'", page.headers["content-security-policy"])
    assert nonce and f'<style nonce="{nonce.group(1)}">' in shown  # the page's only style
    again = await portal.http.get(portal.link(recent_order("toner.json", "O-NONCE")))
    assert nonce.group(1) not in again.headers["content-security-policy"]  # a new one each page
    english = await portal.http.get(portal.link(recent_order("toner.json", "O-EN"), locale="en"))
    assert '<html lang="en">' in english.text and "Return items" in english.text
    by_header = await portal.http.get(
        portal.link(recent_order("toner.json", "O-EN2")), headers={"Accept-Language": "en-GB,en;q=0.8"}
    )
    assert '<html lang="en">' in by_header.text


async def test_refused_links_get_a_page_and_nothing_else(portal: Portal) -> None:
    link = portal.link(recent_order("toner.json", "O-REFUSED"))
    body, signature = link.rsplit("/", 1)[1].split(".")
    tampered = await portal.http.get(f"/r/{body}.{signature[::-1]}")
    assert tampered.status_code == 403 and "Deze link is veranderd" in tampered.text
    expired = await portal.http.get(portal.link(recent_order("toner.json", "O-OLD"), days=-1))
    assert expired.status_code == 410 and "verlopen" in expired.text
    malformed = await portal.http.get("/r/not-a-token")
    assert malformed.status_code == 400
    posted = await portal.http.post(f"/r/{body}.{signature[::-1]}/returns", data={"line-0-return": "yes"})
    assert posted.status_code == 403
    # Not in the shop API's document.
    assert not any(p.startswith("/r") for p in (await portal.http.get("/openapi.json")).json()["paths"])


async def test_bad_input_is_shown_next_to_the_field_and_starts_nothing(
    portal: Portal, session_pool: asyncpg.Pool
) -> None:
    order_id = f"O-{uuid.uuid4().hex[:8]}"
    link = portal.link(recent_order("toner.json", order_id))
    return_id = hidden_return_id((await portal.http.get(link)).text)
    before = files_under(portal.photos)

    nothing = await portal.http.post(f"{link}/returns", data={"return_id": return_id, "resolution": "refund"})
    assert nothing.status_code == 422
    assert "Kies minstens één product om te retourneren." in nothing.text

    too_many = {
        "return_id": return_id,
        "line-0-return": "yes",
        "line-0-quantity": "5",
        "line-0-reason": "withdrawal",
        "line-0-condition": "used",
        "resolution": "store_credit",
    }
    page = await portal.http.post(f"{link}/returns", data=too_many)
    assert page.status_code == 422
    assert re.search(
        r'<p class="error" id="err-line-0-quantity">Kies een aantal van 1 tot 1\.</p>', page.text
    )
    assert 'id="err-line-0-reason"' in page.text  # `withdrawal` is not a reason to pick here
    assert 'aria-invalid="true" aria-describedby="err-line-0-quantity"' in page.text
    assert 'value="store_credit" checked' in page.text  # what the customer chose stays chosen

    not_a_photo = {**too_many, "line-0-quantity": "1", "line-0-reason": "defective"}
    files = {"line-0-photos": ("error.jpg", b"%PDF-1.7 not a photo", "image/jpeg")}
    page = await portal.http.post(f"{link}/returns", data=not_a_photo, files=files)
    assert page.status_code == 422 and 'id="err-line-0-photos"' in page.text

    forged_id = {**not_a_photo, "return_id": "R-SOMEONE-ELSES"}
    assert (await portal.http.post(f"{link}/returns", data=forged_id)).status_code == 422

    assert await read_model.find_cases(session_pool, order_id=order_id) == []
    assert files_under(portal.photos) == before  # no photo kept either


async def test_the_toner_in_one_visit_and_a_case_of_another_order_is_404(
    portal: Portal, session_pool: asyncpg.Pool, session_dsn: str
) -> None:
    order_id = f"O-{uuid.uuid4().hex[:8]}"
    link = portal.link(recent_order("toner.json", order_id))
    return_id = hidden_return_id((await portal.http.get(link)).text)
    form = {
        "return_id": return_id,
        "line-0-return": "yes",
        "line-0-quantity": "1",
        "line-0-reason": "defective",
        "line-0-condition": "used",
        "line-0-note": "Printer meldt: toner niet herkend",
        "resolution": "refund",
    }
    files = {"line-0-photos": ("printer.jpg", jpeg_with_gps(), "image/jpeg")}
    sent = await portal.http.post(f"{link}/returns", data=form, files=files)
    assert sent.status_code == 303, sent.text
    assert sent.headers["location"] == f"{link}/returns/{return_id}?lang=nl"
    again = await portal.http.post(f"{link}/returns", data=form, files=files)  # a double submit
    assert again.headers["location"] == sent.headers["location"]
    page = await portal.http.get(sent.headers["location"])
    assert page.status_code == 200, page.text
    assert 'data-status="resolved"' in page.text and "Teruggestort: € 39,95 via iDEAL." in page.text.replace(
        "\xa0", " "
    )
    assert "Garantieaanvraag" in page.text
    (row,) = await read_model.find_cases(session_pool, order_id=order_id)
    assert (row.return_id, str(row.refunded), row.status) == (return_id, "39.95", "resolved")
    (stored,) = [p for p in portal.photos.rglob("*.jpg") if return_id in str(p)]
    assert gps_of(stored.read_bytes()) == {}
    view = await portal.returns.status(return_id)
    assert view.items[0].photos_received == 1

    # The shop and ops see the photo by its reference's key; another case's path is 404.
    admin = await asyncpg.connect(session_dsn)
    try:
        keys = {
            role: (await create_key(admin, role, None, label=f"portal {role}"))[1]
            for role in ("webshop", "warehouse")
        }
    finally:
        await admin.close()
    key = stored.relative_to(portal.photos).as_posix()
    shop = {"Authorization": f"Bearer {keys['webshop']}"}
    got = await portal.http.get(f"/v1/returns/{return_id}/photos/{key}", headers=shop)
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
    assert got.content == stored.read_bytes()
    elsewhere = await portal.http.get(f"/v1/returns/R-OTHER/photos/{key}", headers=shop)
    assert elsewhere.status_code == 404
    warehouse = {"Authorization": f"Bearer {keys['warehouse']}"}
    assert (
        await portal.http.get(f"/v1/returns/{return_id}/photos/{key}", headers=warehouse)
    ).status_code == 403

    other = portal.link(recent_order("toner.json", f"O-{uuid.uuid4().hex[:8]}"))
    assert (await portal.http.get(f"{other}/returns/{return_id}")).status_code == 404
    assert (await portal.http.get(f"{link}/returns/R-NOT-THERE")).status_code == 404
    # The case is closed: cancelling is refused in the page, never a 5xx.
    refused = await portal.http.post(f"{link}/returns/{return_id}/cancel")
    assert refused.status_code == 409 and "cancel refused" in refused.text


async def test_a_missing_photo_uploaded_later_with_the_same_link(portal: Portal) -> None:
    link = portal.link(recent_order("toner.json", f"O-{uuid.uuid4().hex[:8]}"))
    return_id = hidden_return_id((await portal.http.get(link)).text)
    form = {
        "return_id": return_id,
        "line-0-return": "yes",
        "line-0-quantity": "1",
        "line-0-reason": "defective",
        "line-0-condition": "used",
        "resolution": "store_credit",
    }
    sent = await portal.http.post(f"{link}/returns", data=form)
    assert sent.status_code == 303, sent.text
    page = (await portal.http.get(sent.headers["location"])).text
    assert 'data-status="awaiting_photos"' in page
    assert "Toner 410X (huismerk): een foto van de foutmelding of van het defect." in page
    assert re.search(
        r"Uiterlijk \w+ \d{1,2} \w+ \d{4} om \d\d:\d\d\.", page
    )  # the due date, as the mail says it
    assert "Terugsturen is niet nodig voor: Toner 410X (huismerk)." in page  # returnless
    assert "Je krijgt € 39,95 als tegoed in onze winkel." in page.replace("\xa0", " ")

    bad = await portal.http.post(
        f"{link}/returns/{return_id}/photos",
        data={"line_id": "L1"},
        files={"photos": ("x.png", b"not a png", "image/png")},
    )
    assert bad.status_code == 422 and 'id="err-photos-L1"' in bad.text
    assert (await portal.returns.status(return_id)).status == "awaiting_photos"  # unchanged

    good = await portal.http.post(
        f"{link}/returns/{return_id}/photos",
        data={"line_id": "L1"},
        files={"photos": ("error.jpg", jpeg_with_gps(), "image/jpeg")},
    )
    assert good.status_code == 303, good.text
    view = await portal.returns.status(return_id)
    assert (view.status, view.store_credit) == ("resolved", view.quote.total)
    page = html.unescape((await portal.http.get(good.headers["location"])).text)
    assert "Foto's ontvangen" in page and "Als tegoed klaargezet: € 39,95." in page.replace("\xa0", " ")


async def test_the_withdrawal_takes_every_returnable_line_once(portal: Portal) -> None:
    order = recent_order("laptop.json", f"O-{uuid.uuid4().hex[:8]}")
    order["lines"].append(
        {
            "line_id": "L3",
            "sku": "EBOOK-1",
            "name": "E-book",
            "category": "books",
            "kind": "digital",
            "unit_price": "9.95",
            "quantity": 1,
        }
    )  # a digital product of its own has no withdrawal (contract 2.1)
    link = portal.link(order)
    step1 = await portal.http.get(f"{link}/withdrawal")
    assert step1.status_code == 200
    assert 'value="J. de Vries"' in step1.text and 'value="j.devries@example.nl"' in step1.text
    assert "E-book" not in step1.text
    return_id = hidden_return_id(step1.text)
    bad = await portal.http.post(
        f"{link}/withdrawal", data={"return_id": return_id, "name": "", "email": "x"}
    )
    assert bad.status_code == 422 and 'id="err-name"' in bad.text and 'id="err-email"' in bad.text
    identity = {"return_id": return_id, "name": "Jan de Vries", "email": "jan@example.nl"}
    step2 = await portal.http.post(f"{link}/withdrawal", data=identity)
    assert step2.status_code == 200 and "Bevestig herroeping / Confirm withdrawal" in step2.text
    done = await portal.http.post(f"{link}/withdrawal/confirm", data=identity)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"{link}/returns/{return_id}?lang=nl"
    view = await portal.returns.status(return_id)
    assert [(i.line_id, i.kind) for i in view.items] == [("L1", "return"), ("L2", "return")]
    page = html.unescape((await portal.http.get(done.headers["location"])).text)
    assert re.search(r"We hebben je herroeping ontvangen op \w+ \d{1,2} \w+ \d{4} om \d\d:\d\d, voor: ", page)
    again = await portal.http.get(f"{link}/withdrawal")  # withdrawn once is enough
    assert again.status_code == 303 and again.headers["location"] == done.headers["location"]
