"""A customer's photo made safe to keep: at most the size limit, an image by its content (not by
the type the browser declared), re-encoded by Pillow without its metadata, so EXIF location (GPS)
and everything else personal in it is gone."""

from __future__ import annotations

import io
import os

from PIL import Image, ImageOps, UnidentifiedImageError

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
MAX_BYTES_ENV = "RETURNS_PHOTO_MAX_BYTES"
# Pillow's format -> the content type kept, and the file extension.
FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}
EXTENSIONS = {content_type: ext for content_type, ext in FORMATS.values()}
# A decompression bomb is refused, not decoded (50 megapixels is more than any phone camera).
MAX_PIXELS = 50_000_000


class PhotoRejected(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


def max_bytes_from_env() -> int:
    value = os.environ.get(MAX_BYTES_ENV, "").strip()
    return int(value) if value else DEFAULT_MAX_BYTES


def clean_photo(data: bytes, declared_type: str, max_bytes: int, field: str = "photos") -> tuple[bytes, str]:
    """(the cleaned bytes, their content type), or PhotoRejected naming the field and why: too
    large, not a JPEG/PNG/WebP image, or another type than declared."""
    if len(data) > max_bytes:
        raise PhotoRejected(field, f"too_large:{max_bytes}")
    if not data:
        raise PhotoRejected(field, "empty")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind = probe.format
            probe.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise PhotoRejected(field, "not_an_image") from None
    if kind not in FORMATS:
        raise PhotoRejected(field, "not_an_image")
    content_type, _ = FORMATS[kind]
    declared = declared_type.split(";")[0].strip().lower()
    if declared and declared not in ("application/octet-stream", content_type):
        raise PhotoRejected(field, "type_mismatch")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_PIXELS:
                raise PhotoRejected(field, "too_large_pixels")
            # The orientation is applied to the pixels, so dropping EXIF keeps the photo upright.
            upright = ImageOps.exif_transpose(image)
            out = io.BytesIO()
            if kind == "JPEG":
                rgb = upright.convert("RGB") if upright.mode not in ("RGB", "L") else upright
                rgb.save(out, "JPEG", quality=90)  # no exif= argument: no EXIF, no GPS
            elif kind == "PNG":
                upright.save(out, "PNG")  # text chunks and eXIf are not copied
            else:
                upright.save(out, "WEBP", quality=90)
    except PhotoRejected:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise PhotoRejected(field, "not_an_image") from None
    return out.getvalue(), content_type
