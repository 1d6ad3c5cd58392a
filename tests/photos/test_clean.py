"""Customers' photos: checked by content and size, EXIF location stripped, kept by key."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from photos.clean import PhotoRejected, clean_photo
from photos.folder import FolderPhotoStore
from photos.s3 import S3PhotoStore
from photos.settings import PhotoStoreConfigError, photo_store_from_env
from photos.store import store_photos
from tests.photos.images import gps_of, jpeg_with_gps, png

MB = 1024 * 1024


def test_gps_tags_are_stripped_and_the_photo_stays_a_jpeg() -> None:
    original = jpeg_with_gps()
    assert gps_of(original)[1] == "N"  # the fixture really carries a location
    cleaned, content_type = clean_photo(original, "image/jpeg", 10 * MB)
    assert content_type == "image/jpeg"
    assert gps_of(cleaned) == {}
    with Image.open(io.BytesIO(cleaned)) as image:
        assert image.format == "JPEG" and image.size == (64, 48)
        assert len(image.getexif()) == 0  # no EXIF at all: maker, model, times gone too


def test_too_large_is_refused_before_decoding() -> None:
    with pytest.raises(PhotoRejected) as e:
        clean_photo(jpeg_with_gps(), "image/jpeg", 100)
    assert (e.value.field, e.value.reason) == ("photos", "too_large:100")


@pytest.mark.parametrize("data", [b"%PDF-1.7 not a photo", b"GIF89a" + b"\0" * 40, b"\xff\xd8\xff broken"])
def test_what_is_not_a_jpeg_png_or_webp_is_refused(data: bytes) -> None:
    with pytest.raises(PhotoRejected) as e:
        clean_photo(data, "image/jpeg", MB, field="line-0-photos")
    assert (e.value.field, e.value.reason) == ("line-0-photos", "not_an_image")


def test_the_type_is_the_contents_not_the_declared_one() -> None:
    with pytest.raises(PhotoRejected) as e:
        clean_photo(png(), "image/jpeg", MB)
    assert e.value.reason == "type_mismatch"
    # A browser that does not know says octet-stream: the content decides.
    assert clean_photo(png(), "application/octet-stream", MB)[1] == "image/png"


async def test_folder_store_keeps_photos_by_content_hash(tmp_path: Path) -> None:
    store = FolderPhotoStore(tmp_path / "photos")
    cleaned = clean_photo(jpeg_with_gps(), "image/jpeg", MB)
    (one,) = await store_photos(store, "R-1", "L1", [cleaned])
    assert one.ref == f"photo:{one.key}" and one.key.startswith("R-1/L1/") and one.key.endswith(".jpg")
    assert await store.get(one.key) == cleaned[0]
    again = await store_photos(store, "R-1", "L1", [cleaned])
    assert again == [one]  # the same photo is one object
    with pytest.raises(KeyError):
        await store.get("R-1/L1/absent.jpg")
    with pytest.raises(KeyError):
        await store.get("../../etc/passwd")
    assert await store.delete_prefix("R-1/") == 1
    with pytest.raises(KeyError):
        await store.get(one.key)


def test_store_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RETURNS_PHOTO_STORE", raising=False)
    default = photo_store_from_env(tmp_path)
    assert isinstance(default, FolderPhotoStore) and default.root == tmp_path / "photos"
    monkeypatch.setenv("RETURNS_PHOTO_STORE", f"file://{tmp_path}/elsewhere")
    other = photo_store_from_env(tmp_path)
    assert isinstance(other, FolderPhotoStore) and other.root == tmp_path / "elsewhere"
    monkeypatch.setenv("RETURNS_PHOTO_STORE", "s3://bucket/photos?endpoint=http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    assert isinstance(photo_store_from_env(tmp_path), S3PhotoStore)
    monkeypatch.setenv("RETURNS_PHOTO_STORE", "ftp://host/x")
    with pytest.raises(PhotoStoreConfigError, match="RETURNS_PHOTO_STORE"):
        photo_store_from_env(tmp_path)
