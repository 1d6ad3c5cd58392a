"""Photos in S3-compatible object storage: an adapter of photos.port.PhotoStore.

`S3PhotoStore.from_url("s3://bucket/prefix?endpoint=http://host:port&region=eu-west-1")`; the
credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN when set)
and are never logged or shown in repr. Requests are signed with AWS Signature Version 4 by hand
over httpx (no SDK): PUT and GET of one object, ListObjectsV2 and DeleteObjects for a prefix.
With an endpoint (MinIO, Ceph, moto, ...) objects are addressed path-style
(`endpoint/bucket/key`); without one, AWS's virtual-hosted style
(`https://bucket.s3.region.amazonaws.com/key`). Keys are stored under the URL's prefix."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs, quote, urlsplit
from xml.etree import ElementTree

import httpx

__all__ = ["S3Error", "S3PhotoStore"]

_S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys


class S3Error(RuntimeError):
    """The storage answered an error (status and S3's code; never the credentials)."""


@dataclass(frozen=True)
class _Credentials:
    access_key: str
    secret_key: str
    session_token: str | None

    def __repr__(self) -> str:  # never the secrets
        return "_Credentials(...)"

    @classmethod
    def from_env(cls) -> _Credentials:
        access, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
        if not access or not secret:
            raise ValueError("S3 photos need AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        return cls(access, secret, os.environ.get("AWS_SESSION_TOKEN") or None)


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def _uri(s: str, safe: str = "") -> str:
    """SigV4's URI encoding: every byte but the unreserved characters (and `safe`)."""
    return quote(s, safe="-_.~" + safe)


class S3PhotoStore:
    """PhotoStore on an S3 bucket (photos/port.py): put, get (KeyError when absent) and
    delete_prefix (the number of objects deleted)."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        region: str = "us-east-1",
        endpoint: str | None = None,
        credentials: _Credentials | None = None,
        timeout: float = 30,
        list_page: int = 1000,
    ) -> None:
        if not bucket:
            raise ValueError("S3 photos need a bucket: s3://bucket/prefix")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.region = region
        if endpoint:
            self._base = endpoint.rstrip("/")
            self._bucket_path = "/" + _uri(bucket)
        else:
            self._base = f"https://{bucket}.s3.{region}.amazonaws.com"
            self._bucket_path = ""
        self._credentials = credentials or _Credentials.from_env()
        self._timeout = timeout
        self._list_page = list_page  # keys per ListObjectsV2 answer (at most 1000 at S3)
        self._client: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return f"S3PhotoStore(bucket={self.bucket!r}, prefix={self.prefix!r}, base={self._base!r})"

    @classmethod
    def from_url(cls, url: str) -> S3PhotoStore:
        """`s3://bucket/prefix?endpoint=http://host:port&region=eu-west-1` (endpoint and region
        optional; region defaults to AWS_REGION, else us-east-1)."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(
                f"an S3 photo store URL reads s3://bucket/prefix?endpoint=...&region=..., not {url!r}"
            )
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        unknown = set(query) - {"endpoint", "region"}
        if unknown:
            raise ValueError(f"unknown S3 photo store option(s): {', '.join(sorted(unknown))}")
        return cls(
            parts.netloc,
            parts.path,
            region=query.get("region") or os.environ.get("AWS_REGION") or "us-east-1",
            endpoint=query.get("endpoint") or None,
        )

    async def aclose(self) -> None:
        """Close the HTTP connections (the store opens them again when used)."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # --- the port ------------------------------------------------------------------------------
    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await self._request("PUT", self._object_path(key), body=data, headers={"content-type": content_type})

    async def get(self, key: str) -> bytes:
        response = await self._request("GET", self._object_path(key), missing_ok=True)
        if response.status_code == 404:
            raise KeyError(key)
        return response.content

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every object whose key starts with `prefix` (under the store's own prefix)."""
        deleted = 0
        while True:
            keys = await self._list(self.prefix + prefix)
            if not keys:
                return deleted
            for start in range(0, len(keys), DELETE_BATCH):
                deleted += await self._delete(keys[start : start + DELETE_BATCH])

    async def create_bucket(self) -> None:
        """Create the bucket (a local S3-compatible server, tests); one that is ours already is fine."""
        body = b""
        if self.region != "us-east-1":
            body = (
                '<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                f"<LocationConstraint>{self.region}</LocationConstraint></CreateBucketConfiguration>"
            ).encode()
        try:
            await self._request("PUT", self._bucket_path or "/", body=body)
        except S3Error as e:
            if "BucketAlreadyOwnedByYou" not in str(e):
                raise

    # --- S3 operations -------------------------------------------------------------------------
    def _object_path(self, key: str) -> str:
        if not key or key.startswith("/"):
            raise ValueError(f"a photo key must be a relative path, not {key!r}")
        return f"{self._bucket_path}/{_uri(self.prefix + key, safe='/')}"

    async def _list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        token: str | None = None
        while True:
            query = {"list-type": "2", "max-keys": str(self._list_page), "prefix": prefix}
            if token:
                query["continuation-token"] = token
            response = await self._request("GET", self._bucket_path + "/", query=query)
            root = ElementTree.fromstring(response.content)
            keys += [k.text or "" for k in root.iter(f"{_S3_NS}Key")]
            token = root.findtext(f"{_S3_NS}NextContinuationToken")
            if root.findtext(f"{_S3_NS}IsTruncated") != "true" or not token:
                return keys

    async def _delete(self, keys: list[str]) -> int:
        root = ElementTree.Element("Delete", xmlns=_S3_NS.strip("{}"))
        ElementTree.SubElement(root, "Quiet").text = "true"
        for key in keys:
            ElementTree.SubElement(ElementTree.SubElement(root, "Object"), "Key").text = key
        body = ElementTree.tostring(root, xml_declaration=True, encoding="UTF-8")
        md5 = base64.b64encode(
            hashlib.md5(body, usedforsecurity=False).digest()
        ).decode()  # required by DeleteObjects
        response = await self._request(
            "POST",
            self._bucket_path + "/",
            query={"delete": ""},
            body=body,
            headers={"content-type": "application/xml", "content-md5": md5},
        )
        errors = list(ElementTree.fromstring(response.content).iter(f"{_S3_NS}Error"))
        if errors:
            first = errors[0]
            raise S3Error(
                f"S3 refused to delete {len(errors)} object(s), e.g. {first.findtext(f'{_S3_NS}Key')}: "
                f"{first.findtext(f'{_S3_NS}Code')}"
            )
        return len(keys)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        missing_ok: bool = False,
    ) -> httpx.Response:
        query_string = "&".join(f"{_uri(k)}={_uri(v)}" for k, v in sorted((query or {}).items()))
        url = self._base + path + (f"?{query_string}" if query_string else "")
        signed = self._sign(method, httpx.URL(url).netloc.decode(), path, query_string, body, headers or {})
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout)
        response = await self._client.request(method, url, content=body, headers=signed)
        if response.status_code >= 300 and not (missing_ok and response.status_code == 404):
            code = ""
            if response.content.startswith(b"<"):
                code = ElementTree.fromstring(response.content).findtext("Code") or ""
            raise S3Error(
                f"S3 {method} {self.bucket}{path.removeprefix(self._bucket_path)}: "
                f"{response.status_code} {code}".rstrip()
            )
        return response

    def _sign(
        self,
        method: str,
        host: str,
        path: str,
        query_string: str,
        body: bytes,
        headers: dict[str, str],
        now: datetime | None = None,
    ) -> dict[str, str]:
        """AWS Signature Version 4 headers for one request (path and query already encoded)."""
        now = now or datetime.now(UTC)
        amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        payload_hash = hashlib.sha256(body).hexdigest() if body else _EMPTY_SHA256
        all_headers = {
            **{k.lower(): v.strip() for k, v in headers.items()},
            "host": host,
            "x-amz-date": amz_date,
            "x-amz-content-sha256": payload_hash,
        }
        if self._credentials.session_token:
            all_headers["x-amz-security-token"] = self._credentials.session_token
        names = sorted(all_headers)
        signed_headers = ";".join(names)
        canonical = "\n".join(
            [
                method,
                path or "/",
                query_string,
                "".join(f"{n}:{all_headers[n]}\n" for n in names),
                signed_headers,
                payload_hash,
            ]
        )
        scope = f"{day}/{self.region}/s3/aws4_request"
        to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        key = _hmac(f"AWS4{self._credentials.secret_key}".encode(), day)
        for part in (self.region, "s3", "aws4_request"):
            key = _hmac(key, part)
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        all_headers["authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={self._credentials.access_key}/{scope}, "
            f"SignedHeaders={signed_headers}, Signature={signature}"
        )
        del all_headers["host"]  # httpx sends it from the URL
        return all_headers
