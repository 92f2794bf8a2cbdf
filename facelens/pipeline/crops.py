"""Face crops for people to look at (result thumbnails, subject access exports)."""

from __future__ import annotations

import io

from PIL import Image as PILImage

from facelens.types import Box


def face_crop(
    image: PILImage.Image, box: Box, *, margin_divisor: int, max_px: int
) -> PILImage.Image:
    """The face in ``box`` with a margin of its short side // ``margin_divisor`` around it,
    clipped to the image and shrunk to fit ``max_px`` square."""
    margin = box.short_side // margin_divisor
    crop = image.crop(
        (
            max(0, box.x1 - margin),
            max(0, box.y1 - margin),
            min(image.width, box.x2 + margin),
            min(image.height, box.y2 + margin),
        )
    )
    crop.thumbnail((max_px, max_px))
    return crop


def jpeg_bytes(image: PILImage.Image) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=85)
    return out.getvalue()
