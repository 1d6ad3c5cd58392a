"""RFC 9457 problem details: every error the API answers is `application/problem+json`.

Raise `Problem(status, title, detail, **extensions)` anywhere in a route or dependency;
`install(app)` renders it, and turns FastAPI's validation errors (422, the CLI's text) and
Starlette's HTTP errors (404 route, 405) into problems too.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.request import as_line
from domain.request import field_errors as request_field_errors

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"

# Route name -> the start of its 422 line ("invalid ChooseResolution"); default "invalid request".
INVALID_PREFIX: dict[str, str] = {}

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class FieldError(BaseModel):
    field: str
    message: str


class ProblemModel(BaseModel):
    """The body of every error answer (RFC 9457); extensions as the status calls for."""

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None
    current_status: str | None = None


class Problem(Exception):
    def __init__(
        self,
        status: int,
        detail: str,
        title: str | None = None,
        type: str = "about:blank",
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title or TITLES.get(status, "Error")
        self.detail = detail
        self.type = type
        self.headers = headers or {}
        self.extensions = extensions

    def body(self, instance: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status}
        out["detail"] = self.detail
        if instance is not None:
            out["instance"] = instance
        out.update(self.extensions)
        return out

    def response(self, instance: str | None = None) -> JSONResponse:
        return JSONResponse(
            self.body(instance), status_code=self.status, media_type=MEDIA_TYPE, headers=self.headers
        )


def field_errors(errors: Any, prefix: str = "invalid request") -> tuple[str, list[dict[str, str]]]:
    """The CLI's line (domain.request.describe) and the per-field list, from pydantic-style
    errors (FastAPI's own included)."""
    found = request_field_errors(errors)
    return as_line(found, prefix), [{"field": f, "message": m} for f, m in found]


def invalid(detail: str, errors: list[dict[str, str]] | None = None) -> Problem:
    """422 for input that names its fields; `errors` defaults to parsing the CLI line back."""
    if errors is None:
        errors = []
        head, sep, rest = detail.partition(": ")
        for part in (rest if head.startswith("invalid ") and sep else detail).split("; "):
            field, sep, message = part.partition(": ")
            errors.append({"field": field, "message": message} if sep else {"field": "", "message": part})
    return Problem(422, detail, errors=errors)


def _instance(request: Request) -> str:
    return request.url.path


async def _problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return exc.response(_instance(request))


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    route = request.scope.get("route")
    prefix = INVALID_PREFIX.get(getattr(route, "name", ""), "invalid request")
    detail, errors = field_errors(exc.errors(), prefix)
    return invalid(detail, errors).response(_instance(request))


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no route {request.method} {request.url.path}"
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    return Problem(exc.status_code, detail, headers=dict(exc.headers or {})).response(_instance(request))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    return Problem(500, "internal error; the request may not have been applied").response(_instance(request))


def install(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _problem)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)  # a bug: still a problem+json, logged


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for a route: each status answers a problem+json body."""
    return {
        s: {
            "description": TITLES.get(s, "Error"),
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for s in statuses
    }


def add_schema(doc: dict[str, Any], model: type[BaseModel] = ProblemModel, name: str = "Problem") -> None:
    """Put a model's schema (and what it refers to) into an OpenAPI document's components, as
    `name` (the shared Problem by default; also a body a route reads itself)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="validation")
    defs = schema.pop("$defs", {})
    components = doc.setdefault("components", {}).setdefault("schemas", {})
    for key, value in defs.items():
        if key in components and components[key] != value:
            raise ValueError(f"OpenAPI component {key} would have two schemas")
        components[key] = value
    components[name] = schema
