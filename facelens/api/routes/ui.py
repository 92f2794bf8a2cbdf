"""The web interface: static pages under /ui, and / sends browsers there."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from facelens.web import STATIC_DIR

router = APIRouter()


@router.get("/", include_in_schema=False)
def home() -> RedirectResponse:
    return RedirectResponse("/ui/")


def mount(app: FastAPI) -> None:
    """A mount, not a route: ``include_router`` does not carry mounts over."""
    app.mount("/ui", StaticFiles(directory=STATIC_DIR, html=True), name="ui")
