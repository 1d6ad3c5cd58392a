"""PhotoStore in a folder (default `.data/photos`): one file per key, written atomically."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import uuid
from pathlib import Path

# A key is "<return_id>/<line_id>/<sha256>.<ext>": each part of the contract's id characters.
_PART = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _parts(key: str) -> list[str]:
    parts = key.split("/")
    if not parts or any(not _PART.match(p) or p in (".", "..") for p in parts):
        raise ValueError(f"not a photo key: {key!r}")
    return parts


class FolderPhotoStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        return self.root.joinpath(*_parts(key))

    def _put(self, key: str, data: bytes) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)  # a reader never sees half a photo

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._put, key, data)

    async def get(self, key: str) -> bytes:
        try:
            return await asyncio.to_thread(self.path(key).read_bytes)
        except (FileNotFoundError, IsADirectoryError, ValueError):
            raise KeyError(key) from None

    def _delete_prefix(self, prefix: str) -> int:
        prefix = prefix.rstrip("/")
        base = self.root.joinpath(*_parts(prefix)) if prefix else self.root
        if base.is_file():
            base.unlink()
            return 1
        if not base.is_dir():
            return 0
        count = sum(1 for p in base.rglob("*") if p.is_file() and not p.name.endswith(".tmp"))
        shutil.rmtree(base)
        return count

    async def delete_prefix(self, prefix: str) -> int:
        return await asyncio.to_thread(self._delete_prefix, prefix)
