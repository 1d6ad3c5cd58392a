"""Photos of one item into the store, each under its content hash: the same photo twice is one
object, and a retried upload writes the same key."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from photos.clean import EXTENSIONS
from photos.port import PhotoStore, StoredPhoto, photo_ref


def photo_key(return_id: str, line_id: str, data: bytes, content_type: str) -> str:
    return f"{return_id}/{line_id}/{hashlib.sha256(data).hexdigest()}.{EXTENSIONS[content_type]}"


async def store_photos(
    store: PhotoStore, return_id: str, line_id: str, files: Sequence[tuple[bytes, str]]
) -> list[StoredPhoto]:
    """`files`: cleaned photos (clean_photo's answers). Returns what the case records, in order."""
    stored: list[StoredPhoto] = []
    for data, content_type in files:
        key = photo_key(return_id, line_id, data, content_type)
        await store.put(key, data, content_type)
        stored.append(StoredPhoto(ref=photo_ref(key), key=key, content_type=content_type, size=len(data)))
    return stored
