"""413 for a body over the limit, before anything parses it: the declared Content-Length is
checked first, and streamed bytes are counted for bodies without one."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import Problem

DEFAULT_MAX_BODY = 256 * 1024


class _TooLarge(Problem):
    """Raised while the app reads the body; rendered by the Problem handler (or below)."""


class MaxBodySize:
    """`by_prefix`: another limit for paths under a prefix (the portal's photo uploads)."""

    def __init__(
        self, app: ASGIApp, limit: int = DEFAULT_MAX_BODY, by_prefix: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.default = limit
        self.by_prefix = dict(by_prefix or {})

    def _problem(self, limit: int) -> Problem:
        return Problem(413, f"request body larger than {limit} bytes")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        limit = next((n for prefix, n in self.by_prefix.items() if path.startswith(prefix)), self.default)
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    await self._problem(limit).response(scope.get("path"))(scope, receive, send)
                    return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge(413, f"request body larger than {limit} bytes")
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge as e:
            if not started:
                await e.response(scope.get("path"))(scope, receive, send)
