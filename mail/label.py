"""The return label: an A6 PDF with the shop's return address, the sender, and the return id as a
Code 128 barcode and a QR code (reportlab draws both), for the customer to print and stick on
the parcel. The same input gives the same bytes (reportlab's invariant mode: no date, fixed id).
"""

from __future__ import annotations

from functools import lru_cache
from io import BytesIO

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode import code128, qr
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A6
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from mail.catalogue import sentence
from mail.shop import ShopSettings

WIDTH, HEIGHT = A6  # 105 x 148 mm, portrait
MARGIN = 8 * mm


def _fit(text: str, font: str, size: float, width: float) -> str:
    """The text cut to the width, with an ellipsis: a long name never runs off the label."""
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def _draw_id(page: Canvas, return_id: str, width: float) -> None:
    """The return id in full beside the QR code: smaller for a long id, on more lines if need be."""
    size = 16.0
    while size > 8 and stringWidth(return_id, "Helvetica-Bold", size) > width:
        size -= 1
    lines: list[str] = []
    line = ""
    for char in return_id:
        if stringWidth(line + char, "Helvetica-Bold", size) > width:
            lines.append(line)
            line = ""
        line += char
    lines.append(line)
    page.setFont("Helvetica-Bold", size)
    top = MARGIN + 9 * mm  # below the caption; a long id runs down towards the margin
    for i, text in enumerate(lines):
        page.drawString(MARGIN, top - i * size * 1.1, text)


# The same label is asked for again by a reminder and by a resend: its bytes never change.
@lru_cache(maxsize=64)
def return_label(
    return_id: str,
    customer_name: str | None,
    customer_address: tuple[str, ...] | None,
    shop: ShopSettings,
    locale: str = "nl",
) -> bytes:
    """The label as PDF bytes."""
    out = BytesIO()
    page = Canvas(out, pagesize=A6, invariant=True, pageCompression=1)
    page.setTitle(f"{sentence(locale, 'label_title')} {return_id}")
    page.setAuthor(shop.name)
    inner = WIDTH - 2 * MARGIN
    y = HEIGHT - MARGIN

    page.setFont("Helvetica-Bold", 14)
    y -= 14
    page.drawString(MARGIN, y, _fit(sentence(locale, "label_title"), "Helvetica-Bold", 14, inner))

    # The addressee: the shop's return address, large, as a carrier reads it.
    y -= 8 * mm
    page.setFont("Helvetica", 8)
    page.drawString(MARGIN, y, sentence(locale, "label_to").upper())
    page.setFont("Helvetica-Bold", 12)
    for line in (shop.name, *shop.return_address):
        y -= 14
        page.drawString(MARGIN, y, _fit(line, "Helvetica-Bold", 12, inner))

    sender = [line for line in (customer_name or "", *(customer_address or ())) if line.strip()]
    if sender:
        y -= 6 * mm
        page.setFont("Helvetica", 8)
        page.drawString(MARGIN, y, sentence(locale, "label_from").upper())
        page.setFont("Helvetica", 10)
        for line in sender:
            y -= 12
            page.drawString(MARGIN, y, _fit(line, "Helvetica", 10, inner))

    # The return id: Code 128 across the label, the QR code below it, the id in plain text.
    barcode = code128.Code128(return_id, barHeight=16 * mm, barWidth=0.35 * mm, humanReadable=False)
    if barcode.width > inner:  # a long id: narrower bars, still one line
        barcode = code128.Code128(
            return_id, barHeight=16 * mm, barWidth=0.35 * mm * inner / barcode.width, humanReadable=False
        )
    barcode_y = MARGIN + 30 * mm
    barcode.drawOn(page, MARGIN + (inner - barcode.width) / 2, barcode_y)

    size = 26 * mm
    # Sized by its own bar size, not by getBounds: that would encode the code a second time.
    code = qr.QrCodeWidget(return_id, barWidth=size, barHeight=size)
    drawing = Drawing(size, size)
    drawing.add(code)
    renderPDF.draw(drawing, page, WIDTH - MARGIN - size, MARGIN)

    page.setFont("Helvetica", 8)
    page.drawString(MARGIN, MARGIN + 16 * mm, sentence(locale, "label_return").upper())
    _draw_id(page, return_id, inner - size - 4 * mm)
    page.showPage()
    page.save()
    return out.getvalue()
