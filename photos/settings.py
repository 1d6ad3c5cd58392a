"""Which photo store: RETURNS_PHOTO_STORE unset or `file:///path` is a folder (default
`<data dir>/photos`), `s3://bucket/prefix?endpoint=...` S3-compatible storage (photos/s3.py)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from photos.folder import FolderPhotoStore
from photos.port import PhotoStore
from photos.s3 import S3PhotoStore

STORE_ENV = "RETURNS_PHOTO_STORE"


class PhotoStoreConfigError(ValueError):
    pass


def photo_store_from_env(data_dir: Path) -> PhotoStore:
    url = os.environ.get(STORE_ENV, "").strip()
    if not url:
        return FolderPhotoStore(data_dir / "photos")
    parts = urlsplit(url)
    if parts.scheme == "file":
        if not parts.path:
            raise PhotoStoreConfigError(f"{STORE_ENV}: a file:/// URL needs a path")
        return FolderPhotoStore(Path(unquote(parts.path)))
    if parts.scheme == "s3":
        return S3PhotoStore.from_url(url)
    raise PhotoStoreConfigError(
        f"{STORE_ENV}: use file:///path or s3://bucket/prefix?endpoint=..., got {parts.scheme!r}"
    )
