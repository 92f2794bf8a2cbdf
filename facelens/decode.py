"""Decode: path or bytes -> RGB ``uint8`` array of shape (height, width, 3).

EXIF orientation is applied, so boxes refer to the picture as a person sees it. Size limits
are checked before pixels are decoded (Pillow reads the header lazily), so a decompression bomb
is refused without allocating it.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps, UnidentifiedImageError

from facelens.errors import (
    CorruptImageError,
    ImageNotFoundError,
    ImageTooLargeError,
    UnsupportedImageError,
)

RgbImage = npt.NDArray[np.uint8]


def read_image_bytes(path: Path, max_image_bytes: int) -> bytes:
    """Read a file, refusing missing, unreadable or oversized ones with a typed error."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ImageNotFoundError(f"{path}: no such file") from None
    except OSError as exc:
        raise ImageNotFoundError(f"{path}: cannot be read ({exc.strerror})") from None
    if not path.is_file():
        raise ImageNotFoundError(f"{path}: not a regular file")
    if size > max_image_bytes:
        raise ImageTooLargeError(
            f"{path}: {size} bytes is over the limit of {max_image_bytes} bytes "
            "(raise FACELENS_MAX_IMAGE_BYTES to accept it)"
        )
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ImageNotFoundError(f"{path}: cannot be read ({exc.strerror})") from None


def decode_image(
    data: bytes, *, max_image_bytes: int, max_image_pixels: int, name: str = "image"
) -> RgbImage:
    """Decode image bytes to an RGB array, EXIF orientation applied.

    Raises ``ImageTooLargeError``, ``UnsupportedImageError`` or ``CorruptImageError``.
    """
    if len(data) > max_image_bytes:
        raise ImageTooLargeError(
            f"{name}: {len(data)} bytes is over the limit of {max_image_bytes} bytes"
        )
    if not data:
        raise UnsupportedImageError(f"{name}: the file is empty")
    try:
        with warnings.catch_warnings():
            # We enforce our own pixel limit below; Pillow's bomb warning would only be noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise UnsupportedImageError(
            f"{name}: not an image format facelens can read (JPEG, PNG, WebP, BMP, TIFF, GIF)"
        ) from None
    except Image.DecompressionBombError:
        raise ImageTooLargeError(f"{name}: too many pixels to decode safely") from None
    except (OSError, SyntaxError, ValueError) as exc:  # header recognised, then cut short
        raise CorruptImageError(f"{name}: the image data is damaged or truncated ({exc})") from None
    width, height = image.size
    if width * height > max_image_pixels:
        raise ImageTooLargeError(
            f"{name}: {width}x{height} = {width * height} pixels is over the limit of "
            f"{max_image_pixels} pixels (raise FACELENS_MAX_IMAGE_PIXELS to accept it)"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.load()
            rgb = ImageOps.exif_transpose(image).convert("RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise CorruptImageError(f"{name}: the image data is damaged or truncated ({exc})") from None
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))


def load_image(path: Path, *, max_image_bytes: int, max_image_pixels: int) -> RgbImage:
    """Read and decode an image file."""
    data = read_image_bytes(path, max_image_bytes)
    return decode_image(
        data, max_image_bytes=max_image_bytes, max_image_pixels=max_image_pixels, name=str(path)
    )
