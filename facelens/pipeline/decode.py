"""Decode: path or bytes -> RGB ``uint8`` array of shape (height, width, 3).

EXIF orientation is applied, so boxes refer to the picture as a person sees it. Size limits
(pixels, and the memory decoding would take) are checked before pixels are decoded (Pillow
reads the header lazily), so a decompression bomb is refused without allocating it. 16-bit,
32-bit and float greyscale are scaled to 8 bits by their bit depth or range, not clipped. Of an
animated or multi-page file, the first frame is decoded, and a warning says so.
"""

from __future__ import annotations

import io
import logging
import warnings
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps, UnidentifiedImageError

from facelens.config import DEFAULT_MAX_DECODE_BYTES
from facelens.errors import (
    CorruptImageError,
    ImageNotFoundError,
    ImageTooLargeError,
    UnsupportedImageError,
)

RgbImage = npt.NDArray[np.uint8]

log = logging.getLogger(__name__)

#: Greyscale modes wider than 8 bits, which Pillow's convert("RGB") clips instead of scales.
WIDE_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I", "F"})


def decode_bytes_needed(mode: str, width: int, height: int) -> int:
    """Memory decoding takes, from the header: the decoded picture as Pillow holds it (1 byte a
    pixel for 8-bit single-band modes, 2 for 16-bit, 4 otherwise), its RGB copy (4 bytes a
    pixel in Pillow), and the RGB array handed on (3); wide modes add a float working copy."""
    source = 1 if mode in {"1", "L", "P"} else 2 if mode.startswith("I;16") else 4
    working = 4 if mode in WIDE_MODES else 0
    return width * height * (source + working + 4 + 3)


def to_8bit(image: Image.Image) -> Image.Image:
    """A wide greyscale picture as 8-bit ``L``: 16-bit data by its bit depth, 32-bit integers
    by 16-bit depth when they fit it and by their range otherwise, floats by 0..1 when they lie
    in it and by their range otherwise (so a photo stays a photo, not a white or black page)."""
    if image.mode not in WIDE_MODES:
        return image
    values = np.asarray(image, dtype=np.float32)
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    if image.mode.startswith("I;16"):
        lo, hi = 0.0, 65535.0
    elif image.mode == "I" and low >= 0 and high <= 255:
        lo, hi = 0.0, 255.0
    elif image.mode == "I" and low >= 0 and high <= 65535:
        lo, hi = 0.0, 65535.0
    elif image.mode == "F" and low >= 0 and high <= 1:
        lo, hi = 0.0, 1.0
    else:
        lo, hi = low, high
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    scaled = np.nan_to_num((values - lo) * scale, nan=0.0, posinf=255.0, neginf=0.0)
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8))


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
    data: bytes,
    *,
    max_image_bytes: int,
    max_image_pixels: int,
    max_decode_bytes: int = DEFAULT_MAX_DECODE_BYTES,
    name: str = "image",
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
    needed = decode_bytes_needed(image.mode, width, height)
    if needed > max_decode_bytes:
        raise ImageTooLargeError(
            f"{name}: decoding {width}x{height} pixels ({image.mode}) takes about {needed} "
            f"bytes of memory, over the limit of {max_decode_bytes} bytes (raise "
            "FACELENS_MAX_DECODE_BYTES to accept it)"
        )
    frames = getattr(image, "n_frames", 1)
    if frames > 1:  # per-frame faces would need the store to tell frames apart
        log.warning(
            "%s: %d frames (animated or multi-page); faces were searched in the first only",
            name,
            frames,
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.load()
            rgb = to_8bit(ImageOps.exif_transpose(image)).convert("RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise CorruptImageError(f"{name}: the image data is damaged or truncated ({exc})") from None
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))


def load_image(
    path: Path,
    *,
    max_image_bytes: int,
    max_image_pixels: int,
    max_decode_bytes: int = DEFAULT_MAX_DECODE_BYTES,
) -> RgbImage:
    """Read and decode an image file."""
    data = read_image_bytes(path, max_image_bytes)
    return decode_image(
        data,
        max_image_bytes=max_image_bytes,
        max_image_pixels=max_image_pixels,
        max_decode_bytes=max_decode_bytes,
        name=str(path),
    )
