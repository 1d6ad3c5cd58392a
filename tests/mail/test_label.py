"""The return label as a printer and a scanner meet it: the PDF rendered to an image by
poppler's pdftoppm, its Code 128 barcode and QR code decoded from the pixels (zxing-cpp), its
text read back by pdftotext. poppler-utils comes from apt when missing (tests/debian.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from mail.label import return_label
from mail.render import render_message
from mail.shop import ShopSettings
from tests.debian import ensure_debian_package
from tests.mail import scenarios

SHOP = ShopSettings(
    name="Inkt & Co",
    email="retour@inkt.example",
    return_address=("Afdeling Retouren", "Havenstraat 5", "3011 AB Rotterdam"),
)


@pytest.fixture(scope="module")
def poppler(pytestconfig: pytest.Config) -> Path:
    ensure_debian_package(pytestconfig, Path("/usr/bin/pdftotext"), "poppler-utils")
    return ensure_debian_package(pytestconfig, Path("/usr/bin/pdftoppm"), "poppler-utils").parent


def to_png(poppler: Path, pdf: bytes, tmp_path: Path, dpi: int = 300) -> Path:
    """At 300 dpi, as a label printer prints it (a long id has narrower bars)."""
    (tmp_path / "label.pdf").write_bytes(pdf)
    subprocess.run(
        [
            poppler / "pdftoppm",
            "-png",
            "-r",
            str(dpi),
            "-singlefile",
            tmp_path / "label.pdf",
            tmp_path / "label",
        ],
        check=True,
        timeout=60,
    )
    return tmp_path / "label.png"


def decoded(png: Path) -> dict[str, str]:
    return {r.format.name: r.text for r in zxingcpp.read_barcodes(Image.open(png))}


def pdf_text(poppler: Path, pdf: bytes, tmp_path: Path) -> str:
    (tmp_path / "text.pdf").write_bytes(pdf)
    done = subprocess.run(
        [poppler / "pdftotext", "-layout", tmp_path / "text.pdf", "-"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout


@pytest.mark.parametrize("return_id", ["R-EXAMPLE-1", "R-2026.11:shop_42-retour-000123"])
def test_the_barcode_and_the_qr_code_scan_as_the_return_id(
    poppler: Path, tmp_path: Path, return_id: str
) -> None:
    pdf = return_label(return_id, "Kantoor B.V.", None, SHOP)
    png = to_png(poppler, pdf, tmp_path)
    image = Image.open(png)
    assert image.width < image.height  # portrait, A6: 105 x 148 mm
    assert abs(image.width / image.height - 105 / 148) < 0.01
    assert decoded(png) == {"Code128": return_id, "QRCode": return_id}


def test_the_label_names_the_shops_return_address_and_the_sender(poppler: Path, tmp_path: Path) -> None:
    text = pdf_text(
        poppler, return_label("R-EXAMPLE-1", "Kantoor B.V.", ("Dorpsstraat 1",), SHOP, "nl"), tmp_path
    )
    for line in (
        "RETOURLABEL",
        "AAN",
        "Inkt & Co",
        "Afdeling Retouren",
        "Havenstraat 5",
        "3011 AB Rotterdam",
    ):
        assert line in text
    assert "VAN" in text and "Kantoor B.V." in text and "Dorpsstraat 1" in text
    assert "R-EXAMPLE-1" in text
    english = pdf_text(poppler, return_label("R-EXAMPLE-1", None, None, SHOP, "en"), tmp_path)
    assert "RETURN LABEL" in english and "TO" in english and "FROM" not in english


def test_the_same_label_twice_is_the_same_bytes() -> None:
    first = return_label.__wrapped__("R-1", "A. Bakker", None, SHOP, "nl")
    assert first == return_label.__wrapped__("R-1", "A. Bakker", None, SHOP, "nl")
    assert first != return_label.__wrapped__("R-2", "A. Bakker", None, SHOP, "nl")


def test_the_mails_attachment_is_this_label(poppler: Path, tmp_path: Path) -> None:
    message = next(m for _, m in scenarios.every_message("nl") if m.data.get("label"))
    (attachment,) = render_message(message.template, message.data, SHOP).attachments
    assert (attachment.filename, attachment.content_type) == ("retourlabel-R-1001.pdf", "application/pdf")
    assert decoded(to_png(poppler, attachment.content, tmp_path)) == {"Code128": "R-1001", "QRCode": "R-1001"}
    assert "J. de Vries" in pdf_text(poppler, attachment.content, tmp_path)
