"""Links the API adds to the faces it shows."""

from __future__ import annotations

from typing import Any


def with_links(value: Any) -> Any:
    """Add ``thumbnail_url`` and ``source_url`` to every face (a dict with ``face_id``)."""
    if isinstance(value, dict):
        linked = {k: with_links(v) for k, v in value.items()}
        if "face_id" in linked:
            linked["thumbnail_url"] = f"/faces/{linked['face_id']}/thumbnail"
            linked["source_url"] = f"/faces/{linked['face_id']}/source"
        return linked
    if isinstance(value, list):
        return [with_links(v) for v in value]
    return value
