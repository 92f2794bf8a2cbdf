"""Uploaded photos: read within ``max_image_bytes``, or kept under the data folder as the
source that search results point to."""

from __future__ import annotations

import hashlib
from pathlib import Path

from fastapi import UploadFile

from facelens.api.service import Service
from facelens.errors import ImageTooLargeError

_UPLOAD_CHUNK_BYTES = 1024 * 1024


async def read_upload(svc: Service, upload: UploadFile) -> bytes:
    """The upload's bytes, refused past ``max_image_bytes`` without reading the rest."""
    limit = svc.settings.max_image_bytes
    chunks, size = [], 0
    while chunk := await upload.read(_UPLOAD_CHUNK_BYTES):
        size += len(chunk)
        if size > limit:
            raise ImageTooLargeError(
                f"{upload.filename}: larger than max_image_bytes ({limit} bytes)"
            )
        chunks.append(chunk)
    return b"".join(chunks)


async def save_upload(svc: Service, upload: UploadFile) -> Path:
    """Keep an uploaded photo under the data folder (by content hash): it is the source that
    search results point to."""
    data = await read_upload(svc, upload)
    # Kept under its content hash, with its own (sanitised) name so people recognise it.
    name = "".join(c if c.isalnum() or c in "._-" else "_" for c in (upload.filename or ""))
    folder = svc.uploads / hashlib.sha256(data).hexdigest()
    path = folder / (name.lstrip(".")[-120:] or "upload")
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / ".part"
        tmp.write_bytes(data)
        tmp.replace(path)
    return path
