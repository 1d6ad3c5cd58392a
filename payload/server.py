"""Codec server: lets the Temporal Web UI and CLI show encrypted payloads to ops who hold the token.

    python -m payload.server [--host 127.0.0.1] [--port 8234]

Env: RETURNS_CODEC_TOKEN (required), RETURNS_CODEC_KEYS (or the data dir's key file),
RETURNS_CODEC_CORS_ORIGINS (the UI's origins, comma-separated; default the dev UI on 8233).

Temporal codec-server protocol: POST .../encode and .../decode with Payloads as protobuf JSON;
only the last path segment names the operation. The token is accepted as a path segment (the UI's
codec endpoint setting is then ``http://host:port/<token>``: the dev UI has no other way to send a
secret) or as ``Authorization: Bearer <token>`` (``temporal --codec-auth``).
"""

from __future__ import annotations

import argparse
import hmac
import json
import logging
import os
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from payload.codec import CodecError, Keyring

TOKEN_ENV = "RETURNS_CODEC_TOKEN"
ORIGINS_ENV = "RETURNS_CODEC_CORS_ORIGINS"
DEFAULT_ORIGINS = ("http://localhost:8233", "http://127.0.0.1:8233")
DEFAULT_PORT = 8234
MAX_BODY = 8 * 1024 * 1024  # a whole history's payloads fit; anything larger is refused

log = logging.getLogger("codec_server")


class CodecServer:
    """The HTTP server; ``origins`` may be changed while it runs (the embedded stack learns the
    UI's port only after handing the dev server this server's address)."""

    def __init__(
        self,
        keyring: Keyring,
        token: str,
        origins: set[str] | None = None,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
    ) -> None:
        if not token:
            raise ValueError(f"{TOKEN_ENV}: a codec server needs a token")
        self.keyring = keyring
        self.token = token
        self.origins = set(origins if origins is not None else DEFAULT_ORIGINS)
        self.httpd = ThreadingHTTPServer((host, port), _handler(self))
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def endpoint(self) -> str:
        """What the UI's codec endpoint setting holds."""
        return f"{self.url}/{self.token}"

    def authorised(self, path: str, authorization: str | None) -> bool:
        if authorization is not None and authorization.startswith("Bearer "):
            return hmac.compare_digest(authorization[7:].encode(), self.token.encode())
        segments = path.split("?", 1)[0].strip("/").split("/")[:-1]
        return any(hmac.compare_digest(s.encode(), self.token.encode()) for s in segments)

    def start(self) -> CodecServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="codec-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join()


def _handler(server: CodecServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _cors(self) -> None:
            origin = self.headers.get("Origin")
            if origin is not None and origin in server.origins:
                self.send_header("Access-Control-Allow-Origin", origin)
                self.send_header("Access-Control-Allow-Credentials", "true")
                self.send_header("Vary", "Origin")

        def _reply(self, status: HTTPStatus, body: str = "") -> None:
            data = body.encode()
            self.send_response(status)
            self._cors()
            json_body = status == HTTPStatus.OK and self.command == "POST"
            self.send_header("Content-Type", "application/json" if json_body else "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_OPTIONS(self) -> None:  # CORS preflight: carries no credentials by design
            if self.headers.get("Origin") not in server.origins:
                self._reply(HTTPStatus.FORBIDDEN, "origin not allowed")
                return
            self.send_response(HTTPStatus.NO_CONTENT)
            self._cors()
            self.send_header("Access-Control-Allow-Methods", "POST")
            self.send_header("Access-Control-Allow-Headers", "content-type,x-namespace,authorization")
            self.send_header("Access-Control-Max-Age", "600")
            self.end_headers()

        def do_GET(self) -> None:  # the container's health check; tells nothing about keys
            if self.path == "/health":
                self._reply(HTTPStatus.OK, "ok")
            else:
                self._reply(HTTPStatus.NOT_FOUND, "POST .../encode or .../decode")

        def do_POST(self) -> None:
            operation = self.path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
            if operation not in ("encode", "decode"):
                self._reply(HTTPStatus.NOT_FOUND, "POST .../encode or .../decode")
                return
            if not server.authorised(self.path, self.headers.get("Authorization")):
                self._reply(HTTPStatus.UNAUTHORIZED, "codec token missing or wrong")
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body above {MAX_BODY} bytes")
                return
            try:
                payloads = json_format.Parse(self.rfile.read(length), Payloads())
                change = server.keyring.encrypt if operation == "encode" else server.keyring.decrypt
                out = Payloads(payloads=[change(p) for p in payloads.payloads])
            except (json_format.ParseError, CodecError, UnicodeDecodeError) as e:
                self._reply(HTTPStatus.BAD_REQUEST, str(e))
                return
            self._reply(HTTPStatus.OK, json_format.MessageToJson(out))

        def log_message(self, format: str, *args: object) -> None:
            pass  # the default logs the path, and the path may hold the token

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            operation = self.path.split("?", 1)[0].rsplit("/", 1)[-1]
            log.info("%s %s -> %s", self.command, operation, code)

    return Handler


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m payload.server", description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = p.parse_args(argv)
    try:
        keyring = Keyring.from_env()
        if not keyring:
            raise CodecError("no keys: set RETURNS_CODEC_KEYS (the worker's keys)")
        origins = {o.strip() for o in os.environ.get(ORIGINS_ENV, ",".join(DEFAULT_ORIGINS)).split(",")}
        server = CodecServer(keyring, os.environ.get(TOKEN_ENV, ""), origins - {""}, args.host, args.port)
    except (CodecError, ValueError, OSError) as e:
        print(f"codec server: {e}", file=sys.stderr)
        return 2
    print(
        json.dumps({"codec_server": server.url, "keys": keyring.key_ids, "origins": sorted(server.origins)}),
        flush=True,
    )
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(main(sys.argv[1:]))
