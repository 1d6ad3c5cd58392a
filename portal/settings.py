"""What the portal needs from the environment: the link secret, the shop's brand, the photo store,
the policy (for the withdrawal period) and the photo size limit."""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from domain.policy import Policy, policy_from_bytes
from mail.shop import ShopSettings
from payload.codec import data_dir
from photos.clean import max_bytes_from_env
from photos.port import PhotoStore
from photos.settings import photo_store_from_env
from policies import DEFAULT_POLICY_FILE

SECRET_ENV = "RETURNS_PORTAL_SECRET"
SECRET_FILE = "portal-secret"
_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
DEFAULT_COLOR = "#1d4ed8"  # 7:1 against white text: readable buttons in any shop's portal


class PortalConfigError(ValueError):
    pass


def secret_file(directory: Path) -> Path:
    return directory / SECRET_FILE


def ensure_secret_file(directory: Path) -> Path:
    """The embedded stack's link secret: made once per data dir (owner-only), never printed."""
    path = secret_file(directory)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32) + "\n")
    return path


def portal_secret(directory: Path | None = None) -> bytes:
    """RETURNS_PORTAL_SECRET, else the data dir's portal-secret file; PortalConfigError if neither."""
    value = os.environ.get(SECRET_ENV, "").strip()
    if value:
        return value.encode()
    path = secret_file(directory or data_dir())
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        text = ""
    if not text:
        raise PortalConfigError(
            f"no portal link secret: set {SECRET_ENV} or run worker.py once to make {path}"
        )
    return text.encode()


@dataclass(frozen=True)
class Brand:
    """The shop as its portal shows it: RETURNS_SHOP_NAME, RETURNS_SHOP_LOGO_URL, RETURNS_SHOP_COLOR."""

    name: str
    logo_url: str | None
    color: str

    @classmethod
    def from_env(cls, shop: ShopSettings) -> Brand:
        logo = os.environ.get("RETURNS_SHOP_LOGO_URL", "").strip() or None
        if logo is not None and not logo.startswith(("https://", "http://", "/")):
            raise PortalConfigError("RETURNS_SHOP_LOGO_URL must be an http(s) URL or a path")
        color = os.environ.get("RETURNS_SHOP_COLOR", "").strip() or DEFAULT_COLOR
        if not _COLOR.match(color):
            raise PortalConfigError("RETURNS_SHOP_COLOR must be #RRGGBB")
        return cls(name=shop.name, logo_url=logo, color=color)


@dataclass(frozen=True)
class PortalSettings:
    secret: bytes
    shop: ShopSettings
    brand: Brand
    photos: PhotoStore
    policy: Policy
    max_photo_bytes: int

    @classmethod
    def from_env(cls, directory: Path | None = None) -> PortalSettings:
        directory = directory or data_dir()
        shop = ShopSettings.from_env()
        policy_file = Path(os.environ.get("RETURNS_POLICY", str(DEFAULT_POLICY_FILE)))
        return cls(
            secret=portal_secret(directory),
            shop=shop,
            brand=Brand.from_env(shop),
            photos=photo_store_from_env(directory),
            policy=policy_from_bytes(policy_file.read_bytes()),
            max_photo_bytes=max_bytes_from_env(),
        )
