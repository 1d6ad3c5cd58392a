"""The blob store of customers' photos: the port every adapter implements (folder.py, s3.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class StoredPhoto:
    ref: str  # the reference recorded in the case: "photo:<key>"
    key: str  # "<return_id>/<line_id>/<sha256 hex>.<ext>"
    content_type: str  # image/jpeg | image/png | image/webp
    size: int


class PhotoStore(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes: ...  # KeyError when absent

    async def delete_prefix(self, prefix: str) -> int: ...  # how many objects deleted


REF_PREFIX = "photo:"


def photo_ref(key: str) -> str:
    return f"{REF_PREFIX}{key}"


def key_of_ref(ref: str) -> str | None:
    """The store key a case's photo reference names, or None for a reference of another kind
    (a file name the shop sent)."""
    return ref[len(REF_PREFIX) :] if ref.startswith(REF_PREFIX) else None
