"""Thin routes of the file store (docs/api/files.md): a stored file's bytes, for callers who may
read it. Uploads go through the owning domain's routes (a matter's photos: ``POST
/api/v1/matters/{matter_id}/photos``), which decide who may attach what."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from civicgrid.authz.dependencies import require
from civicgrid.authz.principal import Principal
from civicgrid.db import DbSession
from civicgrid.files import service

router = APIRouter(prefix="/api/v1", tags=["files"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in"},
    403: {"description": "Permission missing"},
    404: {"description": "No such file, or not one the caller may read"},
    500: {"description": "file_corrupted: the stored bytes do not match their recorded SHA-256; not served"},
}
FileId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="Stored file id")]


def file_response(engine: Any, session: DbSession, principal: Principal, file_id: str, download: bool) -> Response:
    """The verified bytes of a file with its type, name and a strong ETag (its SHA-256)."""
    stored, content = service.open_file(engine, session, principal, file_id)
    return Response(
        content,
        media_type=stored.content_type,
        headers={
            "Cache-Control": "private, max-age=3600",
            "ETag": f'"{stored.sha256}"',
            "Content-Disposition": service.content_disposition(stored, download),
        },
    )


@router.get("/files/{file_id}", responses={**ERRORS, 200: {"content": {"application/octet-stream": {}}}})
def read_file(
    session: DbSession,
    request: Request,
    file_id: FileId,
    principal: Annotated[Principal, Depends(require("files.read"))],
    download: Annotated[bool, Query(description="attachment (save) instead of inline")] = False,
) -> Response:
    """A stored file's bytes (photo, voice message, agreement, case document), after checking the
    caller may read it and that the bytes are intact."""
    return file_response(request.app.state.engine, session, principal, file_id, download)
