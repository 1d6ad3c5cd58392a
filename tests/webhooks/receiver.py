"""A shop's webhook receiver for tests: a real HTTP server on a free port that verifies every
request with the `standardwebhooks` package, as a shop would. It can answer 503 for a while, or
go down (stop listening, cut its connections) and come back on the same port."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


@dataclass(frozen=True)
class Received:
    msg_id: str
    payload: dict[str, Any]
    at: float  # time.time() of receipt
    signatures: int  # how many signatures the header carried


@dataclass
class Receiver:
    secrets: list[str]  # any of them verifying is enough (the shop's side of a rotation)
    status: int = 204  # what it answers a verified request
    received: list[Received] = field(default_factory=list)
    rejected: int = 0  # requests whose signature did not verify
    delay: float = 0.0  # seconds before answering: a slow shop, so senders die mid-request
    in_flight: int = 0
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def start(self) -> Receiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Down: no more connections accepted, the open ones cut."""
        if self._server is not None:
            self._server.close()
            for w in list(self._writers):
                w.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    # --- what arrived -----------------------------------------------------------------------
    def first_receipts(self) -> list[Received]:
        """Each message once, in the order it first arrived."""
        seen: set[str] = set()
        out = []
        for r in self.received:
            if r.msg_id not in seen:
                seen.add(r.msg_id)
                out.append(r)
        return out

    def duplicates(self) -> int:
        return sum(n - 1 for n in Counter(r.msg_id for r in self.received).values())

    def sequences_by_case(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for r in self.first_receipts():
            data = r.payload["data"]
            out.setdefault(data["return_id"], []).append(data["sequence"])
        return out

    # --- HTTP/1.1, just enough: request line, headers, Content-Length body, keep-alive ---------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, _, v = line.partition(":")
                        headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.in_flight += 1
                try:
                    status = self._handle(body, headers)
                    if self.delay:
                        await asyncio.sleep(self.delay)
                finally:
                    self.in_flight -= 1
                writer.write(f"HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    def _handle(self, body: bytes, headers: dict[str, str]) -> int:
        payload = None
        for secret in self.secrets:
            with contextlib.suppress(WebhookVerificationError):
                payload = Webhook(secret).verify(body, headers)
                break
        if payload is None:
            self.rejected += 1
            return 401
        if self.status < 300:
            signatures = len(headers["webhook-signature"].split())
            self.received.append(Received(headers["webhook-id"], payload, time.time(), signatures))
        return self.status
