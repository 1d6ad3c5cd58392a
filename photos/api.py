"""GET /v1/returns/{id}/photos/{key}: a photo a customer uploaded for the case (webshop, ops), by
the key its reference names (`photo:<key>` in the case's items)."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from api import problems
from api.auth import Principal, require
from api.problems import Problem
from api.returns import ReturnId
from payload.codec import data_dir
from photos.clean import EXTENSIONS
from photos.port import PhotoStore
from photos.settings import PhotoStoreConfigError, photo_store_from_env
from store import read_model

router = APIRouter(prefix="/v1/returns", tags=["photos"])
WEBSHOP_OR_OPS = require("webshop", "ops")
CONTENT_TYPES = {ext: content_type for content_type, ext in EXTENSIONS.items()}

PhotoKey = Annotated[
    str,
    Path(
        min_length=1,
        max_length=400,
        pattern=r"^[A-Za-z0-9._:-]+/[A-Za-z0-9._:-]+/[0-9a-f]{64}\.(jpg|png|webp)$",
        description="the key of a photo reference `photo:<key>`: <return_id>/<line_id>/<sha256>.<ext>",
        examples=[f"R-API-EXAMPLE/L1/{'0' * 64}.jpg"],
    ),
]


def photo_store(request: Request) -> PhotoStore:
    """The portal's store when it is configured, else RETURNS_PHOTO_STORE's (made once)."""
    state = request.app.state
    portal = getattr(state, "portal", None)
    if portal is not None:
        store: PhotoStore = portal.photos
        return store
    found: PhotoStore | None = getattr(state, "photo_store", None)
    if found is None:
        found = photo_store_from_env(data_dir())
        state.photo_store = found
    return found


@router.get(
    "/{return_id}/photos/{key:path}",
    name="photo",
    summary="A photo the customer uploaded for the case (webshop, ops)",
    response_class=Response,
    responses={
        200: {
            "description": "the photo, EXIF-free",
            "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in EXTENSIONS},
        },
        **problems.responses(401, 403, 404, 422, 503),
    },
)
async def photo(
    request: Request,
    return_id: ReturnId,
    key: PhotoKey,
    principal: Annotated[Principal, Depends(WEBSHOP_OR_OPS)],
) -> Response:
    if not key.startswith(f"{return_id}/"):
        raise Problem(404, f"no photo {key} of return case {return_id}")
    try:
        if await read_model.get_case(request.app.state.pool, return_id) is None:
            raise Problem(404, f"no return case {return_id}")
        data = await photo_store(request).get(key)
    except KeyError:
        raise Problem(404, f"no photo {key} of return case {return_id}") from None
    except (OSError, asyncpg.PostgresConnectionError, PhotoStoreConfigError) as e:
        raise Problem(503, f"the photo store is unavailable: {type(e).__name__}") from None
    content_type = CONTENT_TYPES[key.rsplit(".", 1)[1]]
    return Response(data, media_type=content_type, headers={"Cache-Control": "private, max-age=3600"})
