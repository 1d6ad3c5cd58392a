"""The shop as its customers' messages name it: name, reply address, return address, photo upload."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_NAME = "Demo Shop"
DEFAULT_EMAIL = "returns@shop.example"
DEFAULT_RETURN_ADDRESS = ("Afdeling Retouren", "Retourweg 1", "1234 AB Amsterdam", "Nederland")


@dataclass(frozen=True)
class ShopSettings:
    name: str = DEFAULT_NAME
    # The reply address and the From of every message.
    email: str = DEFAULT_EMAIL
    # Where parcels go: the return label's addressee, one line each.
    return_address: tuple[str, ...] = DEFAULT_RETURN_ADDRESS
    # A link template with {return_id}; None: the customer replies with the photo by e-mail.
    photo_upload_url: str | None = None

    def upload_link(self, return_id: str) -> str | None:
        if not self.photo_upload_url:
            return None
        return self.photo_upload_url.replace("{return_id}", return_id)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ShopSettings:
        """RETURNS_SHOP_NAME, RETURNS_SHOP_EMAIL, RETURNS_SHOP_RETURN_ADDRESS (lines separated by
        "\\n", a real newline or the two characters), RETURNS_PHOTO_UPLOAD_URL (with {return_id});
        each unset or blank one keeps the embedded default."""
        env = os.environ if env is None else env
        address = env.get("RETURNS_SHOP_RETURN_ADDRESS", "").replace("\\n", "\n")
        lines = tuple(line.strip() for line in address.splitlines() if line.strip())
        upload = env.get("RETURNS_PHOTO_UPLOAD_URL", "").strip()
        if upload and "{return_id}" not in upload:
            raise ValueError("RETURNS_PHOTO_UPLOAD_URL must contain {return_id}")
        return cls(
            name=env.get("RETURNS_SHOP_NAME", "").strip() or DEFAULT_NAME,
            email=env.get("RETURNS_SHOP_EMAIL", "").strip() or DEFAULT_EMAIL,
            return_address=lines or DEFAULT_RETURN_ADDRESS,
            photo_upload_url=upload or None,
        )
