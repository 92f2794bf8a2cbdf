"""Gallery faces: listed, shown, deleted, and as JPEGs (crop and source, audited views)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from PIL import Image as PILImage

from facelens.api.deps import ServiceDep, allowed, caller_of
from facelens.api.links import with_links
from facelens.api.params import JPEG_RESPONSE, DbId
from facelens.api.schemas import FaceOut, FacesRemovedOut
from facelens.api.service import Service
from facelens.errors import InvalidArgumentError
from facelens.pipeline.crops import face_crop, jpeg_bytes
from facelens.security.accounts import Action
from facelens.store.base import FaceRecord
from facelens.types import Account, to_jsonable

THUMBNAIL_PX = 160
router = APIRouter(tags=["faces"])
Browser = Annotated[Account, Depends(allowed(Action.BROWSE))]
# Seeing a face's pixels takes the search permission, not browsing's.
Searcher = Annotated[Account, Depends(allowed(Action.SEARCH))]


@router.get("/faces", response_model=list[FaceOut])
def get_faces(
    svc: ServiceDep, _: Browser, image_id: DbId | None = None, person_id: DbId | None = None
) -> list[dict[str, Any]]:
    """Accepted faces of an image or of a person."""
    if image_id is None and person_id is None:
        raise InvalidArgumentError("give image_id or person_id")
    ids = svc.engine.accepted_face_ids(image_id=image_id, person_id=person_id)
    records = svc.engine.face_records(ids)
    return [with_links(to_jsonable(records[i])) for i in ids if i in records]


@router.get("/faces/{face_id}", response_model=FaceOut)
def get_face(face_id: DbId, svc: ServiceDep, _: Browser) -> dict[str, Any]:
    return dict(with_links(to_jsonable(svc.engine.face_record(face_id))))


@router.delete("/faces/{face_id}", response_model=FacesRemovedOut)
def delete_face(
    face_id: DbId, svc: ServiceDep, _: Annotated[Account, Depends(allowed(Action.DELETE))]
) -> dict[str, int]:
    with svc.lock:
        svc.engine.face_record(face_id)  # 404 when unknown
        return {"faces_removed": svc.engine.delete(face=face_id)}


@router.get("/faces/{face_id}/thumbnail", **JPEG_RESPONSE)
def get_face_thumbnail(face_id: DbId, svc: ServiceDep, who: Searcher) -> Response:
    """The face, cropped from its source image with some margin, as a JPEG."""
    record, image = _face_source(svc, who, face_id, "thumbnail")
    return _jpeg(face_crop(image, record.box, margin_divisor=3, max_px=THUMBNAIL_PX))


@router.get("/faces/{face_id}/source", **JPEG_RESPONSE)
def get_face_source(face_id: DbId, svc: ServiceDep, who: Searcher) -> Response:
    """The whole image the face was found in, as a JPEG."""
    return _jpeg(_face_source(svc, who, face_id, "source")[1])


def _face_source(
    svc: Service, who: Account, face_id: int, view: str
) -> tuple[FaceRecord, PILImage.Image]:
    record, image = svc.engine.face_source(face_id, caller=caller_of(who), view=view)
    return record, PILImage.fromarray(image)


def _jpeg(image: PILImage.Image) -> Response:
    return Response(
        jpeg_bytes(image), media_type="image/jpeg", headers={"Cache-Control": "no-store"}
    )
