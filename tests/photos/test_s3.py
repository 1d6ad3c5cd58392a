"""photos/s3.py against a real S3-compatible server process (moto's server on a free port): put,
get, a missing key, delete_prefix, the object's bytes; and its SigV4 signatures equal botocore's
(moto does not check signatures, so the signer is checked against AWS's own implementation)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import httpx
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from photos.s3 import S3PhotoStore

pytestmark = pytest.mark.slow  # a server process of its own


class PhotoStore(Protocol):
    """A local copy of photos/port.py's port (the portal's branch has the file): S3PhotoStore
    must satisfy it structurally."""

    async def put(self, key: str, data: bytes, content_type: str) -> None: ...
    async def get(self, key: str) -> bytes: ...
    async def delete_prefix(self, prefix: str) -> int: ...


@dataclass
class Moto:
    endpoint: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, "moto's server exited"
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(endpoint + "/moto-api/", timeout=2).status_code < 500:
                    break
            assert time.monotonic() < deadline, "moto's server did not answer within 60 s"
            time.sleep(0.2)
        yield Moto(endpoint)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)


async def test_put_get_missing_and_delete_prefix(moto: Moto, aws_env: None) -> None:
    s3 = S3PhotoStore.from_url(f"s3://photos/shop-a/?endpoint={moto.endpoint}&region=eu-west-1")
    await s3.create_bucket()
    await s3.create_bucket()  # already ours: fine
    store: PhotoStore = s3
    jpeg = b"\xff\xd8\xff\xe0" + os.urandom(50_000) + b"\xff\xd9"
    await store.put("R-1/L1/1.jpg", jpeg, "image/jpeg")
    await store.put("R-1/L1/2 ü+&=.png", b"\x89PNG\r\n", "image/png")  # keys that need encoding
    await store.put("R-10/L1/1.jpg", b"other case", "image/jpeg")
    assert await store.get("R-1/L1/1.jpg") == jpeg
    assert await store.get("R-1/L1/2 ü+&=.png") == b"\x89PNG\r\n"
    with pytest.raises(KeyError):
        await store.get("R-1/L1/3.jpg")

    # Stored under the store's prefix, with the content type given.
    raw = await s3._request("GET", "/photos/shop-a/R-1/L1/1.jpg")
    assert raw.content == jpeg and raw.headers["content-type"] == "image/jpeg"

    assert await store.delete_prefix("R-1/") == 2
    with pytest.raises(KeyError):
        await store.get("R-1/L1/1.jpg")
    assert await store.get("R-10/L1/1.jpg") == b"other case"  # R-10 is not under R-1/
    assert await store.delete_prefix("R-1/") == 0
    await s3.aclose()


async def test_delete_prefix_pages_through_more_than_one_listing(moto: Moto, aws_env: None) -> None:
    store = S3PhotoStore("many", endpoint=moto.endpoint, list_page=2)  # S3 pages 1000 keys
    await store.create_bucket()
    for n in range(5):
        await store.put(f"R-7/{n}.jpg", b"x", "image/jpeg")
    assert await store.delete_prefix("R-7") == 5
    with pytest.raises(KeyError):
        await store.get("R-7/0.jpg")
    await store.aclose()


def test_signature_is_botocores(aws_env: None) -> None:
    store = S3PhotoStore.from_url("s3://photos/p?endpoint=http://127.0.0.1:9000&region=eu-west-1")
    at = datetime(2026, 12, 2, 7, 30, tzinfo=UTC)
    body = b"photo bytes"
    for method, path, query, data, headers in [
        ("PUT", "/photos/p/R-1/L1/a%20b%C3%BC.jpg", "", body, {"content-type": "image/jpeg"}),
        ("GET", "/photos/", "continuation-token=a%2Fb&list-type=2&prefix=p%2FR-1", b"", {}),
    ]:
        ours = store._sign(method, "127.0.0.1:9000", path, query, data, headers, now=at)
        request = AWSRequest(
            method=method,
            url=f"http://127.0.0.1:9000{path}" + (f"?{query}" if query else ""),
            data=data,
            headers={k: v for k, v in ours.items() if k != "authorization"},
        )
        request.context["timestamp"] = at.strftime("%Y%m%dT%H%M%SZ")
        auth = S3SigV4Auth(Credentials("AKIDEXAMPLE", os.environ["AWS_SECRET_ACCESS_KEY"]), "s3", "eu-west-1")
        canonical = auth.canonical_request(request)
        expected = auth.signature(auth.string_to_sign(request, canonical), request)
        assert ours["authorization"].endswith(f"Signature={expected}"), canonical


def test_from_url_and_credentials(monkeypatch: pytest.MonkeyPatch, aws_env: None) -> None:
    store = S3PhotoStore.from_url("s3://bucket/a/b?region=eu-central-1")
    assert (store.bucket, store.prefix, store.region) == ("bucket", "a/b/", "eu-central-1")
    assert "bucket.s3.eu-central-1.amazonaws.com" in repr(store)
    assert "wJalr" not in repr(store) and "AKID" not in repr(store)
    with pytest.raises(ValueError, match="s3://bucket/prefix"):
        S3PhotoStore.from_url("http://bucket/a")
    with pytest.raises(ValueError, match="unknown S3 photo store option"):
        S3PhotoStore.from_url("s3://bucket?endpoint=http://x&colour=blue")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(ValueError, match="AWS_SECRET_ACCESS_KEY"):
        S3PhotoStore.from_url("s3://bucket")
